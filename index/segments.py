"""Immutable segments of index rows: records, vectors, doc keys and BM25 term counts.

A segment is a folder written once and never modified. A new index generation hard-links the
segments it keeps from the previous one and writes only what is new, so an update costs what it
adds, not the index size. Rows are numbered globally by concatenating the segments in order;
merging adjacent segments (:func:`write_segment` over several parts) keeps that numbering.

Segments are written as a stream (:class:`SegmentWriter`): new rows arrive in batches
(:class:`RowStream`), and their lines, vectors and keys go to disk batch by batch, so writing
costs a batch of memory plus the BM25 postings (16 bytes each), whatever the input size.

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
#: Rows of an existing segment copied at a time into a merged one.
COPY_ROWS = 65_536


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


#: A ``text`` longer than this is serialised this many characters at a time: one 50 MB article text
#: as one JSON line was three more whole copies of it at once (+200 MB at the end of a build).
JSON_PIECE_CHARS = 1 << 20
#: Stands for a long text while the rest of its record is serialised.
_TEXT_MARK = "\ue000qa:text\ue000"


def _json_line(row: dict[str, Any]) -> Iterator[bytes]:
    """``json.dumps(row, ensure_ascii=False) + "\\n"`` in UTF-8, a long ``text`` value in pieces (JSON
    escapes character by character, so the pieces join to the very same bytes)."""
    text = row.get("text")
    if isinstance(text, str) and len(text) > JSON_PIECE_CHARS:
        line = json.dumps({**row, "text": _TEXT_MARK}, ensure_ascii=False)
        if line.count(_TEXT_MARK) == 1:
            head, tail = line.split(f'"{_TEXT_MARK}"')
            yield f'{head}"'.encode("utf-8")
            for i in range(0, len(text), JSON_PIECE_CHARS):
                yield json.dumps(text[i:i + JSON_PIECE_CHARS], ensure_ascii=False)[1:-1].encode("utf-8")
            yield f'"{tail}\n'.encode("utf-8")
            return
    yield (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass
class RowStream:
    """New rows that arrive batch by batch (``(passages, vectors)``, e.g. embedded lazily by the
    builder), with the article records first written in this segment. :func:`write_segment`
    writes each batch as it comes, so memory is bounded by a batch, not by the whole stream."""

    batches: Iterable[tuple[Sequence[Passage], np.ndarray]]
    articles: list[Article]
    bm25: BM25Settings
    title_in_passage: bool


class SegmentWriter:
    """Writes one segment part after part: passage lines, vectors and doc keys go to disk (or to
    small arrays) as rows arrive; BM25 postings are kept as compact triples and sorted into their
    CSC form by :meth:`close`. The files are the same, byte for byte, as writing all rows at once."""

    def __init__(self, directory: Path, dim: int) -> None:
        directory.mkdir(parents=True)
        self.directory, self.dim, self.rows = directory, dim, 0
        self._passages = (directory / PASSAGES).open("wb")
        self._articles = (directory / ARTICLES).open("wb")
        self._vectors = (directory / f"{EMBEDDINGS}.part").open("wb")
        self._p_ends: list[np.ndarray] = [np.zeros(1, np.int64)]
        self._a_ends: list[np.ndarray] = [np.zeros(1, np.int64)]
        self._keys: list[np.ndarray] = []
        self._postings: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._doclen: list[np.ndarray] = []

    @staticmethod
    def _append(out: Any, rows: Iterable[dict[str, Any]], ends: list[np.ndarray]) -> None:
        pos, got = int(ends[-1][-1]), []
        for row in rows:
            for data in _json_line(row):
                out.write(data)
                pos += len(data)
            got.append(pos)
        ends.append(np.asarray(got, dtype=np.int64))

    def _terms(self, terms: TermCounts, n: int) -> None:
        h = np.repeat(np.asarray(terms.terms, dtype=np.uint64), np.diff(np.asarray(terms.indptr)))
        self._postings.append((h, (np.asarray(terms.rows, dtype=np.int64) + self.rows).astype(np.int32),
                               np.asarray(terms.tf, dtype=np.uint32)))
        self._doclen.append(np.asarray(terms.doclen, dtype=np.int32))

    def copy(self, seg: Segment) -> None:
        """Append an existing segment's rows and articles (files copied byte for byte)."""
        for src, out, offs, ends in ((seg.passage_file.path, self._passages, seg.passage_offsets, self._p_ends),
                                     (seg.article_file.path, self._articles, seg.article_offsets, self._a_ends)):
            with src.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 22)
            ends.append(np.asarray(offs[1:], dtype=np.int64) + int(ends[-1][-1]))
        for a in range(0, seg.rows, COPY_ROWS):
            self._vectors.write(np.ascontiguousarray(seg.embeddings[a:a + COPY_ROWS], dtype=np.float32).tobytes())
        self._keys.append(np.asarray(seg.doc_keys, dtype=np.uint64))
        self._terms(seg.terms, seg.rows)
        self.rows += seg.rows

    def add_rows(self, passages: Sequence[Passage], vectors: np.ndarray, terms: TermCounts) -> None:
        """Append new rows (``terms``: their counts, local rows 0..len-1)."""
        n = len(passages)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(n, self.dim)
        if len(terms) != n:
            raise ValueError("one term-count row per passage is required")
        self._append(self._passages, (p.to_dict() for p in passages), self._p_ends)
        self._vectors.write(vectors.tobytes())
        self._keys.append(np.fromiter((doc_key(p.doc_id) for p in passages), dtype=np.uint64, count=n))
        self._terms(terms, n)
        self.rows += n

    def add_articles(self, articles: Iterable[Article]) -> None:
        self._append(self._articles, (a.to_dict() for a in articles), self._a_ends)

    def close(self) -> None:
        """Write the offsets, the vectors' ``.npy`` (header + the rows streamed so far), the doc
        keys and the BM25 term counts."""
        d = self.directory
        for fh in (self._passages, self._articles, self._vectors):
            fh.close()
        np.save(d / PASSAGE_OFFSETS, np.concatenate(self._p_ends))
        np.save(d / ARTICLE_OFFSETS, np.concatenate(self._a_ends))
        part = d / f"{EMBEDDINGS}.part"
        with (d / EMBEDDINGS).open("wb") as out, part.open("rb") as src:
            header = np.lib.format.header_data_from_array_1_0(np.zeros((0, self.dim), np.float32))
            header["shape"] = (self.rows, self.dim)
            np.lib.format.write_array_header_1_0(out, header)  # what np.save writes for this shape
            shutil.copyfileobj(src, out, 1 << 22)
        part.unlink()
        np.save(d / DOC_KEYS, np.concatenate(self._keys) if self._keys else np.zeros(0, np.uint64))
        self._keys = []
        if not self._doclen:
            TermCounts.empty().save(d / BM25_DIR)
            return
        TermCounts.from_postings(self._postings, np.concatenate(self._doclen)).save(d / BM25_DIR)


def write_segment(directory: Path, parts: Sequence[Segment | NewRows | RowStream], dim: int) -> int:
    """Write one segment holding the rows and articles of ``parts`` in order (existing segments
    are copied byte for byte, new rows serialised, a :class:`RowStream` batch by batch).
    Returns the number of rows written."""
    writer = SegmentWriter(directory, dim)
    try:
        for part in parts:
            if isinstance(part, Segment):
                writer.copy(part)
            elif isinstance(part, NewRows):
                writer.add_rows(part.passages, part.vectors, part.terms)
                writer.add_articles(part.articles)
            else:
                for passages, vectors in part.batches:
                    texts = [p.index_text(part.title_in_passage) for p in passages]
                    writer.add_rows(passages, vectors, TermCounts.from_texts(texts, part.bm25))
                writer.add_articles(part.articles)
    finally:
        for fh in (writer._passages, writer._articles, writer._vectors):
            fh.close()
    writer.close()
    return writer.rows


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
