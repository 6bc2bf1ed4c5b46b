"""BM25 over per-passage term counts, scored at query time with global statistics.

The index stores, per segment of rows, a sparse term x row matrix of raw term frequencies (CSC:
``terms`` sorted 64-bit term hashes, ``indptr``, ``rows``, ``tf``) and every row's length. A query
reads only its terms' posting lists and computes BM25 there, with df, N and the average length
over the *live* rows of every segment. So adding passages tokenizes only them, a deleted or
replaced row (a tombstone in the ``live`` mask) stops counting at once, and scores equal those of
bm25s (the reference, used in the tests) built from scratch over the live passages. Tokenizer:
lower-case words, Lucene's English stop words, PyStemmer stemming.

Search is term-at-a-time in compiled code (:mod:`index.bm25_kernels`, from
:data:`COMPILED_MIN_ROWS` rows): every posting of the query's lists is added to a float64
accumulator over the rows, then a heap picks the top k.
Each long list's per-posting term-frequency components ("impacts") are computed once per loaded
index and kept, so a query costs one multiply-add per posting. ``scores`` is the same formula
in NumPy, the reference the compiled path must match bit for bit.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .records import hash64

_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class BM25Settings:
    k1: float = 0.9
    b: float = 0.4
    method: str = "lucene"
    stemmer: str = "english"  # any PyStemmer algorithm, or "" for none
    stopwords: str = "en"  # "en" (Lucene's list) or "" for none

    def __post_init__(self) -> None:
        if not 0 <= self.k1 <= 10:
            raise ValueError(f"BM25 k1 must be in [0, 10], got {self.k1}")
        if not 0 <= self.b <= 1:
            raise ValueError(f"BM25 b must be in [0, 1], got {self.b}")
        if self.method not in {"lucene", "robertson", "atire", "bm25l", "bm25+"}:
            raise ValueError(f"unknown BM25 method {self.method!r}")


@lru_cache(maxsize=8)
def _stemmer(name: str):  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer(name)


@lru_cache(maxsize=4)
def _stopwords(name: str) -> frozenset[str]:
    if not name:
        return frozenset()
    from bm25s.stopwords import STOPWORDS_EN

    if name != "en":
        raise ValueError(f"unknown stop word list {name!r}")
    return frozenset(STOPWORDS_EN)


def tokenize(text: str, settings: BM25Settings = BM25Settings()) -> list[str]:
    """Lower-case word tokens, stop words removed, stemmed. The single tokenizer for indexing,
    querying and the reference-implementation test."""
    stop = _stopwords(settings.stopwords)
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop]
    if settings.stemmer:
        words = _stemmer(settings.stemmer).stemWords(words)
    return words



#: bm25s's default delta for BM25L / BM25+.
DELTA = 0.5
#: Tokenized per block when counting terms (bounds memory while building big indexes).
_BLOCK = 20_000


@lru_cache(maxsize=1 << 16)
def term_hash(term: str) -> int:
    """64-bit hash of a term: what the posting lists are keyed by (fixed width, fast lookup)."""
    return hash64(term)


def _idf(method: str, df: int, n: int) -> float:
    if method == "robertson":  # bm25s floors the inner ratio at 1 (no negative idf)
        return math.log(max((n - df + 0.5) / (df + 0.5), 1.0))
    if method == "lucene":
        return math.log(1 + (n - df + 0.5) / (df + 0.5))
    if method == "atire":
        return math.log(n / df)
    if method == "bm25l":
        return math.log((n + 1) / (df + 0.5))
    return math.log((n + 1) / df)  # bm25+


def _tfc_norm(method: str, tf: np.ndarray, norm: np.ndarray, k1: float) -> np.ndarray:
    """Term-frequency component given ``norm = 1 - b + b * dl / avgdl`` (bm25s's formulas)."""
    tf = np.asarray(tf, dtype=norm.dtype)
    if method in ("robertson", "lucene"):
        den = norm * np.asarray(k1, dtype=norm.dtype)
        den += tf
        return np.divide(tf, den, out=den)
    if method == "atire":
        return tf * (k1 + 1) / (tf + k1 * norm)
    if method == "bm25l":
        c = tf / norm
        return (k1 + 1) * (c + DELTA) / (k1 + c + DELTA)
    return (k1 + 1) * tf / (k1 * norm + tf) + DELTA  # bm25+


@dataclass
class TermCounts:
    """Raw term frequencies of a block of rows: a CSC matrix keyed by term hash, plus row lengths.
    Immutable once written; rows are local (0 .. len-1)."""

    terms: np.ndarray  # uint64, sorted, unique
    indptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32, local row of each posting (sorted within a term)
    tf: np.ndarray  # uint16/uint32 term frequency of each posting
    doclen: np.ndarray  # int32 tokens per row

    FILES = ("terms", "indptr", "rows", "tf", "doclen")

    def __len__(self) -> int:
        return len(self.doclen)

    @classmethod
    def from_texts(cls, texts: Iterable[str], settings: "BM25Settings", show_progress: bool = False) -> "TermCounts":
        texts = list(texts)
        it: Iterable[int] = range(0, len(texts), _BLOCK)
        if show_progress and len(texts) > _BLOCK:
            from tqdm import tqdm

            it = tqdm(it, desc="BM25 term counts", unit="block")
        cache: dict[str, int] = {}
        parts = []
        for s in it:
            parts.append(cls._count_block(texts[s : s + _BLOCK], s, settings, cache))
        if not parts:
            return cls.empty()
        h = np.concatenate([p[0] for p in parts])
        r = np.concatenate([p[1] for p in parts])
        f = np.concatenate([p[2] for p in parts])
        doclen = np.concatenate([p[3] for p in parts])
        return cls._from_triples(h, r, f, doclen)

    @staticmethod
    def _count_block(texts: list[str], offset: int, settings: "BM25Settings", cache: dict[str, int]):  # type: ignore[no-untyped-def]
        toks = [tokenize(t, settings) for t in texts]
        doclen = np.fromiter((len(t) for t in toks), dtype=np.int32, count=len(toks))
        local: dict[str, int] = {}
        codes = np.fromiter((local.setdefault(w, len(local)) for t in toks for w in t), dtype=np.int64,
                            count=int(doclen.sum()))
        if not len(codes):
            z = np.zeros(0, np.int64)
            return z.astype(np.uint64), z.astype(np.int32), z, doclen
        uniques = list(local)
        doc = np.repeat(np.arange(len(toks), dtype=np.int64), doclen)
        key = doc * len(uniques) + codes
        ukey, tf = np.unique(key, return_counts=True)
        hashes = np.fromiter((cache[w] if w in cache else cache.setdefault(w, term_hash(w)) for w in uniques),
                             dtype=np.uint64, count=len(uniques))
        return hashes[ukey % len(uniques)], (ukey // len(uniques) + offset).astype(np.int32), tf, doclen

    @classmethod
    def _from_triples(cls, h: np.ndarray, r: np.ndarray, f: np.ndarray, doclen: np.ndarray) -> "TermCounts":
        return cls.from_postings([(h, r, f)], doclen)

    @classmethod
    def from_postings(cls, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], doclen: np.ndarray) -> "TermCounts":
        """The CSC form of postings given as ``(term hash, row, tf)`` blocks. ``parts`` is emptied
        as it is read and every intermediate array is dropped as soon as it is used, so a big
        segment's postings are sorted in about 2.5x their own size (a streamed write holds them)."""
        h = np.concatenate([p[0] for p in parts]).astype(np.uint64, copy=False) if parts else np.zeros(0, np.uint64)
        r = np.concatenate([p[1] for p in parts]).astype(np.int32, copy=False) if parts else np.zeros(0, np.int32)
        f = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.uint32)
        parts.clear()
        order = np.lexsort((r, h))
        h = h[order]
        r = r[order]
        f = f[order]
        del order
        starts = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1]))) if len(h) else np.zeros(0, np.int64)
        terms = h[starts]
        indptr = np.append(starts, len(h)).astype(np.int64)
        del h
        tf_dtype = np.uint16 if (len(f) == 0 or int(f.max()) < 2**16) else np.uint32
        return cls(terms, indptr, r, f.astype(tf_dtype, copy=False), np.asarray(doclen).astype(np.int32, copy=False))

    @classmethod
    def empty(cls) -> "TermCounts":
        return cls(np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.uint16), np.zeros(0, np.int32))

    @classmethod
    def concat(cls, parts: Sequence["TermCounts"]) -> "TermCounts":
        """One block of the rows of ``parts``, in order (merging adjacent segments)."""
        hs, rs, fs, shift = [], [], [], 0
        for p in parts:
            hs.append(np.repeat(np.asarray(p.terms), np.diff(np.asarray(p.indptr))))
            rs.append(np.asarray(p.rows, dtype=np.int64) + shift)
            fs.append(np.asarray(p.tf, dtype=np.uint32))
            shift += len(p)
        doclen = np.concatenate([np.asarray(p.doclen) for p in parts]) if parts else np.zeros(0, np.int32)
        if not parts:
            return cls.empty()
        return cls._from_triples(np.concatenate(hs), np.concatenate(rs), np.concatenate(fs), doclen)

    def postings(self, h: int) -> tuple[np.ndarray, np.ndarray] | None:
        j = int(np.searchsorted(self.terms, np.uint64(h)))
        if j >= len(self.terms) or int(self.terms[j]) != h:
            return None
        a, b = int(self.indptr[j]), int(self.indptr[j + 1])
        return self.rows[a:b], self.tf[a:b]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in self.FILES:
            np.save(directory / f"{name}.npy", np.ascontiguousarray(getattr(self, name)))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> "TermCounts":
        mode = "r" if mmap else None
        return cls(**{name: np.load(directory / f"{name}.npy", mmap_mode=mode) for name in cls.FILES})


