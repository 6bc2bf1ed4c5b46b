"""The index's settings: what a manifest's ``settings`` section records and how it is read back
(see docs/design.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .chunking import ChunkSettings
from .defaults import NEW_INDEX_FUSION
from .dense import DEFAULT_THRESHOLD
from .embedding import default_backend, resolve_backend
from .errors import QAError
from .lexical import BM25Settings
from .prompts import Prompts


@dataclass(frozen=True)
class IndexSettings:
    model: str
    dim: int
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    bm25: BM25Settings = field(default_factory=BM25Settings)
    title_in_passage: bool = True
    #: Embedding backend the passages were embedded with ("torch", "onnx", "onnx-int8"); queries
    #: should use the same one.
    embedding_backend: str = field(default_factory=default_backend)
    #: Requested dense index: ``kind`` auto|flat|hnsw|ivf and the ``threshold`` for auto. What was
    #: actually built is in the manifest's "dense" entry.
    dense: dict[str, Any] = field(default_factory=lambda: {"kind": "auto", "threshold": DEFAULT_THRESHOLD})
    #: Hybrid fusion (``qa.fusion.Fusion.to_dict()``): a new index records
    #: :data:`~index.defaults.NEW_INDEX_FUSION`; a manifest without it (built before issue 13)
    #: reads as empty, which ``Fusion.from_dict`` takes as RRF. ``qa index --fusion``, ``qa eval
    #: --sweep --apply`` and ``Engine.set_fusion`` write it, and every surface reads it.
    fusion: dict[str, Any] = field(default_factory=lambda: dict(NEW_INDEX_FUSION))
    #: Answer settings (``qa.engine.answer_settings``): ``threshold`` (answerability probability) and
    #: ``model`` (an answer model fitted for this index's embedding model); empty: the bundled model.
    answer: dict[str, Any] = field(default_factory=dict)
    #: Text put before every passage / query when embedding (:class:`index.prompts.Prompts`, e.g.
    #: E5's ``{"query": "query: ", "passage": "passage: "}``); empty: none (the bundled model).
    prompts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IndexSettings":
        return cls(
            model=d["model"],
            dim=int(d["dim"]),
            chunking=ChunkSettings(**d.get("chunking", {})),
            bm25=BM25Settings(**d.get("bm25", {})),
            title_in_passage=bool(d.get("title_in_passage", True)),
            embedding_backend=resolve_backend(d.get("embedding_backend") or "torch"),
            dense=dict(d.get("dense") or {"kind": "auto", "threshold": DEFAULT_THRESHOLD}),
            fusion=dict(d.get("fusion") or {}),  # none recorded: RRF (see Fusion.from_dict), not the new default
            answer=dict(d.get("answer") or {}),
            prompts=_prompts(d.get("prompts")),
        )


def _prompts(d: Any) -> dict[str, str]:
    try:
        return Prompts.from_dict(d).to_dict()
    except QAError as exc:  # a bad manifest reads as an unreadable index
        raise ValueError(str(exc)) from exc


__all__ = ["IndexSettings"]
