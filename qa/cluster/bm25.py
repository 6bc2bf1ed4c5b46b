"""BM25 over a slice of the passages, scored with the statistics of the WHOLE index.

A shard holds only its rows, but BM25's document frequencies, document count and average length
must be those of the whole corpus, or a shard's scores (and so the merged ranking) would differ
from the single index's. The statistics are a map-reduce: each slice counts its own
(:func:`slice_stats`), :func:`merge_stats` adds them up, and every shard scores with the total
(:class:`SliceBM25`). Scores are computed with the same tokenizer
(:func:`index.lexical.tokenize`) and the same term-frequency and idf formulas as bm25s, so a
sharded score equals the single index's ``LexicalIndex.ranking`` score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from index.errors import IndexFormatError
from index.lexical import BM25Settings, tokenize

#: bm25l and bm25+ add a score to every document (a dense "non-occurrence" term); not sharded.
SHARDABLE_METHODS = ("lucene", "robertson", "atire")


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs to know about the whole corpus."""

    n_docs: int
    total_len: int  # sum of the passages' token counts
    df: dict[str, int]  # documents containing each term

    @property
    def avgdl(self) -> float:
        return float(np.float64(self.total_len) / np.float64(self.n_docs)) if self.n_docs else 0.0


def tokenize_all(texts: Iterable[str], settings: BM25Settings) -> list[list[str]]:
    return [tokenize(t, settings) for t in texts]


def slice_stats(tokens: Sequence[Sequence[str]]) -> CorpusStats:
    """The statistics of one slice (its share of the corpus totals)."""
    df: Counter[str] = Counter()
    for doc in tokens:
        df.update(set(doc))
    return CorpusStats(len(tokens), sum(len(d) for d in tokens), dict(df))


def merge_stats(parts: Iterable[CorpusStats]) -> CorpusStats:
    """The corpus statistics from every slice's (the reduce step)."""
    df: Counter[str] = Counter()
    n = total = 0
    for p in parts:
        n += p.n_docs
        total += p.total_len
        df.update(p.df)
    return CorpusStats(n, total, dict(df))


def _scorers(method: str):  # type: ignore[no-untyped-def]
    from index.lexical import _bm25s

    _bm25s()  # quiets bm25s' logger
    from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer

    return _select_tfc_scorer(method), _select_idf_scorer(method)


class SliceBM25:
    """BM25 over one slice, scored with global :class:`CorpusStats`. Rows are local (0-based)."""

    def __init__(self, tokens: Sequence[Sequence[str]], stats: CorpusStats, settings: BM25Settings) -> None:
        if settings.method not in SHARDABLE_METHODS:
            raise IndexFormatError(f"BM25 method {settings.method!r} cannot be sharded; use one of {', '.join(SHARDABLE_METHODS)}")
        self.settings = settings
        self.n = len(tokens)
        tfc_fn, idf_fn = _scorers(settings.method)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lens = np.zeros(self.n, dtype=np.int64)
        for r, doc in enumerate(tokens):
            lens[r] = len(doc)
            for term, tf in Counter(doc).items():
                rows.append(r)
                cols.append(vocab.setdefault(term, len(vocab)))
                tfs.append(tf)
        self._vocab = vocab
        # idf from the GLOBAL document frequency, as float32 like bm25s' idf array
        idf = np.zeros(len(vocab), dtype=np.float32)
        for term, c in vocab.items():
            idf[c] = idf_fn(stats.df[term], N=stats.n_docs)
        r_arr = np.asarray(rows, dtype=np.int64)
        c_arr = np.asarray(cols, dtype=np.int64)
        tf = np.asarray(tfs, dtype=np.float32)
        # the same expression bm25s evaluates per document, here for all (row, term) pairs at once
        tfc = tfc_fn(tf_array=tf, l_d=lens[r_arr], l_avg=np.float64(stats.avgdl), k1=settings.k1, b=settings.b)
        data = (idf[c_arr] * tfc).astype(np.float32)
        self._scores = sp.csc_matrix((data, (r_arr, c_arr)), shape=(self.n, len(vocab)), dtype=np.float32)

    def __len__(self) -> int:
        return self.n

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` local rows with a positive score, best first, ties by row (``LexicalIndex.search``'s order)."""
        ids = [self._vocab[t] for t in tokenize(query, self.settings) if t in self._vocab]
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if not ids:
            return empty
        m = self._scores
        rows = np.concatenate([m.indices[m.indptr[i]:m.indptr[i + 1]] for i in ids])
        vals = np.concatenate([m.data[m.indptr[i]:m.indptr[i + 1]] for i in ids])
        # per-row sums in the same order as bm25s / LexicalIndex (one block per query-token occurrence)
        s = np.bincount(rows, weights=vals, minlength=self.n).astype(np.float32)
        keep = s > 0
        if allowed is not None:
            keep &= allowed
        cand = np.flatnonzero(keep)
        cs = s[cand]
        k = min(k, len(cand))
        if k <= 0:
            return empty
        order = np.lexsort((cand, -cs))[:k]
        return cand[order].astype(np.int64), cs[order]
