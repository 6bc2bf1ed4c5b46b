"""Run a real ``qa serve`` in a subprocess on loopback, for tests and benchmarks.

>>> with serve_subprocess("qa-index") as url:
...     httpx.get(url + "/api/health")

The server binds ``127.0.0.1`` on a free port (``--port 0``); the URL is read from its
``Serving on`` line, then ``/api/health`` is polled. The process is always terminated (then
killed if it lingers), and its stderr is attached to any startup error.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SERVING = re.compile(r"Serving on (http://\S+)")


class ServerStartError(RuntimeError):
    pass


@contextlib.contextmanager
def serve_subprocess(index_dir: str | Path, *, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                     startup_timeout: float = 180.0, log_path: str | Path | None = None) -> Iterator[str]:
    """Start ``qa serve --index INDEX --host 127.0.0.1 --port 0 ARGS``; yield its base URL."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    full_env.update({"PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"})
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "qa", "serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", "0", *args]
    stderr = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # read stdout in the background so the pipe never fills
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    def fail(message: str) -> ServerStartError:
        tail = ""
        if log_path:
            stderr.flush()  # type: ignore[union-attr]
            tail = "; stderr tail:\n" + "".join(Path(log_path).read_text(errors="replace").splitlines(True)[-15:])
        return ServerStartError(message + tail)

    try:
        url = None
        deadline = time.monotonic() + startup_timeout
        while url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise fail(f"qa serve printed no URL within {startup_timeout:.0f}s")
            try:
                line = lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if line is None:
                raise fail(f"qa serve exited with code {proc.wait(5)} before serving")
            m = SERVING.search(line)
            if m:
                url = m.group(1)
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise fail(f"qa serve exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise fail("qa serve never answered /api/health")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if log_path:
            stderr.close()  # type: ignore[union-attr]
