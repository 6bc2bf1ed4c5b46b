"""FAISS inner-product index over normalised vectors (cosine similarity).

Small indexes are searched exactly (``IndexFlatIP``); from :data:`DEFAULT_THRESHOLD` vectors on,
``kind="auto"`` builds an HNSW graph (``IndexHNSWSQ`` with fp16 vectors; ``storage="flat"`` for
``IndexHNSWFlat``), whose search cost grows roughly with
log(n) instead of n. ``kind`` can force either (``"flat"``, ``"hnsw"``) or an inverted file
(``"ivf"``). The settings actually used are returned by :attr:`DenseIndex.settings` and recorded
in the index manifest's ``"dense"`` entry; :meth:`DenseIndex.load` re-applies the search-time
ones (``ef_search``, ``nprobe``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("auto", "flat", "hnsw", "ivf")
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
IVF_NPROBE = 32


class DenseIndex:
    def __init__(self, faiss_index, settings: dict[str, Any] | None = None) -> None:  # type: ignore[no-untyped-def]
        self._index = faiss_index
        self.settings: dict[str, Any] = dict(settings or _describe(faiss_index))
        self._apply_search_settings()

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        kind: str = "auto",
        threshold: int = DEFAULT_THRESHOLD,
        *,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = HNSW_EF_SEARCH,
        nlist: int | None = None,
        nprobe: int = IVF_NPROBE,
        storage: str = HNSW_STORAGE,
    ) -> "DenseIndex":
        """Index ``vectors`` (rows L2-normalised). ``kind``: ``auto`` (flat below ``threshold``
        vectors, HNSW from there on), ``flat``, ``hnsw`` or ``ivf``."""
        import faiss

        kind = (kind or "auto").lower()
        if kind not in KINDS:
            raise ValueError(f"unknown dense index kind {kind!r}; choose one of {', '.join(KINDS)}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        chosen = kind if kind != "auto" else ("hnsw" if n >= threshold else "flat")
        settings: dict[str, Any] = {"type": chosen, "metric": "inner_product", "requested": kind, "threshold": int(threshold)}
        if chosen == "hnsw":
            if storage == "fp16":
                index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_fp16, m, faiss.METRIC_INNER_PRODUCT)
                index.train(vectors[: min(n, 1000)] if n else np.zeros((1, d), np.float32))  # fp16 needs no statistics
            elif storage == "flat":
                index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
            else:
                raise ValueError(f"unknown HNSW storage {storage!r}; use 'fp16' or 'flat'")
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
            settings.update(M=m, ef_construction=ef_construction, ef_search=ef_search, storage=storage)
        elif chosen == "ivf":
            nlist = nlist or max(1, min(int(4 * math.sqrt(max(n, 1))), max(n // 39, 1)))
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            if n:
                rng = np.random.default_rng(0)
                train = vectors if n <= 256 * nlist else vectors[np.sort(rng.choice(n, 256 * nlist, replace=False))]
                index.train(train)
            index.nprobe = min(nprobe, nlist)
            settings.update(nlist=nlist, nprobe=min(nprobe, nlist))
        else:
            index = faiss.IndexFlatIP(d)
        if n:
            index.add(vectors)
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

    def rankings(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        """:meth:`search` as one ``[(row, score), ...]`` list per query, padding dropped.
        ``allowed`` (bool per row) restricts the rows returned, before the top-``k`` cut."""
        if allowed is not None:  # interim: rank every row, keep the allowed ones
            rows, scores = self.search(query_vectors, len(self))
            return [[(int(r), float(s)) for r, s in zip(rr, ss) if r >= 0 and allowed[r]][:k] for rr, ss in zip(rows, scores)]
        rows, scores = self.search(query_vectors, k)
        return [[(int(r), float(s)) for r, s in zip(rr, ss) if r >= 0] for rr, ss in zip(rows, scores)]

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, scores)`` arrays of shape (n_queries, k'), best first; k' <= k.
        Approximate indexes may pad a row with ``-1`` (skip those)."""
        k = min(k, len(self))
        if k <= 0:
            n = len(query_vectors)
            return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
        q = np.ascontiguousarray(query_vectors, dtype=np.float32)
        params = None
        if self.kind == "hnsw":
            import faiss

            ef = int(self.settings.get("ef_search", HNSW_EF_SEARCH))
            if ef < k:  # the beam must be at least k wide to return k results
                params = faiss.SearchParametersHNSW(efSearch=k)
        scores, rows = self._index.search(q, k, params=params) if params is not None else self._index.search(q, k)
        return rows.astype(np.int64), scores

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, mmap: bool = False, settings: dict[str, Any] | None = None) -> "DenseIndex":
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
        return cls(index, described)


def _describe(index) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSW):
        return {"type": "hnsw", "metric": "inner_product", "M": int(index.hnsw.nb_neighbors(1)),
                "storage": "fp16" if isinstance(index, faiss.IndexHNSWSQ) else "flat",
                "ef_construction": int(index.hnsw.efConstruction), "ef_search": int(index.hnsw.efSearch)}
    if isinstance(index, faiss.IndexIVF):
        return {"type": "ivf", "metric": "inner_product", "nlist": int(index.nlist), "nprobe": int(index.nprobe)}
    return {"type": "flat", "metric": "inner_product"}
