"""FAISS inner-product index over normalised vectors (cosine similarity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class DenseIndex:
    def __init__(self, faiss_index) -> None:  # type: ignore[no-untyped-def]
        self._index = faiss_index

    @classmethod
    def build(cls, vectors: np.ndarray) -> "DenseIndex":
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(vectors)
        return cls(index)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, scores)`` arrays of shape (n_queries, k'), best first; k' <= k."""
        k = min(k, len(self))
        if k <= 0:
            n = len(query_vectors)
            return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
        scores, rows = self._index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
        return rows.astype(np.int64), scores

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, mmap: bool = False) -> "DenseIndex":
        import faiss

        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return cls(faiss.read_index(str(path), flags))
