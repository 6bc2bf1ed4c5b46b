"""On-disk index: a plain directory of named files plus ``manifest.json``.

Writes are atomic: a new index is written to a sibling ``<dir>.tmp-<pid>`` folder, fsynced,
then swapped in with two renames (old aside, new in place, old removed). If a crash falls
between the two renames, :func:`recover` puts the newest complete copy back on next load.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mmap as _mmap
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .chunking import ChunkSettings
from .dense import DEFAULT_THRESHOLD, KINDS, DenseIndex
from .embedding import default_backend, resolve_backend
from .errors import IndexFormatError, IndexMissingError, QAError
from .lexical import BM25Settings, LexicalIndex
from .records import Article, Passage

log = logging.getLogger(__name__)

FORMAT = "qa-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARTICLES = "articles.jsonl"
PASSAGES = "passages.jsonl"
EMBEDDINGS = "embeddings.npy"
DENSE = "dense.faiss"
BM25_DIR = "bm25"
PASSAGE_OFFSETS = "passages.offsets.npy"
ARTICLE_KEYS = "articles.keys.npy"
ARTICLE_LINES = "articles.lines.npy"
ARTICLE_OFFSETS = "articles.offsets.npy"
#: ``IndexStore.load(mmap=None)`` memory-maps indexes with at least this many passages.
MMAP_AUTO_PASSAGES = 50_000
#: Files up to this size are hashed on every load; bigger ones are checked by size only
#: (``verify=True`` hashes everything).
HASH_ON_LOAD_BYTES = 256 * 2**20


@dataclass(frozen=True)
class IndexSettings:
    model: str
    dim: int
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    bm25: BM25Settings = field(default_factory=BM25Settings)
    title_in_passage: bool = True
    #: Embedding backend the passages were embedded with ("torch", "onnx", "onnx-int8"); queries
    #: should use the same one. Indexes written before this field existed were torch.
    embedding_backend: str = field(default_factory=default_backend)
    #: Requested dense index: ``kind`` auto|flat|hnsw|ivf and the ``threshold`` for auto. What was
    #: actually built is in the manifest's "dense" entry.
    dense: dict[str, Any] = field(default_factory=lambda: {"kind": "auto", "threshold": DEFAULT_THRESHOLD})
    #: Hybrid fusion (``qa.fusion.Fusion.to_dict()``); empty means the defaults. ``qa eval --sweep
    #: --apply`` writes the chosen setting here, and every surface reads it.
    fusion: dict[str, Any] = field(default_factory=dict)
    #: Answer settings, e.g. ``{"threshold": 0.49}``; empty means the calibrated defaults.
    answer: dict[str, Any] = field(default_factory=dict)

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
            fusion=dict(d.get("fusion") or {}),
            answer=dict(d.get("answer") or {}),
        )


class _LineFile:
    """A read-only, memory-mapped JSON-lines file addressed by byte offsets."""

    def __init__(self, path: Path) -> None:
        self.path = path
        size = path.stat().st_size
        with path.open("rb") as fh:
            self._mm = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ) if size else b""

    def line(self, start: int, end: int) -> dict[str, Any]:
        return json.loads(self._mm[start:end])

    def offsets(self) -> np.ndarray:
        """Start offset of every non-empty line, plus the end of the file (for files without an offsets table)."""
        buf = np.frombuffer(self._mm, dtype=np.uint8) if len(self._mm) else np.zeros(0, np.uint8)
        ends = np.flatnonzero(buf == 10) + 1
        starts = np.concatenate([[0], ends[:-1]]) if len(ends) else np.zeros(0, np.int64)
        if len(buf) and (not len(ends) or ends[-1] != len(buf)):  # last line without a newline
            starts = np.append(starts, ends[-1] if len(ends) else 0)
            ends = np.append(ends, len(buf) + 1)
        keep = (ends - 1 - starts) > 0  # drop empty lines
        starts, ends = starts[keep], ends[keep]
        return np.append(starts, ends[-1] - 1 if len(ends) else 0).astype(np.int64) if len(starts) else np.zeros(1, np.int64)


class PassageTable(Sequence):  # type: ignore[type-arg]
    """``passages.jsonl`` as a lazy sequence of :class:`Passage`: rows are decoded on access from
    a memory-mapped file, so loading a million-passage index takes no parse and little memory."""

    def __init__(self, path: Path, offsets: np.ndarray | None = None) -> None:
        self._file = _LineFile(path)
        self._offsets = self._file.offsets() if offsets is None else offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("passage row out of range")
        return Passage.from_dict(self._file.line(int(self._offsets[i]), int(self._offsets[i + 1])))

    def __iter__(self) -> Iterator[Passage]:
        for i in range(len(self)):
            yield self[i]


class ArticleTable(Mapping):  # type: ignore[type-arg]
    """``articles.jsonl`` as a lazy ``doc_id -> Article`` mapping (file order), looked up by
    binary search in a sorted, memory-mapped key array."""

    def __init__(self, path: Path, keys: np.ndarray, lines: np.ndarray, offsets: np.ndarray) -> None:
        self._file = _LineFile(path)
        self._keys, self._lines, self._offsets = keys, lines, offsets

    @classmethod
    def scan(cls, path: Path) -> "ArticleTable":
        """Build the lookup tables by reading the file (indexes written before they were stored)."""
        offsets = _LineFile(path).offsets()
        keys, lines = _article_keys(_LineFile(path), offsets)
        return cls(path, keys, lines, offsets)

    def _pos(self, doc_id: object) -> int:
        if not isinstance(doc_id, str) or not len(self._keys):
            return -1
        kb = doc_id.encode("utf-8")
        if len(kb) > self._keys.dtype.itemsize or kb.endswith(b"\x00"):
            return -1
        j = int(np.searchsorted(self._keys, kb))
        return j if j < len(self._keys) and self._keys[j] == kb else -1

    def __getitem__(self, doc_id: str) -> Article:
        j = self._pos(doc_id)
        if j < 0:
            raise KeyError(doc_id)
        line = int(self._lines[j])
        return Article.from_dict(self._file.line(int(self._offsets[line]), int(self._offsets[line + 1])))

    def __contains__(self, doc_id: object) -> bool:
        return self._pos(doc_id) >= 0

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        for j in np.argsort(self._lines, kind="stable"):
            yield self._keys[j].decode("utf-8")


def _article_keys(lines_file: _LineFile, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = [lines_file.line(int(offsets[i]), int(offsets[i + 1]))["doc_id"] for i in range(len(offsets) - 1)]
    return _sorted_keys(ids)


def _sorted_keys(doc_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    enc = [d.encode("utf-8") for d in doc_ids]
    width = max((len(b) for b in enc), default=1) or 1
    keys = np.array(enc, dtype=f"S{width}") if enc else np.zeros(0, dtype="S1")
    order = np.argsort(keys, kind="stable")
    return keys[order], order.astype(np.int64)


def _write_jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> np.ndarray:
    """Write JSON lines; return the byte offset of every line start plus the end of file."""
    offsets = [0]
    with path.open("wb") as f:
        for row in rows:
            data = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(data)
            offsets.append(offsets[-1] + len(data))
    return np.asarray(offsets, dtype=np.int64)


def passage_index_text(p: Passage, title_in_passage: bool) -> str:
    """The text both retrievers see for a passage."""
    return f"{p.title}\n{p.text}" if title_in_passage and p.title else p.text


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


@dataclass
class IndexStore:
    """A loaded index: records, vectors and both retrievers."""

    directory: Path
    settings: IndexSettings
    articles: Mapping[str, Article]
    passages: Sequence[Passage]
    embeddings: np.ndarray
    dense: DenseIndex
    lexical: LexicalIndex
    manifest: dict[str, Any]
    # ``articles`` and ``passages`` are a dict and a list after ``write``; after ``load`` they
    # are an ArticleTable and a PassageTable (same Mapping / Sequence interface, decoded lazily).

    @property
    def row_of(self) -> dict[str, int]:
        if not hasattr(self, "_row_of"):
            self._row_of = {p.passage_id: i for i, p in enumerate(self.passages)}
        return self._row_of

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
        """Build both retrievers and write a complete index at ``directory``, atomically.

        The dense index follows ``settings.dense`` (``kind`` auto|flat|hnsw|ivf, ``threshold``),
        overridden by ``dense_index``."""
        directory = Path(directory)
        if len(passages) != len(embeddings):
            raise ValueError("one embedding per passage is required")
        if not passages:
            raise QAError("refusing to write an index with no passages")
        if dense_index is not None:
            settings = replace(settings, dense={**settings.dense, "kind": dense_index})
        dense = DenseIndex.build(
            embeddings, kind=settings.dense.get("kind", "auto"), threshold=int(settings.dense.get("threshold", DEFAULT_THRESHOLD))
        )
        lexical = LexicalIndex.build(
            [passage_index_text(p, settings.title_in_passage) for p in passages], settings.bm25, show_progress=show_progress
        )
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f"{directory.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            art_offsets = _write_jsonl(tmp / ARTICLES, (a.to_dict() for a in articles))
            keys, lines = _sorted_keys([a.doc_id for a in articles])
            np.save(tmp / ARTICLE_KEYS, keys)
            np.save(tmp / ARTICLE_LINES, lines)
            np.save(tmp / ARTICLE_OFFSETS, art_offsets)
            np.save(tmp / PASSAGE_OFFSETS, _write_jsonl(tmp / PASSAGES, (p.to_dict() for p in passages)))
            np.save(tmp / EMBEDDINGS, np.ascontiguousarray(embeddings, dtype=np.float32))
            dense.save(tmp / DENSE)
            (tmp / BM25_DIR).mkdir()
            lexical.save(tmp / BM25_DIR)
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "package_version": __version__,
                "created": now,
                "settings": settings.to_dict(),
                "dense": dense.settings,
                "counts": {"articles": len(articles), "passages": len(passages)},
                "files": {
                    str(p.relative_to(tmp)): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in _files(tmp)
                },
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _fsync_tree(tmp)
            _swap_in(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(directory, settings, {a.doc_id: a for a in articles}, list(passages), embeddings, dense, lexical, manifest)

    # ----------------------------------------------------------------- read
    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool | None = False, verify: bool = False) -> "IndexStore":
        """Open the index at ``directory``.

        Records (articles, passages) are always read lazily from memory-mapped files and
        ``embeddings.npy`` is always memory-mapped (it is only read when the index is updated).
        ``mmap=True`` also maps the FAISS index and the BM25 arrays instead of copying them into
        memory: loading is then near-instant and the pages are shared with the OS cache.
        ``mmap=None`` chooses: mapped from :data:`MMAP_AUTO_PASSAGES` passages on.
        """
        directory = Path(directory)
        recover(directory)
        manifest = read_manifest(directory)
        for rel, meta in manifest["files"].items():
            path = directory / rel
            if not path.is_file():
                raise IndexFormatError(f"index {directory} is incomplete: {rel} is missing; rebuild it with `qa index --rebuild`")
            if path.stat().st_size != meta["bytes"] or (
                (verify or meta["bytes"] <= HASH_ON_LOAD_BYTES) and _sha256(path) != meta["sha256"]
            ):
                raise IndexFormatError(f"index {directory} is corrupt: {rel} does not match its checksum; rebuild it with `qa index --rebuild`")
        try:
            n = int(manifest["counts"]["passages"])
            if mmap is None:
                mmap = n >= MMAP_AUTO_PASSAGES
            settings = IndexSettings.from_dict(manifest["settings"])
            files = manifest["files"]
            if ARTICLE_KEYS in files and ARTICLE_LINES in files and ARTICLE_OFFSETS in files:
                articles: Mapping[str, Article] = ArticleTable(
                    directory / ARTICLES, np.load(directory / ARTICLE_KEYS, mmap_mode="r"),
                    np.load(directory / ARTICLE_LINES, mmap_mode="r"), np.load(directory / ARTICLE_OFFSETS, mmap_mode="r"))
            else:
                articles = ArticleTable.scan(directory / ARTICLES)
            offsets = np.load(directory / PASSAGE_OFFSETS, mmap_mode="r") if PASSAGE_OFFSETS in files else None
            passages = PassageTable(directory / PASSAGES, offsets)
            embeddings = np.load(directory / EMBEDDINGS, mmap_mode="r")
            dense = DenseIndex.load(directory / DENSE, mmap=mmap, settings=manifest.get("dense"))
            lexical = LexicalIndex.load(directory / BM25_DIR, mmap=mmap)
        except (KeyError, TypeError, ValueError, OSError, RuntimeError) as exc:
            raise IndexFormatError(f"index {directory} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); rebuild it with `qa index --rebuild`") from exc
        if not (len(passages) == len(embeddings) == len(dense) == len(lexical) == n):
            raise IndexFormatError(f"index {directory} is inconsistent: passage, vector and BM25 counts differ; rebuild it")
        if embeddings.shape[1] != settings.dim or dense.dim != settings.dim:
            raise IndexFormatError(f"index {directory} is inconsistent: vectors are not {settings.dim}-dimensional")
        return cls(directory, settings, articles, passages, embeddings, dense, lexical, manifest)  # type: ignore[arg-type]


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read and validate ``manifest.json``; every failure is a one-line :class:`QAError`."""
    directory = Path(directory)
    if not directory.exists():
        raise IndexMissingError(f"no index at {directory}; build one with `qa index PATH --index {directory}`")
    path = directory / MANIFEST
    if not path.is_file():
        raise IndexFormatError(f"{directory} is not a qa index (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"{path} is corrupt ({exc}); rebuild the index with `qa index --rebuild`") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{directory} is not a qa index (manifest format is not {FORMAT!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"index {directory} has format version {version}, this qa reads version {FORMAT_VERSION}; rebuild it with `qa index --rebuild`"
        )
    for key in ("settings", "counts", "files"):
        if key not in manifest:
            raise IndexFormatError(f"{path} is missing {key!r}; rebuild the index")
    return manifest


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
    directory = Path(directory)
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


