"""BM25 with bm25s, English stemming (PyStemmer) and Lucene's stop words."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

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


def _bm25s():  # type: ignore[no-untyped-def]
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
    return bm25s


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


class LexicalIndex:
    """A bm25s index over passages, addressed by row number."""

    def __init__(self, settings: BM25Settings, retriever) -> None:  # type: ignore[no-untyped-def]
        self.settings = settings
        self._bm25 = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], settings: BM25Settings = BM25Settings(), show_progress: bool = False) -> "LexicalIndex":
        retriever = _bm25s().BM25(k1=settings.k1, b=settings.b, method=settings.method)
        retriever.index([tokenize(t, settings) for t in texts], show_progress=show_progress)
        return cls(settings, retriever)

    def __len__(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def _postings(self, query: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Concatenated ``(doc rows, partial scores)`` of the query's tokens (one block per
        occurrence, as bm25s sums them), or ``None`` when the method needs dense scoring."""
        if getattr(self._bm25, "nonoccurrence_array", None) is not None:
            return None  # bm25l / bm25+ add a score to every document
        ids = [self._vocab[t] for t in tokenize(query, self.settings) if t in self._vocab]
        sc = self._bm25.scores
        indptr, indices, data = sc["indptr"], sc["indices"], sc["data"]
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        blocks = [(int(indptr[i]), int(indptr[i + 1])) for i in ids]
        rows = np.concatenate([indices[a:b] for a, b in blocks])
        vals = np.concatenate([data[a:b] for a, b in blocks])
        return rows, vals

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros where no term matches)."""
        post = self._postings(query)
        if post is None:
            toks = [t for t in tokenize(query, self.settings) if t in self._vocab]
            if not toks:
                return np.zeros(len(self), dtype=np.float32)
            return np.asarray(self._bm25.get_scores(toks), dtype=np.float32)
        rows, vals = post
        return np.bincount(rows, weights=vals, minlength=len(self)).astype(np.float32)

    def ranking(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """:meth:`search` as ``[(row, score), ...]``, best first: what fusion and evaluation take.
        ``allowed`` (bool per row) restricts the rows returned, before the top-``k`` cut."""
        if allowed is not None:  # interim: rank every row, keep the allowed ones
            rows, scores = self.search(query, len(self))
            return [(int(r), float(s)) for r, s in zip(rows, scores) if allowed[r]][:k]
        rows, scores = self.search(query, k)
        return [(int(r), float(s)) for r, s in zip(rows, scores)]

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows with a positive score, best first (ties by row): ``(rows, scores)``.

        Only the posting lists of the query's terms are touched (no dense array over the whole
        index), so the cost follows the number of matching passages, not the index size."""
        post = self._postings(query)
        if post is None:
            s = self.scores(query)
            cand = np.flatnonzero(s > 0)
            cs = s[cand]
        else:
            rows, vals = post
            if len(rows) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if len(rows) * 16 > len(self):
                # long posting lists (common terms, big index): a dense bincount beats sorting them
                s = np.bincount(rows, weights=vals, minlength=len(self)).astype(np.float32)
                cand = np.flatnonzero(s > 0)
                cs = s[cand]
            else:
                cand, inverse = np.unique(rows, return_inverse=True)
                cs = np.bincount(inverse, weights=vals).astype(np.float32)
                keep = cs > 0
                cand, cs = cand[keep], cs[keep]
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

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory), show_progress=False)
        (directory / "settings.json").write_text(json.dumps(asdict(self.settings)))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> "LexicalIndex":
        settings = BM25Settings(**json.loads((directory / "settings.json").read_text()))
        retriever = _bm25s().BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)
        return cls(settings, retriever)