#: Methods whose scores are sums of non-negative per-term parts (no base score), ranked by the
#: compiled kernels of :mod:`index.bm25_kernels`; the value is the kernel's formula code.
_COMPILED = {"lucene": 0, "robertson": 0, "atire": 1}
#: Indexes with fewer rows are searched in NumPy (``scores`` and a top-k cut: the same results, well
#: under a millisecond there), so a one-shot ``qa search`` on a small index never pays the ~1 s it
#: takes to load the compiled kernels from numba's cache.
COMPILED_MIN_ROWS = 50_000
#: Search ranks by scanning every row once the query's lists hold more than 1/this of the rows
#: (else it lists the rows hit and ranks those).
_DENSE_SCAN = 4
#: Working arrays kept for reuse per loaded index (more concurrent searches allocate their own).
_SCRATCH_KEEP = 4
#: Posting lists at least this long keep their live count and impacts per index object.
_CACHE_MIN_POSTINGS = 4096


def _kernels():  # type: ignore[no-untyped-def]
    """:mod:`index.bm25_kernels`, imported on first search (numba takes ~0.4 s to import)."""
    from . import bm25_kernels

    return bm25_kernels


@dataclass(frozen=True)
class _QueryTerm:
    """One query term of :meth:`LexicalIndex._terms`: its posting-list slices, one per segment
    holding it, and its idf (times its query weight)."""

    hash: int
    #: (local rows, tf, segment start, segment rows, (segment, first posting)), one per segment
    slices: list[tuple[np.ndarray, np.ndarray, int, int, tuple[int, int]]]
    idf: float

    @property
    def n_postings(self) -> int:
        return sum(len(sl[0]) for sl in self.slices)


