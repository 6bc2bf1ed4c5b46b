"""Every default, limit and choice-list of the product, defined once.

The CLI, the API, the UI, evaluation and the benchmarks import these names instead of retyping
values. Enums parse user input with one clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .errors import QAError, QueryError


def _parse(cls: type, value: object, error: type, what: str, verb: str):  # noqa: ANN202 - returns a member of cls
    """``value`` as a member of the str-Enum ``cls`` (case and surrounding spaces ignored), or a
    one-line ``error`` naming the choices."""
    try:
        return cls(value if isinstance(value, cls) else str(value).strip().lower())
    except ValueError:
        raise error(f"unknown {what} {value!r}; {verb} one of: {', '.join(m.value for m in cls)}") from None


class Mode(str, Enum):
    """Which retriever answers a query."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"

    @classmethod
    def parse(cls, value: "str | Mode") -> "Mode":
        return _parse(cls, value, QueryError, "mode", "use")


class Backend(str, Enum):
    """How passages and queries are embedded (same vectors up to rounding / int8 quantisation)."""

    TORCH = "torch"
    ONNX = "onnx"
    ONNX_INT8 = "onnx-int8"


class DenseKind(str, Enum):
    """The FAISS index type: ``auto`` is exact below :data:`DENSE_AUTO_THRESHOLD` vectors, HNSW above."""

    AUTO = "auto"
    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"

    @classmethod
    def parse(cls, value: "str | DenseKind") -> "DenseKind":
        return _parse(cls, value, QAError, "dense index", "choose")


MODES: tuple[str, ...] = tuple(m.value for m in Mode)
BACKENDS: tuple[str, ...] = tuple(b.value for b in Backend)
DENSE_KINDS: tuple[str, ...] = tuple(k.value for k in DenseKind)

#: Index directory when neither ``--index`` nor ``$QA_INDEX`` is given.
DEFAULT_INDEX = "qa-index"
#: Default embedding backend (``$QA_BACKEND`` overrides it per process).
DEFAULT_BACKEND = Backend.ONNX_INT8.value
#: ``auto`` dense index switches from exact search to HNSW at this many vectors.
DENSE_AUTO_THRESHOLD = 100_000

#: Passages ``search`` returns when ``k`` is not given.
SEARCH_K = 10
#: Passages ``ask`` reads its answer from when ``k`` is not given. 10, not 8, since the merged
#: metadata and answer pipeline: on the tune split of eval/answer_questions.jsonl evidence in the
#: answer 0.904 vs 0.885 and in the first quote 0.846 vs 0.827, refusals unchanged (docs/answering.md).
ASK_K = 10
#: Largest ``k`` the library accepts; also how deep each retriever ranks when a hybrid ``k``
#: exceeds the fusion depth, and evaluation's default depth, so both rank identically.
MAX_K = 1000
#: Hybrid fusion a new index records in its manifest (``qa.fusion.Fusion.to_dict()``; every key
#: of ``qa.fusion.Fusion``): distribution-based score fusion with equal weights over each
#: retriever's top 100, chosen on cranfield and confirmed on vaswani, scifact and the news
#: questions (issue 13, ``benchmarks/ranking.py``). Existing indexes keep the fusion they record.
NEW_INDEX_FUSION: dict[str, object] = {"method": "dbsf", "rrf_k": 60, "dense_weight": 0.5, "depth": 100}
#: The fusion method of a manifest that records none: indexes built before issue 13 ranked with RRF.
LEGACY_FUSION_METHOD = "rrf"
#: Longest query, in characters after whitespace is collapsed.
MAX_QUERY_CHARS = 2000
#: Queries one ``search_many`` call may carry.
MAX_BATCH = 10_000
#: How often ``qa serve`` looks for a new index generation written by another process.
RELOAD_INTERVAL_S = 1.0


def default_index_dir() -> Path:
    """``$QA_INDEX`` or ``./qa-index``."""
    return Path(os.environ.get("QA_INDEX") or DEFAULT_INDEX)


def cache_dir() -> Path:
    """Derived files (ONNX graphs, evaluation indexes, benchmark vectors): ``$QA_CACHE`` or ``~/.cache/newsqa``."""
    return Path(os.environ.get("QA_CACHE") or Path.home() / ".cache" / "newsqa").expanduser()


@dataclass(frozen=True)
class WholeNumber:
    """The range of a whole-number setting, and the one rule that reads it: ``parse`` takes the
    text of an environment variable or a flag (or a number given in Python) and returns an ``int``
    in ``low..high`` (no upper bound when ``high`` is ``None``), or raises a one-line ``error``
    naming the setting as the user wrote it (``QA_THREADS``, ``--max-k``)."""

    low: int
    high: int | None = None

    def __str__(self) -> str:
        return f"between {self.low} and {self.high}" if self.high is not None else f">= {self.low}"

    def parse(self, name: str, value: object, error: type[QAError] = QAError) -> int:
        text = str(value).strip()
        try:
            number = int(text)
        except ValueError:
            raise error(f"{name} must be a whole number {self}, got {text!r}") from None
        if number < self.low or (self.high is not None and number > self.high):
            raise error(f"{name} must be a whole number {self}, got {number}")
        return number


#: The variable that sets the CPU threads of one embedding call (``qa index``, ``qa eval``,
#: ``qa serve``: see :func:`default_threads`).
THREADS_ENV = "QA_THREADS"
#: A thread count: ``$QA_THREADS`` and ``qa serve --threads`` are read by this one rule.
THREADS = WholeNumber(1)


def default_threads() -> int:
    """CPU threads one embedding call may use (torch and ONNX Runtime alike): ``$QA_THREADS``, else all cores.
    A bad value is a one-line :class:`QAError` (the same one ``qa serve`` gives)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    return THREADS.parse(THREADS_ENV, raw) if raw else (os.cpu_count() or 1)


#: What marks a folder as a qa index: its manifest file and the manifest's ``format`` field
#: (written by index/generations.py; read by the folder walk in index/ingest.py, which must not import
#: the store and FAISS).
INDEX_MANIFEST = "manifest.json"
INDEX_FORMAT = "qa-index"