def update_settings(directory: Path | str, **changes: Any) -> dict[str, Any]:
    """Change query-time settings (``fusion``, ``answer``) in an index's manifest, atomically and
    under the write lock; the data files are untouched. Returns the new manifest."""
    directory = Path(directory)
    allowed = {"fusion", "answer"}
    if set(changes) - allowed:
        raise QAError(f"only {', '.join(sorted(allowed))} settings can be changed in place, not {sorted(set(changes) - allowed)}")
    with write_lock(directory):
        manifest = read_manifest(directory)
        settings = dict(manifest["settings"])
        settings.update({k: dict(v) for k, v in changes.items()})
        IndexSettings.from_dict(settings)  # validates
        manifest["settings"] = settings
        manifest["generation"] = int(manifest.get("generation", 0) or 0) + 1
        tmp = directory / f"{MANIFEST}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, directory / MANIFEST)
    return manifest


def current_generation(directory: Path | str) -> object:
    """A cheap token that changes whenever a new index generation is swapped in at ``directory``
    (None when there is no index). Reads only the manifest's metadata."""
    try:
        st = (Path(directory) / MANIFEST).stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise QAError(f"cannot read the index at {directory}: {exc.strerror or exc}") from exc
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def write_lock(directory: Path) -> Iterator[None]:
    """Exclusive lock so two builds never write the same index at once."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock_path = directory.with_name(f".{directory.name}.lock")
    with lock_path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise QAError(f"another process is writing the index at {directory}; try again when it finishes") from exc
        for stale in directory.parent.glob(f"{directory.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
        yield
