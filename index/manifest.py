"""``manifest.json``: the index folder's layout (the file names it lists), reading and checking
the manifest and the files it lists, its self-checksum, and the cheap looks at it (generation,
identity) that load nothing else (see docs/design.md)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .defaults import INDEX_FORMAT, INDEX_MANIFEST
from .dense import KINDS
from .embedding import resolve_backend
from .errors import IndexFormatError, IndexMissingError

FORMAT = INDEX_FORMAT
#: 2: segments + tombstones + generation + self-checksummed manifest; passage ids hash the title.
FORMAT_VERSION = 2
MANIFEST = INDEX_MANIFEST
SEGMENTS = "segments"
LIVE = "live.npy"
DENSE = "dense.faiss"
ARTICLE_KEYS = "articles.keys.npy"
ARTICLE_LINES = "articles.lines.npy"
#: Files up to this size are hashed on every load; bigger ones are checked by size only
#: (``verify=True`` hashes everything).
HASH_ON_LOAD_BYTES = 256 * 2**20
#: The manifest sections its checksum covers (everything but the checksum and timestamps).
_UNCHECKED = ("checksum", "created", "updated")


def real_path(directory: Path | str) -> Path:
    """The index folder's real location (symlinks resolved): what locks and writes act on."""
    return Path(os.path.realpath(Path(directory)))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, as the manifest's ``files`` table records it."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's own content (settings, dense, files, segments, counts, ...)."""
    body = {k: v for k, v in manifest.items() if k not in _UNCHECKED}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


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


def check_files(directory: Path | str, manifest: dict[str, Any], *, verify: bool = False) -> None:
    """Every file ``manifest`` lists is there with its size and (up to :data:`HASH_ON_LOAD_BYTES`,
    or always with ``verify``) its SHA-256; otherwise a one-line :class:`IndexFormatError`."""
    real = real_path(directory)
    for rel, meta in manifest["files"].items():
        path = real / rel
        if not path.is_file():
            raise IndexFormatError(f"index {directory} is incomplete: {rel} is missing; rebuild it with `qa index YOUR_ARTICLES --index {directory} --rebuild`")
        if path.stat().st_size != meta["bytes"] or (
            (verify or meta["bytes"] <= HASH_ON_LOAD_BYTES) and file_sha256(path) != meta["sha256"]
        ):
            raise IndexFormatError(f"index {directory} is corrupt: {rel} does not match its checksum; rebuild it with `qa index YOUR_ARTICLES --index {directory} --rebuild`")


def peek_manifest(directory: Path | str) -> dict[str, Any] | None:
    """The manifest at ``directory`` as JSON, unchecked; ``None`` when there is none to read."""
    try:
        manifest = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return manifest if isinstance(manifest, dict) else None


def identity(directory: Path | str) -> tuple[int, int, int] | None:
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
    gen = (peek_manifest(directory) or {}).get("generation")
    return gen if isinstance(gen, int) and not isinstance(gen, bool) else None


__all__ = ["ARTICLE_KEYS", "ARTICLE_LINES", "DENSE", "FORMAT", "FORMAT_VERSION", "HASH_ON_LOAD_BYTES", "LIVE", "MANIFEST",
           "SEGMENTS", "check_files", "current_generation", "file_sha256", "identity", "manifest_checksum",
           "peek_manifest", "read_manifest", "real_path"]
