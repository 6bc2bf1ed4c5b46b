"""FAISS inner-product index over normalised vectors (cosine similarity).

Small indexes are searched exactly (``IndexFlatIP``). With ``kind="auto"`` (see :func:`choose_kind`),
from :data:`DEFAULT_THRESHOLD` vectors on an HNSW graph is built (``IndexHNSWSQ`` with fp16
vectors; ``storage="flat"`` for ``IndexHNSWFlat``), and from :data:`IVF_THRESHOLD` on an inverted
file (``IndexIVFScalarQuantizer`` with fp16 vectors, ``nlist = 4 sqrt(n)`` lists, ``nprobe`` 32):
on real sentence embeddings with near-duplicates (news reprints), HNSW's recall@10 against exact
search falls to 0.89 at 1M vectors while the inverted file keeps 0.98 (benchmarks/README.md).
``kind`` can force any of them (``"flat"``, ``"hnsw"``, ``"ivf"``). The settings actually used are returned by :attr:`DenseIndex.settings` and recorded
in the index manifest's ``"dense"`` entry; :meth:`DenseIndex.load` re-applies the search-time
ones (``ef_search``, ``nprobe``).

Updates :meth:`~DenseIndex.add` vectors onto the existing index (new HNSW nodes join the graph;
nothing is rebuilt). Deleted or replaced rows stay in the index as tombstones: a ``live`` mask
excludes them at search time, combined with an optional ``allowed`` mask (filters), through a
FAISS ``IDSelectorBitmap`` applied inside the search, before the top-k cut. When the mask leaves
few rows (or an approximate search returns fewer than exist), those rows are scored exactly.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .defaults import DENSE_KINDS

#: The dense index kinds (:class:`index.defaults.DenseKind`, where they are declared).
KINDS = DENSE_KINDS
#: ``auto`` switches from exact to HNSW at this many vectors (see docs/performance.md: at 100k
#: vectors exact search costs ~10 ms a query on 2 cores and grows linearly; HNSW stays ~1 ms).
DEFAULT_THRESHOLD = 100_000
#: HNSW graph degree, build beam and search beam. recall@10 vs exact is reported by the benchmark.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
#: Vector storage inside the HNSW index: "fp16" halves the memory a server keeps resident (recall
#: is unchanged for normalised 384-d vectors) ; "flat" keeps fp32.
HNSW_STORAGE = "fp16"
#: ``auto`` switches from HNSW to an inverted file at this many vectors. Measured on the realistic
#: benchmark vectors (recall@10 vs exact, HNSW M=32/efC=80/efS=256 vs IVF nprobe=32): 100k 0.989 vs
#: 0.967; 1M 0.894 vs 0.979 (benchmarks/README.md, "Choosing the dense index").
IVF_THRESHOLD = 500_000
#: Lists probed per query, and vectors sampled per list to train the coarse quantiser (FAISS
#: warns below 39). Vector storage inside the lists: "fp16" (recall as fp32, half the memory) or "flat".
IVF_NPROBE = 32
IVF_TRAIN_PER_LIST = 40
IVF_STORAGE = "fp16"
#: With a mask that leaves at most this many rows, approximate indexes score those rows exactly.
EXACT_MASKED_MAX = 20_000

VectorLookup = Callable[[np.ndarray], np.ndarray]


#: Rows added to a FAISS index at a time (see :func:`_add`).
ADD_ROWS = 16_384


def _add(index: Any, vectors: np.ndarray, mapping: mmap.mmap | None) -> None:
    """``index.add(vectors)`` a part at a time; with the vectors memory-mapped from a file
    (``mapping``: a ``numpy.memmap``'s), the pages read so far are let go after each part, so
    building from a file costs the index, not the index plus the file (50 MB upload: ~100 MB).
    Flat and IVF indexes are the same either way; without ``mapping``, one ``add``."""
    if mapping is None or not hasattr(mapping, "madvise"):
        index.add(vectors)
        return
    for a in range(0, len(vectors), ADD_ROWS):
        index.add(vectors[a:a + ADD_ROWS])
        mapping.madvise(mmap.MADV_DONTNEED)  # a read-only file mapping: pages come back from the file if read


def choose_kind(n: int, requested: str = "auto", threshold: int = DEFAULT_THRESHOLD,
                ivf_threshold: int = IVF_THRESHOLD) -> str:
    """The index kind built for ``n`` vectors: ``requested`` unless it is ``auto``, then exact
    below ``threshold``, HNSW below ``ivf_threshold``, an inverted file from there on."""
    kind = (requested or "auto").lower()
    if kind not in KINDS:
        raise ValueError(f"unknown dense index kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind != "auto":
        return kind
    if n < threshold:
        return "flat"
    return "hnsw" if n < max(ivf_threshold, threshold) else "ivf"


def combine_masks(n: int, *masks: np.ndarray | None) -> np.ndarray | None:
    """AND of the given boolean row masks (``None`` = every row); ``None`` if all are ``None``."""
    out = None
    for m in masks:
        if m is None:
            continue
        m = np.asarray(m, dtype=bool)
        if len(m) != n:
            raise ValueError(f"a row mask must have one entry per row ({n}), got {len(m)}")
        out = m.copy() if out is None else (out & m)
    return out


class DenseIndex:
    def __init__(self, faiss_index, settings: dict[str, Any] | None = None, *,  # type: ignore[no-untyped-def]
                 live: np.ndarray | None = None, vectors: VectorLookup | None = None) -> None:
        self._index = faiss_index
        self.settings: dict[str, Any] = dict(settings or _describe(faiss_index))
        self._apply_search_settings()
        #: Rows that may be returned (``None``: all); the others are tombstones.
        self.live = None if live is None or bool(np.all(live)) else np.asarray(live, dtype=bool)
        self._vectors = vectors

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        kind: str = "auto",
        threshold: int = DEFAULT_THRESHOLD,
        *,
        ivf_threshold: int = IVF_THRESHOLD,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = HNSW_EF_SEARCH,
        nlist: int | None = None,
        nprobe: int = IVF_NPROBE,
        storage: str | None = None,
    ) -> "DenseIndex":
        """Index ``vectors`` (rows L2-normalised). ``kind``: ``auto`` (:func:`choose_kind`),
        ``flat``, ``hnsw`` or ``ivf``. ``storage`` (HNSW and IVF): ``fp16`` (default) or ``flat``."""
        import faiss

        kind = (kind or "auto").lower()
        source, vectors = vectors, np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        chosen = choose_kind(n, kind, threshold, ivf_threshold)
        settings: dict[str, Any] = {"type": chosen, "metric": "inner_product", "requested": kind, "threshold": int(threshold)}
        if kind == "auto":
            settings["ivf_threshold"] = int(ivf_threshold)
        storage = storage or (IVF_STORAGE if chosen == "ivf" else HNSW_STORAGE)
        if storage not in ("fp16", "flat"):
            raise ValueError(f"unknown vector storage {storage!r}; use 'fp16' or 'flat'")
        if chosen == "hnsw":
            if storage == "fp16":
                index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_fp16, m, faiss.METRIC_INNER_PRODUCT)
                index.train(vectors[: min(n, 1000)] if n else np.zeros((1, d), np.float32))  # fp16 needs no statistics
            else:
                index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
            settings.update(M=m, ef_construction=ef_construction, ef_search=ef_search, storage=storage)
        elif chosen == "ivf":
            nlist = nlist or max(1, min(int(4 * math.sqrt(max(n, 1))), max(n // 39, 1)))
            quantizer = faiss.IndexFlatIP(d)
            if storage == "fp16":
                index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
            else:
                index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            if n:
                rng = np.random.default_rng(0)
                per = IVF_TRAIN_PER_LIST * nlist
                train = vectors if n <= per else vectors[np.sort(rng.choice(n, per, replace=False))]
                index.train(train)
            index.nprobe = min(nprobe, nlist)
            settings.update(nlist=nlist, nprobe=min(nprobe, nlist), storage=storage)
        else:
            index = faiss.IndexFlatIP(d)
        if n:  # HNSW inserts a batch level by level: in parts it would be another graph
            _add(index, vectors, getattr(source, "_mmap", None) if chosen != "hnsw" else None)
        return cls(index, settings)

    def _apply_search_settings(self) -> None:
        import faiss

        if self.settings.get("type") == "hnsw" and "ef_search" in self.settings:
            faiss.downcast_index(self._index).hnsw.efSearch = int(self.settings["ef_search"])
        elif self.settings.get("type") == "ivf" and "nprobe" in self.settings:
            faiss.extract_index_ivf(self._index).nprobe = int(self.settings["nprobe"])

    @property
    def kind(self) -> str:
        return str(self.settings.get("type", "flat"))

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append ``vectors`` as the next rows (HNSW: new nodes linked into the existing graph)."""
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(v):
            self._index.add(v)
        if self.live is not None:
            self.live = np.concatenate([self.live, np.ones(len(v), bool)])

    def rankings(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        """:meth:`search` as one ``[(row, score), ...]`` list per query, padding dropped."""
        rows, scores = self.search(query_vectors, k, allowed=allowed)
        return [[(int(r), float(s)) for r, s in zip(rr, ss) if r >= 0] for rr, ss in zip(rows, scores)]

    def search(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, scores)`` arrays of shape (n_queries, k'), best first; k' <= k.
        Approximate indexes may pad a row with ``-1`` (skip those).

        ``allowed`` (boolean mask over rows, True = may be returned) is applied inside the
        search together with the tombstones, so every query gets min(k, allowed live rows)
        results whenever the index can find them."""
        q = np.ascontiguousarray(query_vectors, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        mask = combine_masks(len(self), self.live, allowed)
        n_ok = len(self) if mask is None else int(mask.sum())
        k = min(k, n_ok)
        if k <= 0:
            n = len(q)
            return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
        import faiss

        if mask is not None and self.kind != "flat" and n_ok <= EXACT_MASKED_MAX:
            exact = self._exact(q, np.flatnonzero(mask), k)
            if exact is not None:
                return exact
        sel = None
        if mask is not None:
            bitmap = np.packbits(mask, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
        params = None
        if self.kind == "hnsw":
            ef = int(self.settings.get("ef_search", HNSW_EF_SEARCH))
            if ef < k or sel is not None:  # the beam must be at least k wide to return k results
                params = faiss.SearchParametersHNSW(efSearch=max(ef, k), sel=sel) if sel is not None \
                    else faiss.SearchParametersHNSW(efSearch=max(ef, k))
        elif self.kind == "ivf" and sel is not None:
            params = faiss.SearchParametersIVF(nprobe=int(self.settings.get("nprobe", IVF_NPROBE)), sel=sel)
        elif sel is not None:
            params = faiss.SearchParameters(sel=sel)
        scores, rows = self._index.search(q, k, params=params) if params is not None else self._index.search(q, k)
        rows = rows.astype(np.int64)
        if mask is not None and self.kind != "flat":
            short = np.flatnonzero((rows >= 0).sum(axis=1) < k)
            if len(short):  # the graph walk missed allowed rows: score them exactly
                exact = self._exact(q[short], np.flatnonzero(mask), k)
                if exact is not None:
                    rows[short], scores[short] = exact
        return rows, scores

    def _exact(self, q: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Exact inner products of ``q`` with the rows ``candidates``: top-``k`` (ties by row)."""
        best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_r = np.zeros((len(q), 0), dtype=np.int64)
        step = 65_536
        for a in range(0, len(candidates), step):
            rows = candidates[a : a + step]
            vecs = self._lookup(rows)
            if vecs is None:
                return None
            s = q @ np.asarray(vecs, dtype=np.float32).T
            best_s = np.concatenate([best_s, s], axis=1)
            best_r = np.concatenate([best_r, np.broadcast_to(rows, s.shape)], axis=1)
            if best_s.shape[1] > k:
                part = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
                best_s = np.take_along_axis(best_s, part, axis=1)
                best_r = np.take_along_axis(best_r, part, axis=1)
        order = np.lexsort((best_r, -best_s), axis=1)[:, :k] if best_s.shape[1] else best_r
        return np.take_along_axis(best_r, order, axis=1), np.take_along_axis(best_s, order, axis=1).astype(np.float32)

    def _lookup(self, rows: np.ndarray) -> np.ndarray | None:
        if self._vectors is not None:
            return self._vectors(rows)
        import faiss

        ids = np.ascontiguousarray(rows, dtype=np.int64)
        try:
            return self._index.reconstruct_batch(ids)
        except RuntimeError:
            if self.kind != "ivf":
                return None
        try:  # IVF reconstructs through a direct map, built on first need
            faiss.extract_index_ivf(self._index).make_direct_map()
            return self._index.reconstruct_batch(ids)
        except RuntimeError:
            return None

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, mmap: bool = False, settings: dict[str, Any] | None = None, *,
             live: np.ndarray | None = None, vectors: VectorLookup | None = None) -> "DenseIndex":
        """Read an index. ``mmap`` maps the vectors (and HNSW graph) from the file instead of
        copying them into memory, so loading is near-instant and pages are shared/evictable."""
        import faiss

        flags = 0
        if mmap:
            flags = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP) | faiss.IO_FLAG_READ_ONLY
        index = faiss.read_index(str(path), flags)
        described = _describe(index)
        if settings:
            described.update({k: v for k, v in settings.items() if k not in ("type", "metric")})
        return cls(index, described, live=live, vectors=vectors)


def _describe(index) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSW):
        return {"type": "hnsw", "metric": "inner_product", "M": int(index.hnsw.nb_neighbors(1)),
                "storage": "fp16" if isinstance(index, faiss.IndexHNSWSQ) else "flat",
                "ef_construction": int(index.hnsw.efConstruction), "ef_search": int(index.hnsw.efSearch)}
    if isinstance(index, faiss.IndexIVF):
        return {"type": "ivf", "metric": "inner_product", "nlist": int(index.nlist), "nprobe": int(index.nprobe),
                "storage": "fp16" if isinstance(index, faiss.IndexIVFScalarQuantizer) else "flat"}
    return {"type": "flat", "metric": "inner_product"}
