"""Progress of long jobs (``qa index``, ``qa eval``) that is readable in a terminal *and* in a log.

* :func:`stage` is what the work calls: ``with stage("embedding", total, "passage", show) as s:
  s.update(n)``. On a terminal with ``show`` it draws a tqdm bar; either way it records the
  current stage and count in one process-wide place.
* :func:`heartbeat` is what a command wraps around the work when stderr is *not* a terminal
  (redirected to a file, CI, ``nohup``): a daemon thread prints one line every
  ``QA_PROGRESS_SECONDS`` seconds (default 5), e.g.
  ``qa: 0:01:10 elapsed · embedding 1,280/5,183 passages (25%)``, so a redirected run never
  looks hung. Nothing is printed for jobs shorter than one interval.
* :func:`notice` prints a one-line ``qa: …`` message (what a slow step is doing and why).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

DEFAULT_SECONDS = 5.0


_lock = threading.Lock()
#: The stages running now, innermost last (the heartbeat shows them all, outermost first). A stage
#: leaves the stack when it closes, so a finished step (the query embedding of a search, say) is
#: never reported as running.
_active: list["Stage"] = []


def interval_seconds() -> float:
    try:
        return max(0.05, float(os.environ.get("QA_PROGRESS_SECONDS") or DEFAULT_SECONDS))
    except ValueError:
        return DEFAULT_SECONDS


def _text(desc: str, done: int, total: int | None, unit: str) -> str:
    unit = unit + ("s" if unit.isalpha() and (total or done) != 1 else "")  # passages, not "%s"
    if total:
        return f"{desc} {done:,}/{total:,} {unit} ({100 * done // max(total, 1)}%)".replace("  ", " ")
    return f"{desc} {done:,} {unit}".rstrip() if done else desc


def status() -> str:
    """The running stages as text, outermost first (``"answering 118/357 questions (33%) › embedding
    0/1 passage"``), or ``""``."""
    with _lock:
        parts = [(st.desc, st.done, st.total, st.unit) for st in _active if st.desc]
    return " › ".join(_text(*p) for p in parts)


class Stage:
    """One named step with a known or unknown total; see :func:`stage`."""

    def __init__(self, desc: str, total: int | None, unit: str, show: bool) -> None:
        self.desc, self.total, self.unit, self.done = desc, total, unit, 0
        self._bar: Any = None
        with _lock:
            _active.append(self)
        if show and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit)

    def update(self, n: int = 1) -> None:
        with _lock:
            self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        with _lock:
            if self in _active:
                _active.remove(self)
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stage(desc: str, total: int | None = None, unit: str = "", show: bool = False) -> Stage:
    return Stage(desc, total, unit, show)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@contextlib.contextmanager
def heartbeat(enabled: bool = True, *, seconds: float | None = None, file: IO[str] | None = None,
              label: str = "qa") -> Iterator[None]:
    """While the block runs, print ``label: H:MM:SS elapsed · <stage>`` every ``seconds``."""
    if not enabled:
        yield
        return
    out = file or sys.stderr
    every = interval_seconds() if seconds is None else seconds
    stop = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not stop.wait(every):
            now = status()
            try:
                print(f"{label}: {_clock(time.monotonic() - start)} elapsed" + (f" · {now}" if now else ""),
                      file=out, flush=True)
            except (OSError, ValueError):  # stderr closed under us: stop quietly
                return

    thread = threading.Thread(target=beat, name="progress-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1.0)
        with _lock:
            _active.clear()


def notice(message: str, *, file: IO[str] | None = None) -> None:
    """One ``qa: message`` line on stderr: what a slow step is doing."""
    print(f"qa: {message}", file=file or sys.stderr, flush=True)
