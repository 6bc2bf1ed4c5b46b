"""Generations: every write of an index produces a complete new one in a sibling
``<dir>.tmp-<pid>`` folder, which gets its manifest, is fsynced and is swapped in with two renames
(old aside, new in place, old removed). If a crash falls between the two renames, :func:`recover`
puts the newest complete copy back on next load. Also the write lock and the in-place update of
the query-time settings (see docs/design.md). Writes and locks act on the real path, so an index
reached through a symlink is updated in place and the link stays a link."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .errors import QAError
from .manifest import FORMAT, FORMAT_VERSION, MANIFEST, file_sha256, manifest_checksum, read_manifest, real_path
from .settings import IndexSettings

log = logging.getLogger(__name__)


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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def write_generation(real: Path, settings: IndexSettings, generation: int,
                     fill: Callable[[Path], tuple[list[dict[str, Any]], dict[str, Any], dict[str, int]]], *,
                     previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write a complete generation into a temporary sibling folder (``fill`` puts the files there
    and returns the segment list, the dense index's settings and the counts), add the manifest,
    fsync and swap it in. Hashes of hard-linked files are taken from ``previous`` instead of being
    recomputed."""
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
                files[rel] = {"bytes": st.st_size, "sha256": file_sha256(p)}
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


__all__ = ["recover", "update_settings", "write_generation", "write_lock"]
