"""BM25 over a slice of the rows, scored with the statistics of the WHOLE index.

A shard holds only its rows, but BM25's document frequencies, document count and average length
must be those of the whole index's LIVE rows, or a shard's scores (and so the merged ranking)
would differ from the single index's. The statistics are a map-reduce over the stored term
counts (:class:`index.lexical.TermCounts`, nothing is re-tokenized): each slice counts its live
rows, their total length and each term's live postings (:func:`slice_stats`), :func:`merge_stats`
adds them up, and every shard scores with the total. Scoring is main's own code:
:class:`SliceLexical` is an :class:`index.lexical.LexicalIndex` over the slice's term counts
(tombstones excluded through the slice's ``live`` mask) whose N, average length and df are the
global ones, so a sharded score equals ``store.lexical.ranking``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from index.errors import IndexFormatError
from index.lexical import BM25Settings, LexicalIndex, TermCounts

#: bm25l and bm25+ give every live row a base score from the query terms present in the index;
#: a slice only knows its own terms, so those methods are not sharded.
SHARDABLE_METHODS = ("lucene", "robertson", "atire")


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs to know about the live rows of the whole index."""

    n_live: int
    total_len: int  # sum of the live rows' token counts
    terms: np.ndarray  # uint64 term hashes, sorted
    df: np.ndarray  # int64 live rows containing each term

    @property
    def avgdl(self) -> float:
        """As :class:`LexicalIndex` computes it (1.0 for an empty index)."""
        avg = float(self.total_len) / self.n_live if self.n_live else 1.0
        return avg if avg > 0 else 1.0

    def df_of(self, term: int) -> int:
        j = int(np.searchsorted(self.terms, np.uint64(term)))
        return int(self.df[j]) if j < len(self.terms) and int(self.terms[j]) == term else 0


def slice_term_counts(parts: Iterable[TermCounts], lo: int, hi: int) -> TermCounts:
    """The term counts of global rows ``[lo, hi)`` of an index whose segments are ``parts``
    (rows renumbered from 0), read from the stored posting lists."""
    hs, rs, fs, lens = [], [], [], []
    start = 0
    for p in parts:
        n = len(p)
        a, b = max(lo, start), min(hi, start + n)
        if a < b:
            rows = np.asarray(p.rows, dtype=np.int64)
            keep = (rows >= a - start) & (rows < b - start)
            hs.append(np.repeat(np.asarray(p.terms), np.diff(np.asarray(p.indptr)))[keep])
            rs.append(rows[keep] + (start - lo))
            fs.append(np.asarray(p.tf, dtype=np.uint32)[keep])
            lens.append(np.asarray(p.doclen)[a - start:b - start])
        start += n
    if not lens:
        return TermCounts.empty()
    return TermCounts._from_triples(np.concatenate(hs), np.concatenate(rs), np.concatenate(fs), np.concatenate(lens))


def slice_stats(counts: TermCounts, live: np.ndarray) -> CorpusStats:
    """One slice's share of the global statistics (its ``live`` rows only)."""
    live = np.asarray(live, dtype=bool)
    per_term = np.repeat(np.arange(len(counts.terms)), np.diff(np.asarray(counts.indptr)))
    df = np.bincount(per_term[live[np.asarray(counts.rows)]], minlength=len(counts.terms)).astype(np.int64)
    nz = df > 0
    return CorpusStats(int(live.sum()), int(np.asarray(counts.doclen)[live].sum(dtype=np.int64)),
                       np.asarray(counts.terms, dtype=np.uint64)[nz], df[nz])


def merge_stats(parts: Iterable[CorpusStats]) -> CorpusStats:
    """The whole index's statistics from every slice's (the reduce step)."""
    parts = list(parts)
    terms = np.concatenate([p.terms for p in parts]) if parts else np.zeros(0, np.uint64)
    dfs = np.concatenate([p.df for p in parts]) if parts else np.zeros(0, np.int64)
    uniq, inv = np.unique(terms, return_inverse=True)
    return CorpusStats(sum(p.n_live for p in parts), sum(p.total_len for p in parts), uniq,
                       np.bincount(inv, weights=dfs, minlength=len(uniq)).astype(np.int64))


class SliceLexical(LexicalIndex):
    """:class:`LexicalIndex` over one slice's term counts, scored with global :class:`CorpusStats`.
    Rows are local (0-based); ``live`` is the slice's tombstone mask."""

    def __init__(self, settings: BM25Settings, counts: TermCounts, live: np.ndarray, stats: CorpusStats) -> None:
        if settings.method not in SHARDABLE_METHODS:
            raise IndexFormatError(f"BM25 method {settings.method!r} cannot be sharded; use one of {', '.join(SHARDABLE_METHODS)}")
        super().__init__(settings, [counts], live)
        self.stats = stats
        self.n_live = stats.n_live
        self.avgdl = stats.avgdl
        b = settings.b  # the length normalisation of LexicalIndex.__init__, with the global average length
        self._norm = (1 - b + b * self._doclen.astype(np.float64) / self.avgdl).astype(np.float32)

    def _df(self, term: int, live_postings: int) -> int:
        return self.stats.df_of(term)
