"""On-disk index: generations of immutable segments plus ``manifest.json`` (see docs/design.md).

Every write produces a complete new *generation* in a sibling ``<dir>.tmp-<pid>`` folder: the
segments it keeps are hard-linked from the current one (never modified), new rows go into a new
segment, and the small mutable parts (the ``live`` tombstone mask, the article key table, the
dense index) are written afresh. The folder is fsynced and swapped in with two renames (old
aside, new in place, old removed). If a crash falls between the two renames, :func:`recover`
puts the newest complete copy back on next load. Writes and locks act on the real path, so an
index reached through a symlink is updated in place and the link stays a link.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .chunking import ChunkSettings
from .defaults import INDEX_FORMAT, INDEX_MANIFEST, NEW_INDEX_FUSION
from .dense import DEFAULT_THRESHOLD, IVF_THRESHOLD, KINDS, DenseIndex, choose_kind
from .embedding import default_backend, resolve_backend
from .errors import IndexFormatError, IndexMissingError, QAError
from .lexical import BM25Settings, LexicalIndex
from .prompts import Prompts
from .records import Article, Passage, index_text
from .segments import EMBEDDINGS, LineFile, RowStream, Segment, doc_key, link_segment, write_segment

log = logging.getLogger(__name__)

FORMAT = INDEX_FORMAT
#: 2: segments + tombstones + generation + self-checksummed manifest; passage ids hash the title.
FORMAT_VERSION = 2
MANIFEST = INDEX_MANIFEST
SEGMENTS = "segments"
LIVE = "live.npy"
DENSE = "dense.faiss"
ARTICLE_KEYS = "articles.keys.npy"
ARTICLE_LINES = "articles.lines.npy"
#: ``IndexStore.load(mmap=None)`` memory-maps indexes with at least this many passages.
MMAP_AUTO_PASSAGES = 50_000
#: Files up to this size are hashed on every load; bigger ones are checked by size only
#: (``verify=True`` hashes everything).
HASH_ON_LOAD_BYTES = 256 * 2**20
#: Trailing segments are merged while the newer one holds at least 1/MERGE_RATIO of the rows of
#: the one before: segments stay O(log n) in number and each row is copied O(log n) times.
MERGE_RATIO = 2
#: Rows per batch when rows already in memory are written (bounds the BM25 tokenizer's memory).
STREAM_ROWS = 4096
#: The manifest sections its checksum covers (everything but the checksum and timestamps).
_UNCHECKED = ("checksum", "created", "updated")


@dataclass(frozen=True)
class IndexSettings:
    model: str
    dim: int
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    bm25: BM25Settings = field(default_factory=BM25Settings)
    title_in_passage: bool = True
    #: Embedding backend the passages were embedded with ("torch", "onnx", "onnx-int8"); queries
    #: should use the same one.
    embedding_backend: str = field(default_factory=default_backend)
    #: Requested dense index: ``kind`` auto|flat|hnsw|ivf and the ``threshold`` for auto. What was
    #: actually built is in the manifest's "dense" entry.
    dense: dict[str, Any] = field(default_factory=lambda: {"kind": "auto", "threshold": DEFAULT_THRESHOLD})
    #: Hybrid fusion (``qa.fusion.Fusion.to_dict()``): a new index records
    #: :data:`~index.defaults.NEW_INDEX_FUSION`; a manifest without it (built before issue 13)
    #: reads as empty, which ``Fusion.from_dict`` takes as RRF. ``qa index --fusion``, ``qa eval
    #: --sweep --apply`` and ``Engine.set_fusion`` write it, and every surface reads it.
    fusion: dict[str, Any] = field(default_factory=lambda: dict(NEW_INDEX_FUSION))
    #: Answer settings (``qa.engine.answer_settings``): ``threshold`` (answerability probability) and
    #: ``model`` (an answer model fitted for this index's embedding model); empty: the bundled model.
    answer: dict[str, Any] = field(default_factory=dict)
    #: Text put before every passage / query when embedding (:class:`index.prompts.Prompts`, e.g.
    #: E5's ``{"query": "query: ", "passage": "passage: "}``); empty: none (the bundled model).
    prompts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IndexSettings":
        return cls(
            model=d["model"],
            dim=int(d["dim"]),
            chunking=ChunkSettings(**d.get("chunking", {})),
            bm25=BM25Settings(**d.get("bm25", {})),
            title_in_passage=bool(d.get("title_in_passage", True)),
            embedding_backend=resolve_backend(d.get("embedding_backend") or "torch"),
            dense=dict(d.get("dense") or {"kind": "auto", "threshold": DEFAULT_THRESHOLD}),
            fusion=dict(d.get("fusion") or {}),  # none recorded: RRF (see Fusion.from_dict), not the new default
            answer=dict(d.get("answer") or {}),
            prompts=_prompts(d.get("prompts")),
        )


def _prompts(d: Any) -> dict[str, str]:
    try:
        return Prompts.from_dict(d).to_dict()
    except QAError as exc:  # a bad manifest reads as an unreadable index
        raise ValueError(str(exc)) from exc


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


def passage_index_text(p: Passage, title_in_passage: bool) -> str:
    """The text both retrievers see for a passage."""
    return index_text(p.title, p.text, title_in_passage)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(root: Path) -> Iterator[Path]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            yield p


def _fsync_tree(root: Path) -> None:
    for p in [*root.rglob("*"), root]:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sorted_keys(doc_ids: Sequence[str], lines: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    enc = [d.encode("utf-8") for d in doc_ids]
    width = max((len(b) for b in enc), default=1) or 1
    keys = np.array(enc, dtype=f"S{width}") if enc else np.zeros(0, dtype="S1")
    lines = np.arange(len(enc), dtype=np.int64) if lines is None else np.asarray(lines, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    return keys[order], lines[order]


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's own content (settings, dense, files, segments, counts, ...)."""
    body = {k: v for k, v in manifest.items() if k not in _UNCHECKED}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def real_path(directory: Path | str) -> Path:
    """The index folder's real location (symlinks resolved): what locks and writes act on."""
    return Path(os.path.realpath(Path(directory)))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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
        previous = _peek_manifest(real)
        generation = (current_generation(real) or 0) + 1
        articles = list(articles)
        keys, lines = _sorted_keys([a.doc_id for a in articles])

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

        manifest = _write_generation(real, settings, generation, fill,
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
        segments the merge policy asks for). The caller holds :func:`write_lock`.

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
            keys, lines = _update_keys(np.asarray(art.keys_array), np.asarray(art.lines_array, dtype=np.int64),
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

        manifest = _write_generation(real, settings, generation, fill, previous=old_manifest)
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
            before = _identity(directory)
            try:
                return cls._load_once(directory, mmap=mmap, verify=verify)
            except (IndexFormatError, IndexMissingError, OSError):
                after = _identity(directory)
                swapping = after is None and any(real_path(directory).parent.glob(f"{real_path(directory).name}.old-*"))
                if attempt == LOAD_RETRIES or not (before != after or swapping):
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _load_once(cls, directory: Path, *, mmap: bool | None, verify: bool) -> "IndexStore":
        real = real_path(directory)
        recover(real)
        manifest = read_manifest(directory)
        for rel, meta in manifest["files"].items():
            path = real / rel
            if not path.is_file():
                raise IndexFormatError(f"index {directory} is incomplete: {rel} is missing; rebuild it with `qa index YOUR_ARTICLES --index {directory} --rebuild`")
            if path.stat().st_size != meta["bytes"] or (
                (verify or meta["bytes"] <= HASH_ON_LOAD_BYTES) and _sha256(path) != meta["sha256"]
            ):
                raise IndexFormatError(f"index {directory} is corrupt: {rel} does not match its checksum; rebuild it with `qa index YOUR_ARTICLES --index {directory} --rebuild`")
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


def _update_keys(keys: np.ndarray, lines: np.ndarray, *, remove: Sequence[str], add: Sequence[str],
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
    new_keys, new_lines = _sorted_keys(list(add), np.arange(first_line, first_line + len(add)))
    width = max(keys.dtype.itemsize if len(keys) else 1, new_keys.dtype.itemsize)
    keys, new_keys = keys.astype(f"S{width}"), new_keys.astype(f"S{width}")
    at = np.searchsorted(keys, new_keys)
    return np.insert(keys, at, new_keys), np.insert(lines, at, new_lines)


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


def _write_generation(real: Path, settings: IndexSettings, generation: int,
                      fill: Callable[[Path], tuple[list[dict[str, Any]], dict[str, Any], dict[str, int]]], *,
                      previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write a complete generation into a temporary sibling folder (``fill`` puts the files there
    and returns the segment list, the dense index's settings and the counts), add the manifest, fsync and swap it in. Hashes of hard-linked
    files are taken from ``previous`` instead of being recomputed."""
    real.parent.mkdir(parents=True, exist_ok=True)
    tmp = real.with_name(f"{real.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        segments, dense_settings, counts = fill(tmp)
        old_files = (previous or {}).get("files", {})
        files = {}
        for p in _files(tmp):
            rel = str(p.relative_to(tmp))
            st = p.stat()
            old = real / rel
            if rel in old_files and st.st_nlink > 1 and old.exists() and os.path.samefile(old, p):
                files[rel] = dict(old_files[rel])
            else:
                files[rel] = {"bytes": st.st_size, "sha256": _sha256(p)}
        now = _now()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "generation": generation,
            "created": (previous or {}).get("created", now),
            "updated": now,
            "settings": settings.to_dict(),
            "dense": dense_settings,
            "counts": counts,
            "segments": segments,
            "files": files,
        }
        manifest["checksum"] = manifest_checksum(manifest)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync_tree(tmp)
        _swap_in(tmp, real)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def read_manifest(directory: Path | str) -> dict[str, Any]:
    """Read and validate ``manifest.json``; every failure is a one-line :class:`QAError`."""
    directory = Path(directory)
    if not directory.exists():
        raise IndexMissingError(f"no index at {directory}; build one with `qa index PATH --index {directory}`")
    path = directory / MANIFEST
    if not path.is_file():
        raise IndexFormatError(f"{directory} is not a qa index (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise IndexFormatError(f"{path} is corrupt ({exc}); rebuild the index with `qa index YOUR_ARTICLES --index {directory} --rebuild`") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{directory} is not a qa index (manifest format is not {FORMAT!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"index {directory} has format version {version}, this qa reads version {FORMAT_VERSION}; rebuild it with `qa index YOUR_ARTICLES --index {directory} --rebuild`"
        )
    for key in ("settings", "dense", "counts", "segments", "files", "generation", "checksum"):
        if key not in manifest:
            raise IndexFormatError(f"{path} is missing {key!r}; rebuild the index with `qa index YOUR_ARTICLES --index {directory} --rebuild`")
    if manifest["checksum"] != manifest_checksum(manifest):
        raise IndexFormatError(f"{path} was modified after it was written (its checksum does not match); "
                               f"rebuild the index with `qa index YOUR_ARTICLES --index {directory} --rebuild`")
    try:
        dense_type = manifest["dense"]["type"]
        requested = manifest["settings"]["dense"]["kind"]
        resolve_backend(manifest["settings"]["embedding_backend"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexFormatError(f"{path} has invalid settings ({exc}); rebuild the index with `qa index YOUR_ARTICLES --index {directory} --rebuild`") from exc
    if dense_type not in KINDS or requested not in KINDS:
        raise IndexFormatError(f"{path} names an unknown dense index; rebuild the index with `qa index YOUR_ARTICLES --index {directory} --rebuild`")
    required = {LIVE, DENSE, ARTICLE_KEYS, ARTICLE_LINES}
    if not isinstance(manifest["files"], dict) or not required <= set(manifest["files"]):
        raise IndexFormatError(f"{path} does not list the index files; rebuild the index with `qa index YOUR_ARTICLES --index {directory} --rebuild`")
    return manifest


def _peek_manifest(directory: Path | str) -> dict[str, Any] | None:
    try:
        manifest = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return manifest if isinstance(manifest, dict) else None


#: How many times :meth:`IndexStore.load` retries a read that a concurrent swap broke.
LOAD_RETRIES = 5


def _identity(directory: Path | str) -> tuple[int, int, int] | None:
    """What a swap or a settings update changes: the folder's and the manifest's inodes (both are
    replaced by renames) and the manifest's modification time; ``None`` when either is missing."""
    real = real_path(directory)
    try:
        d, m = os.stat(real), os.stat(real / MANIFEST)
    except OSError:
        return None
    return d.st_ino, m.st_ino, m.st_mtime_ns


def current_generation(directory: Path | str) -> int | None:
    """The generation number of the index at ``directory`` (bumped by every write), read from the
    manifest alone; ``None`` when there is no readable index there. Cheap enough to poll."""
    gen = (_peek_manifest(directory) or {}).get("generation")
    return gen if isinstance(gen, int) and not isinstance(gen, bool) else None


def _swap_in(tmp: Path, directory: Path) -> None:
    old = directory.with_name(f"{directory.name}.old-{os.getpid()}")
    if directory.exists():
        if not (directory / MANIFEST).is_file() and any(directory.iterdir()):
            raise QAError(f"{directory} exists and is not a qa index; refusing to replace it")
        os.rename(directory, old)
    os.rename(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)


def recover(directory: Path) -> None:
    """Repair an interrupted swap: if ``directory`` is gone but an ``.old-*`` copy is left, restore it."""
    directory = real_path(directory)
    if directory.exists() or not directory.parent.exists():
        return
    lock_path = directory.with_name(f".{directory.name}.lock")
    if lock_path.exists():
        with lock_path.open("a") as fh:
            try:  # a writer holding the lock is between its two renames: not a crash, leave it alone
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            _restore_newest_old(directory)
            return
    _restore_newest_old(directory)


def _restore_newest_old(directory: Path) -> None:
    olds = sorted(directory.parent.glob(f"{directory.name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in olds:
        if (old / MANIFEST).is_file():
            os.rename(old, directory)
            log.warning("restored %s from an interrupted update", directory)
            return


def update_settings(directory: Path | str, *, check: Callable[[IndexSettings, Path], None] | None = None,
                    **changes: Any) -> dict[str, Any]:
    """Change query-time settings (``fusion``, ``answer``, and ``dense_search``: the dense index's
    search-time knobs ``ef_search`` (HNSW) / ``nprobe`` (IVF)) in an index's manifest, atomically
    and under the write lock; the data files are untouched. Returns the new manifest.

    The store keeps ``fusion`` and ``answer`` as opaque sections: ``check`` (the reader's own
    validation, ``qa.engine.check_query_settings``, which ``qa.engine.update_query_settings``
    passes) raises ``ValueError`` unless every surface can read them. Nothing is written unless it
    passes and the dense knobs (checked here) are valid, so a bad value is a one-line
    :class:`QAError` and the index keeps serving as before."""
    directory = real_path(directory)
    allowed = {"fusion", "answer", "dense_search"}
    if set(changes) - allowed:
        raise QAError(f"only {', '.join(sorted(allowed))} settings can be changed in place, not {sorted(set(changes) - allowed)}")
    dense_search = dict(changes.pop("dense_search", None) or {})
    with write_lock(directory):
        manifest = read_manifest(directory)
        settings = dict(manifest["settings"])
        try:
            settings.update({k: dict(v) for k, v in changes.items()})
            parsed = IndexSettings.from_dict(settings)
        except (TypeError, ValueError) as exc:
            raise QAError(f"not written: invalid settings ({exc}); index {directory} unchanged") from exc
        if changes and check is not None:  # fusion / answer: validated by their reader
            try:
                check(parsed, directory)
            except ValueError as exc:
                raise QAError(f"not written: {exc}; index {directory} unchanged") from exc
        if dense_search:
            dense = dict(manifest["dense"])
            knob = {"hnsw": "ef_search", "ivf": "nprobe"}.get(str(dense.get("type")))
            for key, value in dense_search.items():
                if key != knob:
                    raise QAError(f"a {dense.get('type')} dense index has no search setting {key!r}"
                                  + (f"; use {knob!r}" if knob else ""))
                if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
                    raise QAError(f"{key} must be a whole number from 1 to 1000000, got {value!r}")
                dense[key] = value
            manifest["dense"] = dense
        manifest["settings"] = settings
        manifest["generation"] = int(manifest["generation"]) + 1
        manifest["updated"] = _now()
        manifest["checksum"] = manifest_checksum(manifest)
        tmp = directory / f"{MANIFEST}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, directory / MANIFEST)
    return manifest


@contextlib.contextmanager
def write_lock(directory: Path | str) -> Iterator[None]:
    """Exclusive lock so two builds never write the same index at once. Keyed by the real path,
    so two writers reaching one index through different spellings or symlinks contend."""
    real = real_path(directory)
    real.parent.mkdir(parents=True, exist_ok=True)
    lock_path = real.with_name(f".{real.name}.lock")
    with lock_path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise QAError(f"another process is writing the index at {directory}; try again when it finishes") from exc
        for stale in real.parent.glob(f"{real.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
        yield


__all__ = ["ArticleInfo", "ArticleTable", "IndexSettings", "IndexStore", "PassageTable", "RowVectors", "LineFile", "update_settings",
           "current_generation", "passage_index_text", "read_manifest", "real_path", "recover", "write_lock"]
