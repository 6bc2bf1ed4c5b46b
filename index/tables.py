"""Row-addressed views over an index's segments (passages, live articles, vectors) and the sorted
article key table behind the article lookups (see docs/design.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .records import Article, Passage
from .segments import Segment


@dataclass(frozen=True)
class ArticleInfo:
    """One line of ``qa articles``."""

    doc_id: str
    title: str
    date: str
    source: str
    url: str
    passages: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Rows:
    """Maps a global row (or article line) to its segment and local position."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.starts = np.cumsum([0, *sizes]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def locate(self, i: int) -> tuple[int, int]:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("row out of range")
        s = int(np.searchsorted(self.starts, i, side="right")) - 1
        return s, i - int(self.starts[s])


class PassageTable(Sequence):  # type: ignore[type-arg]
    """Every row's :class:`Passage`, decoded on access from memory-mapped segment files.

    Row-addressed: tombstoned rows (``store.live[row]`` false) are still here, so row numbers from
    the retrievers stay valid; they are never returned by a search."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self._segments = list(segments)
        self._rows = _Rows([s.rows for s in self._segments])

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        s, j = self._rows.locate(int(i))
        return self._segments[s].passage(j)

    def __iter__(self) -> Iterator[Passage]:
        for seg in self._segments:
            for j in range(seg.rows):
                yield seg.passage(j)


class ArticleTable(Mapping):  # type: ignore[type-arg]
    """The live articles as a lazy ``doc_id -> Article`` mapping, looked up by binary search in a
    sorted, memory-mapped key array; iterated in the order they were (last) written."""

    def __init__(self, segments: Sequence[Segment], keys: np.ndarray, lines: np.ndarray) -> None:
        self._segments = list(segments)
        self._lines_of = _Rows([s.n_articles for s in self._segments])
        self._keys, self._lines = keys, lines

    def _pos(self, doc_id: object) -> int:
        if not isinstance(doc_id, str) or not len(self._keys):
            return -1
        try:
            kb = doc_id.encode("utf-8")
        except UnicodeEncodeError:
            return -1
        if len(kb) > self._keys.dtype.itemsize or kb.endswith(b"\x00"):
            return -1
        j = int(np.searchsorted(self._keys, kb))
        return j if j < len(self._keys) and self._keys[j] == kb else -1

    def line_of(self, doc_id: str) -> int:
        j = self._pos(doc_id)
        if j < 0:
            raise KeyError(doc_id)
        return int(self._lines[j])

    def at_line(self, line: int) -> Article:
        s, j = self._lines_of.locate(line)
        return self._segments[s].article(j)

    def __getitem__(self, doc_id: str) -> Article:
        return self.at_line(self.line_of(doc_id))

    def __contains__(self, doc_id: object) -> bool:
        return self._pos(doc_id) >= 0

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        for j in np.argsort(self._lines, kind="stable"):
            yield self._keys[j].decode("utf-8")

    @property
    def keys_array(self) -> np.ndarray:
        return self._keys

    @property
    def lines_array(self) -> np.ndarray:
        return self._lines


class RowVectors:
    """The vectors of every row across segments: ``len``, ``shape``, integer/array indexing and
    ``np.asarray`` (which concatenates: only for tools that need one array)."""

    def __init__(self, parts: Sequence[np.ndarray], dim: int) -> None:
        self._parts = list(parts)
        self._rows = _Rows([len(p) for p in self._parts])
        self.dim = dim

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.dim)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        seg = np.searchsorted(self._rows.starts, rows, side="right") - 1
        for s in np.unique(seg):
            m = seg == s
            out[m] = self._parts[s][rows[m] - self._rows.starts[s]]
        return out

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if isinstance(i, (int, np.integer)):
            s, j = self._rows.locate(int(i))
            return np.asarray(self._parts[s][j])
        if isinstance(i, slice):
            return self.take(np.arange(*i.indices(len(self))))
        return self.take(np.asarray(i))

    def __array__(self, dtype=None, copy=None):  # type: ignore[no-untyped-def]
        a = np.concatenate(self._parts) if self._parts else np.zeros((0, self.dim), np.float32)
        return a.astype(dtype) if dtype is not None else a


def sorted_keys(doc_ids: Sequence[str], lines: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The article key table for ``doc_ids``: their UTF-8 keys sorted (fixed width) and the article
    line of each (``lines``, default ``0, 1, ...``), in the same order."""
    enc = [d.encode("utf-8") for d in doc_ids]
    width = max((len(b) for b in enc), default=1) or 1
    keys = np.array(enc, dtype=f"S{width}") if enc else np.zeros(0, dtype="S1")
    lines = np.arange(len(enc), dtype=np.int64) if lines is None else np.asarray(lines, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    return keys[order], lines[order]


def update_keys(keys: np.ndarray, lines: np.ndarray, *, remove: Sequence[str], add: Sequence[str],
                first_line: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted article key table with ``remove`` dropped and ``add`` inserted (at article lines
    ``first_line, first_line + 1, ...``): binary searches and one copy, no re-sort."""
    if remove and len(keys):
        gone = np.array(sorted({d.encode("utf-8") for d in remove}), dtype=f"S{max(keys.dtype.itemsize, 1)}")
        pos = np.searchsorted(keys, gone)
        inside = pos < len(keys)
        pos, gone = pos[inside], gone[inside]
        hit = pos[keys[pos] == gone]
        keep = np.ones(len(keys), bool)
        keep[hit] = False
        keys, lines = keys[keep], lines[keep]
    if not add:
        return keys, lines
    new_keys, new_lines = sorted_keys(list(add), np.arange(first_line, first_line + len(add)))
    width = max(keys.dtype.itemsize if len(keys) else 1, new_keys.dtype.itemsize)
    keys, new_keys = keys.astype(f"S{width}"), new_keys.astype(f"S{width}")
    at = np.searchsorted(keys, new_keys)
    return np.insert(keys, at, new_keys), np.insert(lines, at, new_lines)


__all__ = ["ArticleInfo", "ArticleTable", "PassageTable", "RowVectors", "sorted_keys", "update_keys"]