class _Scratch:
    """One search's working arrays over every row: ``acc`` (float64, all 0 between uses) and
    ``touched`` (the rows ``acc`` holds a value for)."""

    def __init__(self, n: int) -> None:
        self.acc = np.zeros(n, dtype=np.float64)
        self.touched = np.empty(n, dtype=np.int64)
        self.n = 0


class LexicalIndex:
    """BM25 over one or more :class:`TermCounts` blocks (segments), addressed by global row.

    ``live`` (optional boolean mask over rows) marks rows that still count: the others are
    tombstones, never returned and left out of df, N and the average length."""

    def __init__(self, settings: BM25Settings, parts: Sequence[TermCounts], live: np.ndarray | None = None) -> None:
        self.settings = settings
        self._parts = list(parts)
        self._starts = np.cumsum([0] + [len(p) for p in self._parts]).astype(np.int64)
        self._doclen = (np.concatenate([np.asarray(p.doclen) for p in self._parts]) if self._parts
                        else np.zeros(0, np.int32))
        self._live = None if live is None or bool(np.all(live)) else np.asarray(live, dtype=bool)
        if self._live is not None and len(self._live) != len(self._doclen):
            raise ValueError("the live mask must cover every row")
        lens = self._doclen if self._live is None else self._doclen[self._live]
        self.n_live = int(len(lens))
        self.avgdl = float(lens.sum(dtype=np.int64)) / self.n_live if self.n_live else 1.0
        if self.avgdl <= 0:
            self.avgdl = 1.0
        b = settings.b
        #: per-row length normalisation ``1 - b + b * dl / avgdl`` (recomputed when the live set changes)
        self._norm = (1 - b + b * self._doclen.astype(np.float64) / self.avgdl).astype(np.float32)
        #: each segment's CSC arrays as plain ndarrays (views of the memory maps: cheaper to slice)
        self._arrays = [(np.asarray(p.terms), np.asarray(p.indptr), np.asarray(p.rows), np.asarray(p.tf)) for p in self._parts]
        #: ``(term hash, "df")`` -> live postings, for long lists (fixed while this object lives:
        #: the live set never changes under it)
        self._cache: dict[tuple[int, str], float] = {}
        self._live_arg = self._live if self._live is not None else np.zeros(0, dtype=bool)
        self._k1 = np.float32(settings.k1)
        self._k1p1 = np.float32(settings.k1 + 1)
        self._scratch: list[_Scratch] = []
        #: ``(segment, first posting)`` -> :meth:`_impacts` of a long list
        self._impact_cache: dict[tuple[int, int], np.ndarray] = {}
        self._scratch_lock = threading.Lock()

    @classmethod
    def build(cls, texts: Sequence[str], settings: BM25Settings = BM25Settings(), show_progress: bool = False) -> "LexicalIndex":
        """An in-memory index of ``texts`` (one segment, every row live)."""
        return cls(settings, [TermCounts.from_texts(texts, settings, show_progress=show_progress)])

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def parts(self) -> list[TermCounts]:
        return list(self._parts)

    def _terms(self, query: "str | Mapping[str, float]") -> list[_QueryTerm]:
        """The query's terms that have a live posting, in query order, each with its posting-list
        slices (one per segment), idf (times its weight) and an upper bound on its contribution.
        A term repeated in the query counts once per occurrence, as in bm25s; a term with no live
        posting is skipped, as bm25s skips terms outside its vocabulary. ``query`` may also be
        ``{token: weight}`` (tokens as :func:`tokenize` makes them): each term's BM25 then
        counts ``weight`` times."""
        st = self.settings
        occurrences: dict[str, float] = {}
        if isinstance(query, str):
            for tok in tokenize(query, st):
                occurrences[tok] = occurrences.get(tok, 0) + 1
        else:  # already tokenized terms with weights (e.g. a query expanded by feedback)
            occurrences = {t: float(w) for t, w in query.items() if w > 0}
        if not occurrences or not self._parts:
            return []
        hashes = np.fromiter((term_hash(t) for t in occurrences), dtype=np.uint64, count=len(occurrences))
        slices: list[list[tuple[np.ndarray, np.ndarray, int, int, tuple[int, int]]]] = [[] for _ in occurrences]
        for seg, (start, size, (terms, indptr, prow, ptf)) in enumerate(zip(self._starts, np.diff(self._starts), self._arrays)):
            if not len(terms):
                continue
            j = np.minimum(np.searchsorted(terms, hashes), len(terms) - 1)
            for t in np.flatnonzero(terms[j] == hashes):
                a, b = int(indptr[j[t]]), int(indptr[j[t] + 1])
                if b > a:
                    slices[t].append((prow[a:b], ptf[a:b], int(start), int(size), (seg, a)))
        out: list[_QueryTerm] = []
        for h, sl, mult in zip(hashes, slices, occurrences.values()):
            df = self._live_postings(int(h), sl) if sl else 0
            if not df:  # no live posting: as if outside the vocabulary
                continue
            idf = _idf(st.method, self._df(int(h), df), self.n_live) * mult  # a repeated query term counts per occurrence
            out.append(_QueryTerm(int(h), sl, idf))
        return out

    def _materialize(self, term: _QueryTerm) -> tuple[np.ndarray, np.ndarray]:
        """``(global rows, tf)`` of the term's live postings, rows ascending."""
        parts = [(r + start if start else r, f) for r, f, start, _, _ in term.slices]
        r = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
        f = parts[0][1] if len(parts) == 1 else np.concatenate([p[1] for p in parts])
        if self._live is not None:
            keep = self._live[r]
            r, f = r[keep], f[keep]
        return r, f

    def _live_postings(self, h: int, slices: list[tuple[np.ndarray, np.ndarray, int, int, tuple[int, int]]]) -> int:
        """How many of the term's postings are live (its df here); cached for long lists."""
        n = sum(len(sl[0]) for sl in slices)
        if self._live is None:
            return n
        if n >= _CACHE_MIN_POSTINGS and (h, "df") in self._cache:
            return int(self._cache[(h, "df")])
        df = int(sum(int(np.count_nonzero(self._live[r + start])) for r, _, start, _, _ in slices))
        if n >= _CACHE_MIN_POSTINGS:
            self._cache[(h, "df")] = df
        return df

    def _impacts(self, sl: tuple[np.ndarray, np.ndarray, int, int, tuple[int, int]]) -> np.ndarray:
        """Each posting's term-frequency component in one list slice (0 for tombstones), float32,
        as :func:`_tfc_norm` computes it. Kept for long lists: they depend only on the live set
        and the lengths, fixed for this object (at most 4 bytes a posting, for the lists queries
        read)."""
        rows, tf, start, _, key = sl
        got = self._impact_cache.get(key)
        if got is not None:
            return got
        imp = _kernels().impacts(rows, tf, start, self._live_arg, self._norm, self._k1, self._k1p1,
                              _COMPILED[self.settings.method])
        if len(rows) >= _CACHE_MIN_POSTINGS:
            self._impact_cache[key] = imp
        return imp

    def _values(self, term: _QueryTerm) -> tuple[np.ndarray, np.ndarray]:
        """``(global rows, float32 contributions)`` of the term's live postings, rows ascending."""
        st = self.settings
        r, f = self._materialize(term)
        v = _tfc_norm(st.method, f, self._norm[r], st.k1)
        v *= np.float32(term.idf)
        return r, v

    def _postings(self, terms: Sequence[_QueryTerm]) -> tuple[np.ndarray, np.ndarray, float]:
        """``(rows, partial scores)`` of every posting of ``terms`` (see :meth:`_terms`) over
        live rows, and the score every live row gets from non-occurrence (BM25L/BM25+ only; 0
        otherwise). Partial scores are relative to that base."""
        st = self.settings
        tfc0 = float(_tfc_norm(st.method, np.zeros(1), np.ones(1), st.k1)[0]) if st.method in ("bm25l", "bm25+") else 0.0
        rows_out: list[np.ndarray] = []
        vals_out: list[np.ndarray] = []
        base = 0.0
        for term in terms:
            r, v = self._values(term)
            if tfc0:
                v -= np.float32(term.idf * tfc0)  # relative to the non-occurrence score every row gets
                base += term.idf * tfc0
            rows_out.append(r)
            vals_out.append(v)
        if not rows_out:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), 0.0
        rows = rows_out[0] if len(rows_out) == 1 else np.concatenate(rows_out)
        return rows.astype(np.int64, copy=False), (vals_out[0] if len(vals_out) == 1 else np.concatenate(vals_out)), base

    def _accumulate(self, terms: Sequence[_QueryTerm], sc: _Scratch, track: bool) -> None:
        """Add every live posting of ``terms`` to ``sc.acc``, in term order (compiled); with
        ``track``, list the rows hit in ``sc.touched``."""
        for term in terms:
            idf = np.float32(term.idf)
            for sl in term.slices:
                sc.n = _kernels().accumulate(sl[0], self._impacts(sl), sl[2], idf, sc.acc, sc.touched, sc.n, track)

    @contextlib.contextmanager
    def _borrow(self) -> Iterator[_Scratch]:
        """Working arrays for one search: reused ones when free, else new. They go back only when
        the search ended normally (its kernels reset ``acc``); after an error they are dropped."""
        with self._scratch_lock:
            sc = self._scratch.pop() if self._scratch else None
        sc = sc or _Scratch(len(self))
        sc.n = 0
        yield sc
        with self._scratch_lock:
            if len(self._scratch) < _SCRATCH_KEEP:
                self._scratch.append(sc)

    def _df(self, term: int, live_postings: int) -> int:
        """Document frequency of the term with hash ``term``: its live postings here. (A shard of
        the index, :class:`qa.cluster.bm25.SliceLexical`, answers with the whole index's.)"""
        return live_postings

    def scores(self, query: "str | Mapping[str, float]") -> np.ndarray:
        """BM25 score of every row for ``query`` (zeros where no term matches; tombstones 0);
        ``query`` is text or ``{token: weight}``."""
        rows, vals, base = self._postings(self._terms(query))
        s = np.bincount(rows, weights=vals, minlength=len(self)) + base
        if self._live is not None and base:
            s[~self._live] = 0.0
        return s.astype(np.float32)

    def ranking(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """:meth:`search` as ``[(row, score), ...]``, best first: what fusion and evaluation take."""
        rows, scores = self.search(query, k, allowed=allowed)
        return [(int(r), float(s)) for r, s in zip(rows, scores)]

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` live rows with a positive score, best first (ties by row): ``(rows, scores)``.

        ``allowed`` (boolean mask over rows, True = may be returned) filters the candidates
        before the top-k cut; it does not change the statistics. Only the posting lists of the
        query's terms are touched, so the cost follows the number of matching passages."""
        terms = self._terms(query)
        if self.settings.method in _COMPILED and len(self) >= COMPILED_MIN_ROWS:
            return self._search_all(terms, k, allowed)  # no base score: only rows in some list can score
        # small indexes, and BM25L / BM25+ (every live row has a score): the NumPy formula over every row
        rows, vals, base = self._postings(terms)
        s = np.bincount(rows, weights=vals, minlength=len(self)) + base
        ok = np.ones(len(self), bool) if self._live is None else self._live.copy()
        if allowed is not None:
            ok &= np.asarray(allowed, dtype=bool)
        cand = np.flatnonzero(ok & (s > 0))
        return self._top(cand, s[cand], k)

    def _search_all(self, terms: Sequence[_QueryTerm], k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` by scoring every posting of ``terms`` (compiled: accumulate, then a heap)."""
        k = min(k, len(self))
        if k <= 0 or not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        mask = np.zeros(0, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
        rows, scores = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.float32)
        # few postings: list the rows hit and rank those; many: rank by one pass over every row
        dense = sum(t.n_postings for t in terms) * _DENSE_SCAN > len(self)
        with self._borrow() as sc:
            self._accumulate(terms, sc, track=not dense)
            m = _kernels().top_k(sc.acc, sc.touched, sc.n, dense, mask, k, rows, scores)
        order = np.lexsort((rows[:m], -scores[:m]))
        return rows[order], scores[order]

    @staticmethod
    def _top(cand: np.ndarray, cs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        cs = cs.astype(np.float32)
        k = min(k, len(cand))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if k < len(cand):
            part = np.argpartition(-cs, k - 1)[:k]
            # include every candidate tied with the k-th score, so ties break by row, not by chance
            kth = cs[part].min()
            part = np.flatnonzero(cs >= kth)
            cand, cs = cand[part], cs[part]
        order = np.lexsort((cand, -cs))[:k]
        return cand[order].astype(np.int64), cs[order]
