"""On-disk index: :class:`IndexStore`, a loaded generation of immutable segments plus
``manifest.json``, and its writes (see docs/design.md).

Every write produces a complete new *generation* (:mod:`index.generations` writes it in a sibling
folder, fsyncs it and swaps it in): the segments it keeps are hard-linked from the current one
(never modified), new rows go into a new segment, and the small mutable parts (the ``live``
tombstone mask, the article key table, the dense index) are written afresh. The manifest and the
folder's layout are :mod:`index.manifest`; the settings it records :mod:`index.settings`; the
row-addressed tables over the segments :mod:`index.tables`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .dense import DEFAULT_THRESHOLD, IVF_THRESHOLD, DenseIndex, choose_kind
from .errors import IndexFormatError, IndexMissingError, QAError
from .generations import recover, write_generation
from .lexical import LexicalIndex
from .manifest import (ARTICLE_KEYS, ARTICLE_LINES, DENSE, LIVE, SEGMENTS, check_files, current_generation, identity,
                       peek_manifest, read_manifest, real_path)
from .records import Article, Passage
from .segments import EMBEDDINGS, RowStream, Segment, doc_key, link_segment, write_segment
from .settings import IndexSettings
from .tables import ArticleInfo, ArticleTable, PassageTable, RowVectors, sorted_keys, update_keys

#: ``IndexStore.load(mmap=None)`` memory-maps indexes with at least this many passages.
MMAP_AUTO_PASSAGES = 50_000
#: How many times :meth:`IndexStore.load` retries a read that a concurrent swap broke.
LOAD_RETRIES = 5
#: Trailing segments are merged while the newer one holds at least 1/MERGE_RATIO of the rows of
#: the one before: segments stay O(log n) in number and each row is copied O(log n) times.
MERGE_RATIO = 2
#: Rows per batch when rows already in memory are written (bounds the BM25 tokenizer's memory).
STREAM_ROWS = 4096


@dataclass
class IndexStore:
    """A loaded index: records, vectors, both retrievers and the tombstone mask.

    ``passages`` and ``embeddings`` are row-addressed and include tombstoned rows; ``live`` says
    which rows count (the retrievers never return the others). ``articles`` holds live articles."""

    directory: Path
    settings: IndexSettings
    articles: Mapping[str, Article]
    passages: Sequence[Passage]
    embeddings: Any
    dense: DenseIndex
    lexical: LexicalIndex
    manifest: dict[str, Any]
    live: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    segments: list[Segment] = field(default_factory=list)

    # ------------------------------------------------------------- queries
    @property
    def generation(self) -> int:
        return int(self.manifest.get("generation", 0))

    @property
    def num_live(self) -> int:
        """Live passages (what ``qa`` reports as the passage count)."""
        return int(self.manifest["counts"]["passages"])

    @property
    def doc_keys(self) -> np.ndarray:
        """uint64 hash of each row's doc id."""
        if not hasattr(self, "_doc_keys"):
            parts = [np.asarray(s.doc_keys) for s in self.segments]
            self._doc_keys = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        return self._doc_keys

    @property
    def row_of(self) -> dict[str, int]:
        """``passage_id -> row`` of the live rows (decodes every passage: small indexes only)."""
        if not hasattr(self, "_row_of"):
            self._row_of = {self.passages[int(r)].passage_id: int(r) for r in np.flatnonzero(self.live)}
        return self._row_of

    def live_passages(self) -> Iterator[tuple[int, Passage]]:
        """``(row, passage)`` of every live row, in row order."""
        for row in np.flatnonzero(self.live):
            yield int(row), self.passages[int(row)]

    def live_rows_of(self, doc_id: str) -> list[tuple[int, Passage]]:
        """The live rows of one article, with their passages."""
        rows = np.flatnonzero((self.doc_keys == np.uint64(doc_key(doc_id))) & self.live)
        out = [(int(r), self.passages[int(r)]) for r in rows]
        return [(r, p) for r, p in out if p.doc_id == doc_id]

    def rows_where(self, predicate: Callable[[Article], bool]) -> np.ndarray:
        """Boolean mask over rows: live rows whose article satisfies ``predicate`` (evaluated once
        per article). Pass it as ``allowed`` to the retrievers to filter before the top-k cut."""
        ok = [doc_key(d) for d, a in self.articles.items() if predicate(a)]
        return self.live & np.isin(self.doc_keys, np.asarray(ok, dtype=np.uint64))

    def article_infos(self) -> list[ArticleInfo]:
        """Per live article: id, headline, date, source, url and number of live passages."""
        keys, counts = np.unique(self.doc_keys[self.live], return_counts=True)
        n_of = dict(zip(keys.tolist(), counts.tolist()))
        return [ArticleInfo(a.doc_id, a.title, a.date, a.source, a.url, int(n_of.get(doc_key(d), 0)))
                for d, a in self.articles.items()]

    # ---------------------------------------------------------------- write
    @classmethod
    def write(
        cls,
        directory: Path,
        settings: IndexSettings,
        articles: list[Article],
        passages: list[Passage],
        embeddings: np.ndarray,
        *,
        show_progress: bool = False,
        dense_index: str | None = None,
    ) -> "IndexStore":
        """Build both retrievers and write a complete index (one segment) at ``directory``,
        atomically, replacing whatever index was there (its generation number goes on)."""
        if len(passages) != len(embeddings):
            raise ValueError("one embedding per passage is required")
        if not passages:
            raise QAError("refusing to write an index with no passages")
        return cls.write_stream(directory, settings, articles, _in_batches(passages, embeddings), dense_index=dense_index)

    @classmethod
    def write_stream(
        cls,
        directory: Path | str,
        settings: IndexSettings,
        articles: Sequence[Article],
        batches: Iterable[tuple[Sequence[Passage], np.ndarray]],
        *,
        dense_index: str | None = None,
    ) -> "IndexStore":
        """:meth:`write` with the rows arriving as ``(passages, vectors)`` batches (e.g. embedded
        lazily by the builder): each batch is written into the new generation's folder as it
        comes, so memory is bounded by a batch (plus the BM25 postings and the dense index), not by
        the whole input. Nothing is visible until the final swap; an exception raised by
        ``batches`` (a time budget, Ctrl-C) leaves the old index as it was."""
        if dense_index is not None:
            settings = replace(settings, dense={**settings.dense, "kind": dense_index})
        real = real_path(directory)
        previous = peek_manifest(real)
        generation = (current_generation(real) or 0) + 1
        articles = list(articles)
        keys, lines = sorted_keys([a.doc_id for a in articles])

        def fill(tmp: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, int]]:
            name = _segment_name(generation)
            seg_dir = tmp / SEGMENTS / name
            n = write_segment(seg_dir, [RowStream(batches, articles, settings.bm25, settings.title_in_passage)], settings.dim)
            if not n:
                raise QAError("refusing to write an index with no passages")
            np.save(tmp / ARTICLE_KEYS, keys)
            np.save(tmp / ARTICLE_LINES, lines)
            np.save(tmp / LIVE, np.ones(n, bool))
            dense = _build_dense(settings, np.load(seg_dir / EMBEDDINGS, mmap_mode="r"))
            dense.save(tmp / DENSE)
            return ([{"name": name, "rows": n, "articles": len(articles)}], dense.settings,
                    {"articles": len(articles), "passages": n, "rows": n})

        manifest = write_generation(real, settings, generation, fill,
                                    previous={"created": previous["created"]} if previous and "created" in previous else None)
        return cls._open(Path(directory), manifest, mmap=None)

    def update(
        self,
        *,
        upserts: Sequence[Article] = (),
        deletes: Sequence[str] = (),
        dead_rows: Sequence[int] = (),
        new_passages: Sequence[Passage] = (),
        new_vectors: np.ndarray | None = None,
        new_rows: Iterable[tuple[Sequence[Passage], np.ndarray]] | None = None,
        settings: IndexSettings | None = None,
        show_progress: bool = False,
    ) -> "IndexStore":
        """Write the next generation: ``upserts`` (new or replacing articles) and ``deletes`` change
        the article table, ``dead_rows`` become tombstones, ``new_passages`` (with
        ``new_vectors``) are appended as new rows and added to the dense index. Kept segments
        are hard-linked; only the new rows are tokenized and written (plus any merge of trailing
        segments the merge policy asks for). The caller holds :func:`~index.generations.write_lock`.

        ``new_rows`` instead streams the new rows as ``(passages, vectors)`` batches, written as
        they come (see :meth:`write_stream`); ``dead_rows`` is read once the stream is consumed,
        so a builder may fill it while it streams."""
        settings = settings or self.settings
        real = real_path(self.directory)
        old_manifest = self.manifest
        generation = self.generation + 1
        if new_rows is None:
            vectors = np.zeros((0, settings.dim), np.float32) if new_vectors is None else np.asarray(new_vectors, np.float32)
            if len(vectors) != len(new_passages):
                raise ValueError("one vector per new passage is required")
            new_rows = _in_batches(list(new_passages), vectors)
        upserts = list(upserts)
        art = self.articles
        assert isinstance(art, ArticleTable)

        def fill(tmp: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, int]]:
            name = _segment_name(generation)
            staged = tmp / SEGMENTS / f"{name}.new"
            n_new = write_segment(staged, [RowStream(new_rows, upserts, settings.bm25, settings.title_in_passage)],
                                  settings.dim)
            live = np.array(self.live, dtype=bool, copy=True)
            if len(dead_rows):
                live[np.asarray(dead_rows, dtype=np.int64)] = False
            live = np.concatenate([live, np.ones(n_new, bool)])

            # article key table: drop replaced and deleted keys, add the upserts at new global lines
            keys, lines = update_keys(np.asarray(art.keys_array), np.asarray(art.lines_array, dtype=np.int64),
                                      remove=[*deletes, *(a.doc_id for a in upserts)], add=[a.doc_id for a in upserts],
                                      first_line=sum(s.n_articles for s in self.segments))

            # merge policy: fold the trailing segments that are not much bigger than what is new
            kept = list(self.segments)
            merged: list[Segment] = []
            size = n_new
            while kept and size * MERGE_RATIO >= kept[-1].rows:
                size += kept[-1].rows
                merged.insert(0, kept.pop())
            write_new = n_new > 0 or len(upserts) > 0

            segs = []
            for seg in kept:
                link_segment(seg.directory, tmp / SEGMENTS / seg.name)
                segs.append({"name": seg.name, "rows": seg.rows, "articles": seg.n_articles})
            final = tmp / SEGMENTS / name
            if merged:
                write_segment(final, [*merged, Segment(staged, mmap=True)] if write_new else merged, settings.dim)
                shutil.rmtree(staged)
            elif write_new:
                os.rename(staged, final)
            else:
                shutil.rmtree(staged)
            if merged or write_new:
                segs.append({"name": name, "rows": sum(s.rows for s in merged) + n_new,
                             "articles": sum(s.n_articles for s in merged) + len(upserts)})

            # dense: append onto the existing index unless its kind must change
            wanted = settings.dense.get("kind", "auto")
            threshold = int(settings.dense.get("threshold", DEFAULT_THRESHOLD))
            ivf_threshold = int(settings.dense.get("ivf_threshold", IVF_THRESHOLD))
            target = choose_kind(len(live), wanted, threshold, ivf_threshold)
            new_vectors = np.load(final / EMBEDDINGS, mmap_mode="r")[-n_new:] if n_new else np.zeros((0, settings.dim), np.float32)
            dense: DenseIndex | None = None
            if target != self.dense.kind:
                dense = _build_dense(settings, np.concatenate([np.asarray(self.embeddings, np.float32), new_vectors]))
            elif n_new:
                dense = DenseIndex.load(real / DENSE, mmap=False, settings=old_manifest.get("dense"))
                dense.add(new_vectors)
            del new_vectors
            dense_settings = dense.settings if dense is not None else old_manifest["dense"]
            if dense is not None and wanted == "auto":
                dense.settings.update(requested="auto", threshold=threshold, ivf_threshold=ivf_threshold)

            np.save(tmp / ARTICLE_KEYS, keys if len(keys) else np.zeros(0, "S1"))
            np.save(tmp / ARTICLE_LINES, lines)
            np.save(tmp / LIVE, live)
            if dense is not None:
                dense.save(tmp / DENSE)
            else:
                os.link(real / DENSE, tmp / DENSE)
            return segs, dense_settings, {"articles": int(len(keys)), "passages": int(live.sum()), "rows": int(len(live))}

        manifest = write_generation(real, settings, generation, fill, previous=old_manifest)
        return type(self)._open(self.directory, manifest, mmap=None)

    # ----------------------------------------------------------------- read
    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool | None = False, verify: bool = False) -> "IndexStore":
        """Open the index at ``directory``.

        Records (articles, passages) are always read lazily from memory-mapped files and the
        vectors are always memory-mapped. ``mmap=True`` also maps the FAISS index and the BM25
        arrays instead of copying them into memory: loading is then near-instant and the pages are
        shared with the OS cache. ``mmap=None`` chooses: mapped from :data:`MMAP_AUTO_PASSAGES` on.

        A writer may swap a new generation in while this reads (two renames; the old folder is
        then removed), so a read can see files of two generations, or none. A load that fails
        while the folder or its manifest changed under it, or while a swap is half done, is
        retried (:data:`LOAD_RETRIES` times); a failure on an index nobody is changing is
        reported at once: that one is really damaged.
        """
        directory = Path(directory)
        for attempt in range(LOAD_RETRIES + 1):
            before = identity(directory)
            try:
                return cls._load_once(directory, mmap=mmap, verify=verify)
            except (IndexFormatError, IndexMissingError, OSError):
                after = identity(directory)
                swapping = after is None and any(real_path(directory).parent.glob(f"{real_path(directory).name}.old-*"))
                if attempt == LOAD_RETRIES or not (before != after or swapping):
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _load_once(cls, directory: Path, *, mmap: bool | None, verify: bool) -> "IndexStore":
        recover(real_path(directory))
        manifest = read_manifest(directory)
        check_files(directory, manifest, verify=verify)
        return cls._open(directory, manifest, mmap=mmap)

    @classmethod
    def _open(cls, directory: Path, manifest: dict[str, Any], *, mmap: bool | None) -> "IndexStore":
        real = real_path(directory)
        try:
            n_rows = int(manifest["counts"]["rows"])
            if mmap is None:
                mmap = n_rows >= MMAP_AUTO_PASSAGES
            settings = IndexSettings.from_dict(manifest["settings"])
            segments = [Segment(real / SEGMENTS / s["name"], mmap=bool(mmap)) for s in manifest["segments"]]
            live = np.load(real / LIVE)
            articles = ArticleTable(segments, np.load(real / ARTICLE_KEYS, mmap_mode="r"),
                                    np.load(real / ARTICLE_LINES, mmap_mode="r"))
            passages = PassageTable(segments)
            embeddings: Any = segments[0].embeddings if len(segments) == 1 else RowVectors(
                [s.embeddings for s in segments], settings.dim)
            dense = DenseIndex.load(real / DENSE, mmap=bool(mmap), settings=manifest.get("dense"), live=live,
                                    vectors=lambda rows: np.asarray(embeddings[rows], dtype=np.float32))
            lexical = LexicalIndex(settings.bm25, [s.terms for s in segments], live)
        except (KeyError, TypeError, ValueError, OSError, RuntimeError, IndexError) as exc:
            raise IndexFormatError(f"index {directory} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); rebuild it with `qa index YOUR_ARTICLES --index {directory} --rebuild`") from exc
        if not (len(passages) == len(embeddings) == len(dense) == len(lexical) == len(live) == n_rows):
            raise IndexFormatError(f"index {directory} is inconsistent: passage, vector and BM25 counts differ; rebuild it")
        if int(live.sum()) != int(manifest["counts"]["passages"]) or len(articles) != int(manifest["counts"]["articles"]):
            raise IndexFormatError(f"index {directory} is inconsistent: live passage or article counts differ from the manifest; rebuild it")
        if embeddings.shape[1] != settings.dim or dense.dim != settings.dim:
            raise IndexFormatError(f"index {directory} is inconsistent: vectors are not {settings.dim}-dimensional")
        return cls(directory, settings, articles, passages, embeddings, dense, lexical, manifest, live, segments)


def _in_batches(passages: Sequence[Passage], vectors: np.ndarray) -> Iterator[tuple[Sequence[Passage], np.ndarray]]:
    """Rows already in memory as :data:`STREAM_ROWS`-row batches (so they are tokenized per batch)."""
    for a in range(0, len(passages), STREAM_ROWS):
        yield passages[a:a + STREAM_ROWS], vectors[a:a + STREAM_ROWS]


def _segment_name(generation: int) -> str:
    return f"g{generation:08d}"


def _build_dense(settings: IndexSettings, vectors: np.ndarray) -> DenseIndex:
    return DenseIndex.build(vectors, kind=settings.dense.get("kind", "auto"),
                            threshold=int(settings.dense.get("threshold", DEFAULT_THRESHOLD)),
                            ivf_threshold=int(settings.dense.get("ivf_threshold", IVF_THRESHOLD)))


#: The store's public API: the facade and the types of its arguments and results (the other names
#: it uses live in index.settings, index.manifest, index.tables and index.generations).
__all__ = ["ArticleInfo", "IndexSettings", "IndexStore"]
