"""Immutable segments of index rows: records, vectors, doc keys and BM25 term counts.

A segment is a folder written once and never modified. A new index generation hard-links the
segments it keeps from the previous one and writes only what is new, so an update costs what it
adds, not the index size. Rows are numbered globally by concatenating the segments in order;
merging adjacent segments (:func:`write_segment` over several parts) keeps that numbering.

Files of a segment::

    passages.jsonl  passages.offsets.npy   one JSON line per row (the Passage) and byte offsets
    articles.jsonl  articles.offsets.npy   the article records first written in this segment
    embeddings.npy                          float32 (rows, dim)
    rows.doc.npy                            uint64 hash of each row's doc id (find an article's rows)
    bm25/{terms,indptr,rows,tf,doclen}.npy  term counts (see :class:`index.lexical.TermCounts`)
"""

from __future__ import annotations

import json
import mmap as _mmap
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .lexical import BM25Settings, TermCounts
from .records import Article, Passage, hash64

PASSAGES = "passages.jsonl"
PASSAGE_OFFSETS = "passages.offsets.npy"
ARTICLES = "articles.jsonl"
ARTICLE_OFFSETS = "articles.offsets.npy"
EMBEDDINGS = "embeddings.npy"
DOC_KEYS = "rows.doc.npy"
BM25_DIR = "bm25"


class LineFile:
    """A read-only, memory-mapped JSON-lines file addressed by byte offsets."""

    def __init__(self, path: Path) -> None:
        self.path = path
        size = path.stat().st_size
        with path.open("rb") as fh:
            self._mm = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ) if size else b""

    def line(self, start: int, end: int) -> dict[str, Any]:
        return json.loads(self._mm[start:end])


def doc_key(doc_id: str) -> int:
    return hash64(doc_id)


@dataclass
class NewRows:
    """Rows (and article records) not yet on disk, for :func:`write_segment`."""

    passages: list[Passage]
    vectors: np.ndarray
    articles: list[Article]
    terms: TermCounts

    @classmethod
    def make(cls, passages: list[Passage], vectors: np.ndarray, articles: list[Article], bm25: BM25Settings,
             title_in_passage: bool, show_progress: bool = False) -> "NewRows":
        terms = TermCounts.from_texts([p.index_text(title_in_passage) for p in passages], bm25, show_progress=show_progress)
        return cls(list(passages), np.ascontiguousarray(vectors, dtype=np.float32), list(articles), terms)

    def __len__(self) -> int:
        return len(self.passages)


class Segment:
    """A loaded segment (everything memory-mapped or lazily decoded)."""

    def __init__(self, directory: Path, *, mmap: bool = False) -> None:
        self.directory = directory
        self.name = directory.name
        self.passage_file = LineFile(directory / PASSAGES)
        self.passage_offsets = np.load(directory / PASSAGE_OFFSETS, mmap_mode="r")
        self.article_file = LineFile(directory / ARTICLES)
        self.article_offsets = np.load(directory / ARTICLE_OFFSETS, mmap_mode="r")
        self.embeddings = np.load(directory / EMBEDDINGS, mmap_mode="r")
        self.doc_keys = np.load(directory / DOC_KEYS, mmap_mode="r")
        self.terms = TermCounts.load(directory / BM25_DIR, mmap=mmap)
        n = len(self.passage_offsets) - 1
        if not (n == len(self.embeddings) == len(self.doc_keys) == len(self.terms)):
            raise ValueError(f"segment {self.name} is inconsistent: passage, vector, key and BM25 row counts differ")

    @property
    def rows(self) -> int:
        return len(self.passage_offsets) - 1

    @property
    def n_articles(self) -> int:
        return len(self.article_offsets) - 1

    def passage(self, i: int) -> Passage:
        return Passage.from_dict(self.passage_file.line(int(self.passage_offsets[i]), int(self.passage_offsets[i + 1])))

    def article(self, i: int) -> Article:
        return Article.from_dict(self.article_file.line(int(self.article_offsets[i]), int(self.article_offsets[i + 1])))


def _jsonl_bytes(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def _concat_lines(out: Path, parts: Sequence[tuple[Path | None, np.ndarray | None, Iterable[bytes]]]) -> np.ndarray:
    """Write JSON lines from existing files (copied byte for byte) and new rows; return offsets."""
    offsets = [np.zeros(1, np.int64)]
    pos = 0
    with out.open("wb") as f:
        for path, offs, new in parts:
            if path is not None and offs is not None:
                with path.open("rb") as src:
                    shutil.copyfileobj(src, f, 1 << 22)
                offsets.append(np.asarray(offs[1:], dtype=np.int64) + pos)
                pos += int(offs[-1])
            else:
                ends = []
                for data in new:
                    f.write(data)
                    pos += len(data)
                    ends.append(pos)
                offsets.append(np.asarray(ends, dtype=np.int64))
    return np.concatenate(offsets)


def write_segment(directory: Path, parts: Sequence[Segment | NewRows], dim: int) -> None:
    """Write one segment holding the rows and articles of ``parts`` in order (existing segments
    are copied byte for byte, new rows serialised)."""
    directory.mkdir(parents=True)
    p_parts: list[tuple[Path | None, np.ndarray | None, Iterable[bytes]]] = []
    a_parts: list[tuple[Path | None, np.ndarray | None, Iterable[bytes]]] = []
    vecs, keys, terms = [], [], []
    for part in parts:
        if isinstance(part, Segment):
            p_parts.append((part.passage_file.path, part.passage_offsets, ()))
            a_parts.append((part.article_file.path, part.article_offsets, ()))
            vecs.append(np.asarray(part.embeddings, dtype=np.float32))
            keys.append(np.asarray(part.doc_keys, dtype=np.uint64))
            terms.append(part.terms)
        else:
            p_parts.append((None, None, _jsonl_bytes(p.to_dict() for p in part.passages)))
            a_parts.append((None, None, _jsonl_bytes(a.to_dict() for a in part.articles)))
            vecs.append(np.asarray(part.vectors, dtype=np.float32).reshape(len(part), dim))
            keys.append(np.fromiter((doc_key(p.doc_id) for p in part.passages), dtype=np.uint64, count=len(part)))
            terms.append(part.terms)
    np.save(directory / PASSAGE_OFFSETS, _concat_lines(directory / PASSAGES, p_parts))
    np.save(directory / ARTICLE_OFFSETS, _concat_lines(directory / ARTICLES, a_parts))
    np.save(directory / EMBEDDINGS, np.concatenate(vecs) if len(vecs) != 1 else np.ascontiguousarray(vecs[0]))
    np.save(directory / DOC_KEYS, np.concatenate(keys) if keys else np.zeros(0, np.uint64))
    (terms[0] if len(terms) == 1 else TermCounts.concat(terms)).save(directory / BM25_DIR)


def link_segment(src: Path, dst: Path) -> None:
    """Put an existing (immutable) segment into a new generation: hard links, no copying."""
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:  # a file system without hard links: copy
            shutil.copy2(path, target)
