"""Cross-encoder reranking of answer sentences: the shipped reader, or any local CrossEncoder.

A model that reads the question and a sentence together scores (question, sentence) pairs;
:class:`qa.answer.Answerer` adds ``weight`` x its probability to the ``final`` score of the best
``depth`` units (the reader's own, from its ``reader.json``; else :data:`qa.answer.RERANK_WEIGHT`
and :data:`qa.answer.RERANK_DEPTH`). :func:`load_reranker` resolves what the app uses:

- nothing named (no ``--reranker``, no ``$QA_RERANKER``): the shipped reader
  (:func:`qa.reader.default_reader`; ``QA_READER=off`` turns it off);
- ``off`` / ``none``: no reranker (the learned ranker alone);
- a reader folder (``reader.json`` + ``adapter.safetensors``, made by ``scripts/train_reader.py``);
- a sentence-transformers ``CrossEncoder`` folder (``config.json``).

The path must be a local folder (no hub downloads at run time).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import QAError

ENV_VAR = "QA_RERANKER"


OFF = ("off", "none")


def load_reranker(path: str | Path | None = None) -> Any | None:
    """What reranks answer sentences: see the module docstring (``path``, else ``$QA_RERANKER``,
    else the shipped reader).

    A path that is not a local model folder is a :class:`QAError` (one line in the CLI)."""
    from .reader import CONFIG_FILE, Reader, default_reader

    path = path or os.environ.get(ENV_VAR) or None
    if path is None:
        return default_reader()
    if str(path).strip().lower() in OFF:
        return None
    folder = Path(path).expanduser()
    if (folder / CONFIG_FILE).is_file():
        return Reader(folder)
    if not (folder / "config.json").is_file():
        raise QAError(f"reranker {str(path)!r} is not a local model folder (no config.json or {CONFIG_FILE})")
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(folder), local_files_only=True)


def reads(reranker: Any, qtype: str) -> bool:
    """Whether ``reranker`` reads for questions of type ``qtype`` (a reader kept for some question
    families only; any other cross-encoder reads for all)."""
    check = getattr(reranker, "reads", None)
    return bool(check(qtype)) if callable(check) else True


@dataclass(frozen=True)
class Reading:
    """Which of the ranker's units a reranker reads: the best ``depth`` by the ranker's score, of
    those only the ones within ``reach`` of the best, and none at all when the best leads the second
    by more than ``margin`` (a unit far below the best, or a best far ahead, rarely changes place:
    reading them costs time; the shipped bounds are the cheapest that lost no rank-1 or top-3 hit
    on the training splits, docs/reader.md). ``None``: no such bound."""

    depth: int
    reach: float | None = None
    margin: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 0:
            raise ValueError(f"depth must be an integer >= 0, got {self.depth!r}")
        for name in ("reach", "margin"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0 or None, got {value!r}")

    @classmethod
    def of(cls, reranker: Any, default_depth: int) -> "Reading":
        """The reading ``reranker`` asks for (its ``depth``, ``reach``, ``margin`` attributes; a
        CrossEncoder has none: the best ``default_depth`` units, unbounded)."""
        return cls(int(getattr(reranker, "depth", default_depth)), getattr(reranker, "reach", None),
                   getattr(reranker, "margin", None))

    def units(self, final: np.ndarray) -> np.ndarray:
        """Indices of the units to read, best first (possibly none)."""
        final = np.asarray(final, dtype=np.float64)
        top = best_units(final, self.depth)
        if not len(top):
            return top
        best = final[top[0]]
        if self.margin is not None and len(top) > 1 and best - final[top[1]] > self.margin:
            return top[:0]
        if self.reach is not None:
            top = top[final[top] >= best - self.reach]
        return top


def best_units(final: np.ndarray, depth: int) -> np.ndarray:
    """Indices of the ``depth`` best units by ``final`` (ties keep their order): what a reranker reads."""
    return np.argsort(-np.asarray(final), kind="stable")[:depth]


def with_bonus(final: np.ndarray, top: np.ndarray, probs: np.ndarray, weight: float) -> np.ndarray:
    """``final`` with ``weight`` x the reranker's probabilities added at ``top``: how the app, the
    answer-model fit and benchmarks/reader.py all combine the ranker and a reranker."""
    out = np.array(final, dtype=np.float64)
    out[top] += weight * np.asarray(probs, dtype=np.float64)
    return out


def rerank_scores(reranker: Any, question: str, texts: Sequence[str]) -> np.ndarray:
    """Relevance of each text to the question as a probability in [0, 1] (a logistic of the
    cross-encoder's logit; scores already in [0, 1] are kept)."""
    if not texts:
        return np.zeros(0)
    raw = np.asarray(reranker.predict([(question, t) for t in texts]), dtype=np.float64).reshape(len(texts), -1)[:, -1]
    if raw.min() >= 0.0 and raw.max() <= 1.0:
        return raw
    return 1.0 / (1.0 + np.exp(-raw))
