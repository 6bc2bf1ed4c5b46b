"""The library object every front end uses: load an index once, answer ``search(query, k, mode)``."""

from __future__ import annotations

import datetime as _dt_mod
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Embedder, SentenceTransformerEmbedder
from index.errors import IndexFormatError, QueryError
from index.records import Hit
from index.store import IndexStore

from .filters import NO_FILTER, SearchFilter, Sort, article_day
from .fusion import Fusion, Mode

DEFAULT_INDEX = "qa-index"
MAX_QUERY_CHARS = 2000
MAX_K = 1000


def default_index_dir() -> Path:
    return Path(os.environ.get("QA_INDEX") or DEFAULT_INDEX)


def validate_query(query: Any, k: Any, max_k: int = MAX_K) -> tuple[str, int]:
    if not isinstance(query, str):
        raise QueryError("query must be a string")
    q = " ".join(query.split())
    if not q:
        raise QueryError("query is empty")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise QueryError(f"k must be an integer between 1 and {max_k}, got {k!r}")
    return q, k


@dataclass(frozen=True)
class IndexStats:
    index_dir: str
    articles: int
    passages: int
    model: str
    dim: int
    created: str
    package_version: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class Searcher:
    """Hybrid retrieval over one loaded index. Thread-safe for concurrent ``search`` calls."""

    def __init__(self, store: IndexStore, embedder: Embedder | None = None, fusion: Fusion | None = None) -> None:
        self.store = store
        self.fusion = fusion or Fusion()
        if embedder is not None and embedder.name != store.settings.model:
            raise IndexFormatError(
                f"index {store.directory} was built with model {store.settings.model!r} but the searcher uses {embedder.name!r}"
            )
        self._embedder = embedder
        self._lock = threading.Lock()

    @classmethod
    def load(cls, index_dir: Path | str | None = None, *, embedder: Embedder | None = None,
             fusion: Fusion | None = None, mmap: bool | None = None) -> "Searcher":
        """Open an index. ``mmap=None`` memory-maps large indexes (see :meth:`IndexStore.load`)."""
        return cls(IndexStore.load(index_dir or default_index_dir(), mmap=mmap), embedder, fusion)

    @property
    def embedder(self) -> Embedder:
        with self._lock:  # load the model once even under concurrent first requests
            if self._embedder is None:
                # the backend the passages were embedded with, so queries land in the same space
                self._embedder = SentenceTransformerEmbedder(self.store.settings.model, backend=self.store.settings.embedding_backend)
            return self._embedder

    def embed_query(self, query: str) -> np.ndarray:
        vec = self.embedder.encode([query])
        if vec.shape[1] != self.store.settings.dim:
            raise IndexFormatError(f"the query model gives {vec.shape[1]}-d vectors, the index holds {self.store.settings.dim}-d")
        return vec

    def warm_up(self) -> None:
        """Load the query model and run one query so the first user does not wait."""
        self.embed_query("warm up")

    # ------------------------------------------------------------ retrieval
    def dense_ranking(self, query: str, depth: int) -> list[tuple[int, float]]:
        return self.store.dense.rankings(self.embed_query(query), depth)[0]

    def bm25_ranking(self, query: str, depth: int) -> list[tuple[int, float]]:
        return self.store.lexical.ranking(query, depth)

    def search(self, query: str, k: int = 10, mode: str | Mode = Mode.HYBRID,
               filters: SearchFilter | None = None) -> list[Hit]:
        """Top-``k`` passages for ``query``. ``mode`` is ``hybrid`` (default), ``dense`` or ``bm25``;
        ``filters`` restricts dates and publishers before the top-k is cut."""
        query, k = validate_query(query, k)
        mode = Mode.parse(mode)
        filters = filters or NO_FILTER
        depth = max(k, self.fusion.depth)
        if filters.active:  # interim: rank everything, then keep matching rows (masks come with the engine)
            depth = len(self.store.passages)
        rankings: dict[str, list[tuple[int, float]]] = {}
        if mode in (Mode.HYBRID, Mode.DENSE):
            rankings["dense"] = self.dense_ranking(query, depth)
        if mode in (Mode.HYBRID, Mode.BM25):
            rankings["bm25"] = self.bm25_ranking(query, depth)
        if filters.active:
            keep = {row for row in range(len(self.store.passages))
                    if filters.matches(self.store.articles[self.store.passages[row].doc_id])}
            rankings = {n: [(r, s) for r, s in rk if r in keep] for n, rk in rankings.items()}
        if mode is Mode.HYBRID:
            top = self.fusion.fuse(rankings, k)
        else:
            top = rankings[mode.value][:k]
        components = {name: dict(r) for name, r in rankings.items()}
        hits = [self._hit(rank, row, score, components) for rank, (row, score) in enumerate(top, start=1)]
        if filters.sort is Sort.NEWEST:
            hits.sort(key=lambda h: (-(article_day(h.article) or _dt_mod.date.min).toordinal(), h.rank))
            hits = [Hit(i, h.score, h.passage, h.article, h.components) for i, h in enumerate(hits, start=1)]
        return hits

    def _hit(self, rank: int, row: int, score: float, components: dict[str, dict[int, float]]) -> Hit:
        p = self.store.passages[row]
        return Hit(
            rank=rank,
            score=float(score),
            passage=p,
            article=self.store.articles[p.doc_id],
            components={n: c[row] for n, c in components.items() if row in c},
        )

    def stats(self) -> IndexStats:
        m = self.store.manifest
        return IndexStats(
            index_dir=str(self.store.directory),
            articles=len(self.store.articles),
            passages=len(self.store.passages),
            model=self.store.settings.model,
            dim=self.store.settings.dim,
            created=m.get("created", ""),
            package_version=m.get("package_version", ""),
        )
