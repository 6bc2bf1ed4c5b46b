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
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .chunking import ChunkSettings
from .dense import DenseIndex
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
        )


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
    articles: dict[str, Article]
    passages: list[Passage]
    embeddings: np.ndarray
    dense: DenseIndex
    lexical: LexicalIndex
    manifest: dict[str, Any]

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
    ) -> "IndexStore":
        """Build both retrievers and write a complete index at ``directory``, atomically."""
        directory = Path(directory)
        if len(passages) != len(embeddings):
            raise ValueError("one embedding per passage is required")
        if not passages:
            raise QAError("refusing to write an index with no passages")
        dense = DenseIndex.build(embeddings)
        lexical = LexicalIndex.build(
            [passage_index_text(p, settings.title_in_passage) for p in passages], settings.bm25, show_progress=show_progress
        )
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f"{directory.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            with (tmp / ARTICLES).open("w", encoding="utf-8") as f:
                for a in articles:
                    f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
            with (tmp / PASSAGES).open("w", encoding="utf-8") as f:
                for p in passages:
                    f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
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
                "dense": {"type": "flat", "metric": "inner_product"},
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
        return cls(directory, settings, {a.doc_id: a for a in articles}, passages, embeddings, dense, lexical, manifest)

    # ----------------------------------------------------------------- read
    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool = False, verify: bool = False) -> "IndexStore":
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
            settings = IndexSettings.from_dict(manifest["settings"])
            articles = {a.doc_id: a for a in map(Article.from_dict, _read_jsonl(directory / ARTICLES))}
            passages = [Passage.from_dict(d) for d in _read_jsonl(directory / PASSAGES)]
            embeddings = np.load(directory / EMBEDDINGS, mmap_mode="r" if mmap else None)
            dense = DenseIndex.load(directory / DENSE, mmap=mmap)
            lexical = LexicalIndex.load(directory / BM25_DIR, mmap=mmap)
        except (KeyError, TypeError, ValueError, OSError, RuntimeError) as exc:
            raise IndexFormatError(f"index {directory} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); rebuild it with `qa index --rebuild`") from exc
        n = manifest["counts"]["passages"]
        if not (len(passages) == len(embeddings) == len(dense) == len(lexical) == n):
            raise IndexFormatError(f"index {directory} is inconsistent: passage, vector and BM25 counts differ; rebuild it")
        if embeddings.shape[1] != settings.dim or dense.dim != settings.dim:
            raise IndexFormatError(f"index {directory} is inconsistent: vectors are not {settings.dim}-dimensional")
        return cls(directory, settings, articles, passages, embeddings, dense, lexical, manifest)


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
    olds = sorted(directory.parent.glob(f"{directory.name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in olds:
        if (old / MANIFEST).is_file():
            os.rename(old, directory)
            log.warning("restored %s from an interrupted update", directory)
            return


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
