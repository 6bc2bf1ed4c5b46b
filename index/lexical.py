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

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros where no term matches)."""
        toks = [t for t in tokenize(query, self.settings) if t in self._vocab]
        if not toks:
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(toks), dtype=np.float32)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows with a positive score, best first: ``(rows, scores)``."""
        s = self.scores(query)
        k = min(k, len(s))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        top = top[s[top] > 0]
        return top.astype(np.int64), s[top]

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory), show_progress=False)
        (directory / "settings.json").write_text(json.dumps(asdict(self.settings)))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> "LexicalIndex":
        settings = BM25Settings(**json.loads((directory / "settings.json").read_text()))
        retriever = _bm25s().BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)
        return cls(settings, retriever)
