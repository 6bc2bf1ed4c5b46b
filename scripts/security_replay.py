"""Replay issue 8's attacks against a source tree and print one line per attack (for the
before/after table in docs/security.md).

    PYTHONPATH=<tree> python scripts/security_replay.py --index IDX [--slow]

Runs in-process (FastAPI TestClient, Gradio's own queue routes) with only the APIs that both the
old and the new code have; ``--slow`` also starts ``qa serve`` and holds 100 slow connections.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "replay-key-0001"


def outcome(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the point is to report what happened
        return f"exception {type(exc).__name__}: {str(exc)[:80]}"


def gradio(client, name, data, session="replay"):
    cfg = client.get("/config")
    if cfg.status_code != 200:
        return f"/config -> {cfg.status_code}"
    deps = {d["api_name"]: d for d in cfg.json()["dependencies"]}
    if name not in deps:
        return f"no {name} event"
    d = deps[name]
    r = client.post("/gradio_api/queue/join", content=json.dumps({"data": data, "fn_index": d["id"],
                    "trigger_id": d["targets"][0][0], "session_hash": session, "event_data": None}),
                    headers={"content-type": "application/json"})
    if r.status_code != 200:
        return f"queue/join -> {r.status_code}"
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}") as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    out = msg.get("output", {})
                    return (out.get("data") or [out.get("error")])[0][:90]
    return "no answer"


def run_cli(tree: Path, *args: bytes | str, env_extra=None) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree), **(env_extra or {})}
    r = subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, cwd=tree, env=env, timeout=600)
    lines = r.stderr.decode(errors="replace").strip().splitlines()
    return f"exit {r.returncode}, {len(lines)} stderr line(s): {lines[-1][:90] if lines else ''}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True, type=Path, help="an index of sample_corpus/ (copied, never changed)")
    ap.add_argument("--slow", action="store_true")
    args = ap.parse_args()
    tree = Path(__import__("ui").__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="replay-"))
    index = work / "idx"
    shutil.copytree(args.index, index)

    from fastapi.testclient import TestClient

    from qa.engine import Engine
    from ui.app import create_app
    from ui.config import ServeConfig

    service = Engine(index, max_k=20).load()
    config = ServeConfig(index_dir=index, max_k=20, api_key=KEY)
    results: dict[str, str] = {}
    licence = Path(os.__file__).parent / "LICENSE.txt"
    with TestClient(create_app(service, config), raise_server_exceptions=False) as c:
        fd = {"path": str(licence), "orig_name": "LICENSE.txt", "meta": {"_type": "gradio.FileData"}}
        results["1 forged FileData path, no key"] = outcome(lambda: gradio(c, "on_add", [[fd]]))
        up = outcome(lambda: c.post("/gradio_api/upload", files={"files": ("002_4f924e5df3fd12e9.txt",
                                                                         b"Planted\n\nplanted text", "text/plain")}))
        results["2 upload over an indexed article, no key"] = (f"upload -> {up.status_code}" if hasattr(up, "status_code") else up)
        for path, field in (("/api/search", "query"), ("/api/ask", "question")):
            r = c.post(path, content=('{"%s": "why \\ud800 russia"}' % field).encode(),
                       headers={"content-type": "application/json", "X-API-Key": KEY})
            results[f"6 lone surrogate {path}"] = str(r.status_code)
        r = outcome(lambda: c.post("/api/ask", json={"question": "x"}, headers={"X-Embed-Token": b"9999999999.\xe9"}))
        results["6 non-ASCII X-Embed-Token"] = str(getattr(r, "status_code", r))
        r = c.get("/", follow_redirects=False)
        results["5 framing headers on /"] = (f"{r.status_code}; CSP={r.headers.get('content-security-policy')!r}; "
                                             f"XFO={r.headers.get('x-frame-options')!r}")
    poison = work / "poison.jsonl"
    poison.write_text('{"id": "poison\\u0000", "title": "Poison", "text": "Russia peacekeepers Karabakh poison words"}\n')
    idx2 = work / "idx2"
    shutil.copytree(args.index, idx2)
    results["3 poison doc id: qa index"] = run_cli(tree, "index", str(poison), "--index", str(idx2), "--quiet")
    results["3 poison doc id: then qa search"] = run_cli(tree, "search", "poison words Karabakh", "--index", str(idx2), "--mode", "bm25")
    sur = work / "sur.jsonl"
    sur.write_text('{"id": "x", "text": "a \\ud800 b"}\n')
    results["7 CLI lone surrogate in .jsonl"] = run_cli(tree, "index", str(sur), "--index", str(work / "i3"))
    deep = work / "deep.jsonl"
    deep.write_text('{"id": "x", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    results["7 CLI 100k-deep JSON"] = run_cli(tree, "index", str(deep), "--index", str(work / "i4"))
    results["7 CLI non-UTF-8 argument"] = run_cli(tree, b"search", b"why \xff russia", b"--index", str(args.index).encode())
    if args.slow:
        results["8 slow clients"] = slow_clients(tree, args.index)
    for name, value in results.items():
        print(f"{name:45s} | {value}")
    shutil.rmtree(work, ignore_errors=True)


def slow_clients(tree: Path, index: Path, n: int = 100, hold_s: float = 20.0) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(index), "--port", "0"], cwd=tree,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        for line in proc.stdout:  # type: ignore[union-attr]
            if "Serving on" in line:
                port = int(line.strip().rsplit(":", 1)[1])
                break
        time.sleep(1)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
        start = time.monotonic()
        request = b"GET /api/health HTTP/1.1\r\nHost: x\r\n"
        i = 0
        open_ = set(range(n))
        while time.monotonic() - start < hold_s:
            for k in list(open_):
                try:
                    socks[k].sendall(request[i % len(request):i % len(request) + 1])
                    socks[k].settimeout(0.001)
                    if socks[k].recv(1) == b"":
                        open_.discard(k)
                except (BlockingIOError, socket.timeout):
                    pass
                except OSError:
                    open_.discard(k)
            i += 1
            time.sleep(1)
        return f"{len(open_)}/{n} connections sending 1 byte/s still open after {hold_s:.0f} s"
    finally:
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    main()
