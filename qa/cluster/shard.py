"""One shard: the rows ``[lo, hi)`` of an index, with their own FAISS index and BM25 part.

:class:`ShardCore` is plain Python (testable without Ray); :func:`shard_actor` wraps it as a Ray
actor class that Ray restarts when it dies. A shard answers with GLOBAL row ids, so the
coordinator merges shard answers into exactly the rankings the single index gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.dense import DenseIndex
from index.errors import IndexFormatError
from index.manifest import current_generation
from index.store import IndexStore

from .bm25 import CorpusStats, SliceLexical, slice_stats, slice_term_counts

Ranking = list[tuple[int, float]]


@dataclass(frozen=True)
class ShardSpec:
    """Which rows of which index generation a shard serves."""

    index_dir: str
    lo: int
    hi: int
    generation: Any  # index.manifest.current_generation() of the index the rows come from


def split_rows(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous, near-equal ``[lo, hi)`` row ranges covering ``0..n`` (rows include
    tombstones: a shard skips its dead rows)."""
    if shards < 1:
        raise ValueError("shards must be >= 1")
    shards = min(shards, max(n, 1))
    edges = np.linspace(0, n, shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _slice_counts(store: IndexStore, lo: int, hi: int):  # type: ignore[no-untyped-def]
    return slice_term_counts(store.lexical.parts, lo, hi)


def compute_slice_stats(index_dir: str, lo: int, hi: int) -> CorpusStats:
    """The map step of the global BM25 statistics (run as a Ray task per slice)."""
    store = IndexStore.load(index_dir, mmap=True)
    return slice_stats(_slice_counts(store, lo, hi), store.live[lo:hi])


def _dense_for(store: IndexStore, vectors: np.ndarray) -> DenseIndex:
    """A dense index over a slice, of the kind (and parameters) the whole index was built with."""
    built = dict(store.manifest.get("dense") or {})
    kind = str(built.get("type", "flat"))
    kwargs: dict[str, Any] = {}
    if kind == "hnsw":
        kwargs = {k: built[k2] for k, k2 in (("m", "M"), ("ef_construction", "ef_construction"),
                                             ("ef_search", "ef_search"), ("storage", "storage")) if k2 in built}
    elif kind == "ivf":
        kwargs = {"nprobe": int(built.get("nprobe", 32))}
    return DenseIndex.build(vectors, kind=kind, **kwargs)


class ShardCore:
    """Dense and BM25 retrieval over one slice of an index."""

    def __init__(self, spec: ShardSpec, stats: CorpusStats) -> None:
        if current_generation(spec.index_dir) != spec.generation:
            raise IndexFormatError(f"index {spec.index_dir} changed since this shard was planned; redeploy the shards")
        store = IndexStore.load(spec.index_dir, mmap=True)
        self.spec = spec
        self.lo, self.hi = spec.lo, spec.hi
        self.live = np.array(store.live[spec.lo:spec.hi], dtype=bool)
        # row-addressed across segments (dead rows included, masked at query time)
        self.dense = _dense_for(store, np.ascontiguousarray(store.embeddings[spec.lo:spec.hi], dtype=np.float32))
        self.bm25 = SliceLexical(store.settings.bm25, _slice_counts(store, spec.lo, spec.hi), self.live, stats)

    def info(self) -> dict[str, Any]:
        import os

        return {"lo": self.lo, "hi": self.hi, "generation": self.spec.generation, "pid": os.getpid(),
                "dense": self.dense.kind}

    def rankings(self, vectors: np.ndarray | None, queries: list[str] | None, depth: int,
                 allowed: np.ndarray | None = None) -> tuple[Any, dict[str, list[Ranking]]]:
        """Each retriever's top-``depth`` ``(global row, score)`` per query, within this slice.
        ``allowed`` is this slice's row mask (``np.packbits`` of it), or None for every row."""
        mask = self.live  # tombstoned rows are never returned
        if allowed is not None:
            mask = mask & np.unpackbits(allowed, count=self.hi - self.lo).astype(bool)
        out: dict[str, list[Ranking]] = {}
        if vectors is not None:
            out["dense"] = [[(r + self.lo, s) for r, s in ranking]
                            for ranking in self.dense.rankings(np.asarray(vectors, dtype=np.float32), depth, allowed=mask)]
        if queries is not None:
            out["bm25"] = [[(r + self.lo, s) for r, s in self.bm25.ranking(q, depth, allowed=mask)] for q in queries]
        return self.spec.generation, out


def shard_actor(max_restarts: int = 4, max_task_retries: int = 3, num_cpus: float = 0.25):  # type: ignore[no-untyped-def]
    """:class:`ShardCore` as a Ray actor class: restarted by Ray when it dies (``max_restarts``),
    with calls made while it restarts retried (``max_task_retries``)."""
    import ray

    return ray.remote(num_cpus=num_cpus, max_restarts=max_restarts, max_task_retries=max_task_retries)(ShardCore)


def index_generation(index_dir: Path | str) -> Any:
    return current_generation(index_dir)
