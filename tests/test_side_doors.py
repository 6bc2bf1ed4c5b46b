"""Issue 27, rows 1-3: Gradio's own routes get the same guard as the JSON API.

Each test replays the attack through the real ASGI app (Gradio mounted, in-process) and fails
without the fix: a ``FileData.path`` naming a FIFO, a device or a server file reached Gradio's
file handling (which opens, hashes and copies it on the event loop) before any check ran, and
a 20 MB event body was parsed whole."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from ui.guard import UI_EVENT_MAX_BYTES, file_references, upload_folder

from test_security import KEY, WKEY, app_client, assert_error, file_data, fn_ids, login, tree_digest, writable  # noqa: F401
from ui.guard import SESSION_COOKIE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def join(client, data: list, name: str = "on_add", session: str = "s1"):
    fn_index, trigger = fn_ids(client)[name]
    payload = {"data": data, "fn_index": fn_index, "trigger_id": trigger, "session_hash": session, "event_data": None}
    return client.post("/gradio_api/queue/join", content=json.dumps(payload), headers={"content-type": "application/json"})


class FifoRescue:
    """Opens ``fifo`` for writing after ``after_s`` seconds (and closes it), so that a server that
    did open the FIFO for reading is released and the test fails instead of hanging."""

    def __init__(self, fifo: Path, after_s: float = 8.0) -> None:
        self.fifo, self.after_s, self.done = fifo, after_s, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if self.done.wait(self.after_s):
            return
        try:  # a writer that opens and closes: a reader blocked on the FIFO sees end of file
            os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # ENXIO: nobody has it open for reading, nothing to release
            pass

    def __enter__(self) -> "FifoRescue":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def cached_copies(name: str) -> list[Path]:
    root = upload_folder()
    return [p for p in root.rglob(name)] if root.is_dir() else []


@pytest.mark.parametrize("settings, key", [
    ({"allow_writes": True}, None),                      # loopback, no key: every visitor may write
    ({"api_key": KEY, "write_key": WKEY}, KEY),           # a read-only session
    ({"api_key": KEY, "write_key": WKEY}, WKEY),          # even the writer, naming what it did not upload
])
def test_an_event_naming_a_fifo_device_or_server_file_is_refused_unread(writable, tmp_path, settings, key):  # noqa: F811
    """Row 1 (high): a FIFO or /dev/zero as FileData.path froze the whole server; row 2: a server
    file was copied into Gradio's upload cache before the refusal. Now each is a 403 in the error
    shape, answered at once, and nothing is opened or copied."""
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    server_file = tmp_path / "server_secret_7731.txt"
    server_file.write_text("Secret\n\nA file on the server that no client uploaded.\n", encoding="utf-8")
    link = tmp_path / "zero.txt"
    link.symlink_to("/dev/zero")
    before = tree_digest(writable.index_dir)
    with app_client(writable, **settings) as c, FifoRescue(fifo):
        if key:
            login(c, key)
        else:
            c.get("/")  # the page issues the anonymous session cookie
        for path in (str(fifo), "/dev/zero", str(link), str(server_file), "http://127.0.0.1:9/x.txt"):
            started = time.monotonic()
            r = join(c, [[file_data(path)]])
            assert time.monotonic() - started < 5, f"{path}: the server hung"
            err = assert_error(r, 403, "forbidden")
            assert ("write key" in err["message"]) == (key == KEY), err
            assert c.get("/api/health", headers={"X-API-Key": KEY}).status_code == 200
        # a file reference hidden deeper, or spelled with JSON escapes, is found too
        for data in ([{"a": [{"path": str(server_file)}]}], [[{"\\u0070ath": str(server_file)}]]):
            body = json.dumps({"data": data, "fn_index": fn_ids(c)["on_ask"][0], "session_hash": "s2"})
            body = body.replace("\\\\u0070", "\\u0070")
            assert_error(c.post("/gradio_api/queue/join", content=body,
                                headers={"content-type": "application/json"}), 403, "forbidden")
    assert not cached_copies(server_file.name)  # row 2: not copied into /tmp/gradio
    assert tree_digest(writable.index_dir) == before


def test_a_huge_event_body_is_413_before_gradio_parses_it(service):
    """Row 3 (high): 20 MB to /gradio_api/queue/join answered 200 and cost 1.1 GB of RSS per request.
    Now any Gradio route takes at most UI_EVENT_MAX_BYTES (uploads: the configured upload size),
    by Content-Length or counted while a chunked body streams."""
    with app_client(service, api_key=KEY, write_key=WKEY) as c:
        login(c, KEY)
        big = json.dumps({"data": ["x" * (20 * 2**20)], "fn_index": 0, "session_hash": "s"}).encode()
        assert_error(c.post("/gradio_api/queue/join", content=big, headers={"content-type": "application/json"}),
                     413, "body_too_large")

        def chunks():
            for _ in range(40):
                yield b" " * (UI_EVENT_MAX_BYTES // 8)

        assert_error(c.post("/gradio_api/queue/join", content=chunks(), headers={"content-type": "application/json"}),
                     413, "body_too_large")
        assert_error(c.post("/gradio_api/run/predict", content=big, headers={"content-type": "application/json"}),
                     413, "body_too_large")
        # an ordinary question still runs
        r = join(c, ["Why did Russia withdraw from Karabakh?", "hybrid", 5, None, None, [], "relevance"], "on_ask")
        assert r.status_code == 200, r.text


def test_an_upload_over_the_configured_size_is_413(writable):  # noqa: F811
    with app_client(writable, allow_writes=True, max_upload_mb=1) as c:
        c.get("/")
        r = c.post("/gradio_api/upload", files={"files": ("big.txt", b"word " * (300 * 1024), "text/plain")})
        assert_error(r, 413, "body_too_large")
        r = c.post("/gradio_api/upload", files={"files": ("small.txt", b"Small\n\nA small article text.\n", "text/plain")})
        assert r.status_code == 200, r.text


def test_file_references_finds_every_path_and_url():
    assert file_references({"data": [[{"path": "/a", "meta": {}}], {"x": {"url": "http://127.0.0.1/b"}}]}) \
        in (["/a", "http://127.0.0.1/b"], ["http://127.0.0.1/b", "/a"])
    assert file_references({"data": ["a question", 5, None, ["AP"]]}) == []
    deep = []
    for _ in range(5000):
        deep = [deep]
    assert file_references(deep) == []  # iterative: no RecursionError
    assert file_references([[1]] * 200_001) == [None]  # past the node budget: treated as a file (refused)


def test_gradio_own_errors_have_the_one_error_shape(service):
    """Row 10: Gradio's own 404 / 405 / 422 answered ``{"detail": ...}``; every error is the app's shape now."""
    with app_client(service) as c:
        c.get("/")
        assert_error(c.get("/gradio_api/no-such-route"), 404, "not_found")
        assert_error(c.put("/gradio_api/queue/join", content=b"{}", headers={"content-type": "application/json"}),
                     405, "method_not_allowed")
        assert_error(c.post("/gradio_api/queue/join", content=b'{"data": 5}', headers={"content-type": "application/json"}),
                     422, "invalid_request")


# --------------------------------------------------------------------------- rows 7 and 8: the CLI's own doors
def test_qa_index_refuses_a_fifo_or_device_named_directly(tmp_path, capsys):
    """Row 7: `qa index pipe.txt` (a FIFO) hung forever and `qa index zero.txt` (a link to /dev/zero)
    read until memory ran out; in a folder both were skipped. Now each is a one-line error, exit 2."""
    import subprocess
    import sys

    from qa.cli import main

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with FifoRescue(fifo, after_s=10):
        started = time.monotonic()
        assert main(["index", str(fifo), "--index", str(tmp_path / "idx")]) == 2
        assert time.monotonic() - started < 8
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file (a FIFO)" in err
    assert not (tmp_path / "idx").exists()
    zero = tmp_path / "zero.jsonl"
    zero.symlink_to("/dev/zero")
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"  # before: reads /dev/zero forever
            "from index.ingest import load_articles; from index.errors import QAError\n"
            f"try: load_articles({str(zero)!r})\nexcept QAError as e: print(e); sys.exit(2)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.returncode == 2 and "not a regular file (a device)" in proc.stdout, proc.stderr[-500:]


def test_file_names_with_terminal_escapes_are_printed_escaped(tmp_path, capsys):
    """Row 8: a file name holding escape codes reached the terminal raw in the CLI's error line."""
    from qa.cli import main

    bad = tmp_path / "evil\x1b]0;owned\x07\x1b[31m.txt"
    bad.write_bytes(b"\x00\x01binary")
    assert main(["index", str(bad), "--index", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "evil\\x1b]0;owned\\x07\\x1b[31m.txt" in err, err


# --------------------------------------------------------------------------- rows 4, 5 and 9: tokens, keys, sessions
def embed_token(client) -> str:
    import re

    page = client.get("/embed").text
    return re.search(r'name="qa-embed-token" content="([^"]+)"', page).group(1)


def test_the_embed_token_gets_the_answer_only_with_k_capped_and_rate_limits(service):
    """Row 4: the token scraped from the public /embed page was a full search key (43 ranked passages
    with k=50). Now a token caller gets the answer and its citations (no result list), read from at
    most EMBED_MAX_K passages, within per-address and per-token limits; search stays closed."""
    from ui.guard import EMBED_MAX_K, RateLimiter

    q = "Why did Russia withdraw from Karabakh?"
    with app_client(service, api_key=KEY) as c:
        token = embed_token(c)
        r = c.post("/api/ask", json={"question": q, "k": 20}, headers={"X-Embed-Token": token})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["results"] == [] and body["citations"] and body["status"] == "answered"
        assert {k: v for k, v in body.items() if k != "results"} == \
            {k: v for k, v in service.ask(q, k=EMBED_MAX_K).to_dict().items() if k != "results"}
        keyed = c.post("/api/ask", json={"question": q, "k": 20}, headers={"X-API-Key": KEY}).json()
        assert len(keyed["results"]) == 20  # a key holder still gets the ranked list
        assert_error(c.post("/api/search", json={"query": q}, headers={"X-Embed-Token": token}), 401)
        guard = c.app.state.guard
        guard.embed_clients = RateLimiter(2, 60.0)
        for _ in range(2):
            assert c.post("/api/ask", json={"question": q}, headers={"X-Embed-Token": token}).status_code == 200
        assert_error(c.post("/api/ask", json={"question": q}, headers={"X-Embed-Token": token}), 429, "too_many_requests")
        guard.embed_clients, guard.embed_tokens = RateLimiter(100, 60.0), RateLimiter(1, 60.0)
        assert c.post("/api/ask", json={"question": q}, headers={"X-Embed-Token": token}).status_code == 200
        assert_error(c.post("/api/ask", json={"question": q}, headers={"X-Embed-Token": token}), 429, "too_many_requests")


def test_wrong_keys_lock_the_address_out_on_the_api_and_the_login_form(service):
    """Row 5: 300 wrong keys in 0.5 s met no throttling. Now the 11th wrong key within a minute locks
    the address out (429, even for the right key), on /login and on X-API-Key alike."""
    from ui.guard import KEY_FAILURES

    with app_client(service, api_key=KEY, write_key=WKEY) as c:
        for i in range(KEY_FAILURES):
            assert_error(c.post("/api/search", json={"query": "x"}, headers={"X-API-Key": f"guess-{i:06d}"}), 401)
        err = assert_error(c.post("/api/search", json={"query": "x"}, headers={"X-API-Key": KEY}), 429, "too_many_requests")
        assert "try again in" in err["message"]
    with app_client(service, api_key=KEY, write_key=WKEY) as c:
        for i in range(KEY_FAILURES):
            assert c.post("/login", data={"key": f"guess-{i:06d}", "next": "/"}, follow_redirects=False).status_code == 401
        r = c.post("/login", data={"key": WKEY, "next": "/"}, follow_redirects=False)
        assert r.status_code == 429 and "Too many wrong keys" in r.text and SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_key_lockouts_back_off_and_expire():
    from ui.guard import KeyFailures

    now = [0.0]
    f = KeyFailures(limit=3, window_s=60, backoff_s=60, max_backoff_s=200, clock=lambda: now[0])
    assert [f.failed("a") for _ in range(3)] == [0, 0, 60] and f.locked("a") == 60 and f.locked("b") == 0
    now[0] = 61
    assert f.locked("a") == 0
    assert [f.failed("a") for _ in range(3)] == [0, 0, 120]  # the next lockout: twice as long
    now[0] = 190
    assert [f.failed("a") for _ in range(3)] == [0, 0, 200]  # capped
    now[0] = 190 + 200 + 200  # quiet for longer than the cap: back to the first back-off
    assert [f.failed("a") for _ in range(3)] == [0, 0, 60]
    now[0] = 2000
    f.failed("b")
    now[0] = 2061
    assert [f.failed("b") for _ in range(2)] == [0, 0]  # failures older than the window are forgotten


def test_short_keys_are_refused_at_start(tmp_path):
    from ui.config import ConfigError, ServeConfig
    from ui.settings import MIN_KEY_CHARS

    for name in ("api_key", "write_key"):
        with pytest.raises(ConfigError, match=f"at least {MIN_KEY_CHARS}"):
            ServeConfig(index_dir=tmp_path, **{name: "x" * (MIN_KEY_CHARS - 1)})
    assert ServeConfig(index_dir=tmp_path, api_key="x" * MIN_KEY_CHARS).api_key


def test_logout_revokes_the_session_on_the_server(service):
    """Row 9: after logout the old session cookie stayed valid for 12 h."""
    with app_client(service, api_key=KEY) as c:
        login(c, KEY)
        token = c.cookies[SESSION_COOKIE]
        assert c.get("/config").status_code == 200
        c.get("/logout", follow_redirects=False)
        c.cookies.clear()
        c.cookies.set(SESSION_COOKIE, token)  # a copy kept from before
        assert_error(c.get("/config"), 401, "unauthorized")
        login(c, KEY)  # a new login works
        assert c.get("/config").status_code == 200


@pytest.mark.tier2  # a live `qa serve` process
def test_a_real_server_keeps_answering_health_while_a_reader_loops_the_attacks(sample_index, tmp_path):
    """Done-when of issue 27: `qa serve` on loopback (writes on, a read and a write key set) keeps
    answering /api/health within 1 s while a read-only client sends, in a bounded loop, a FIFO and
    /dev/zero as FileData, a 20 MB event body, wrong keys and scraped-token asks."""
    import re
    import shutil

    import httpx

    from ui.testing import serve_subprocess

    index = tmp_path / "qa-index"
    shutil.copytree(sample_index, index)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    env = {"QA_API_KEY": KEY, "QA_WRITE_KEY": WKEY}
    with serve_subprocess(index, env=env, log_path=tmp_path / "serve.log") as url, FifoRescue(fifo, after_s=60):
        stop = threading.Event()
        seen: dict[int, int] = {}

        def attacker() -> None:
            with httpx.Client(base_url=url, timeout=10) as c:
                c.post("/login", data={"key": KEY, "next": "/"})  # a read-only session
                ids = {d["api_name"]: (d["id"], d["targets"][0][0]) for d in c.get("/config").json()["dependencies"]}
                fn = ids.get("on_add", ids["on_ask"])
                token = re.search(r'name="qa-embed-token" content="([^"]+)"', c.get("/embed").text).group(1)
                big = b'{"data": ["' + b"x" * (20 * 2**20) + b'"], "fn_index": 0, "session_hash": "s"}'
                deadline = time.monotonic() + 8
                while not stop.is_set() and time.monotonic() < deadline:
                    for path in (str(fifo), "/dev/zero"):
                        body = {"data": [[file_data(path)]], "fn_index": fn[0], "trigger_id": fn[1], "session_hash": "a"}
                        r = c.post("/gradio_api/queue/join", json=body)
                        seen[r.status_code] = seen.get(r.status_code, 0) + 1
                    for r in (c.post("/gradio_api/queue/join", content=big, headers={"content-type": "application/json"}),
                              httpx.post(url + "/api/search", json={"query": "x"}, headers={"X-API-Key": "wrong-key-0000"}),
                              c.post("/api/ask", json={"question": "Why?", "k": 20}, headers={"X-Embed-Token": token})):
                        seen[r.status_code] = seen.get(r.status_code, 0) + 1

        worker = threading.Thread(target=attacker, daemon=True)
        worker.start()
        slowest = 0.0
        with httpx.Client(timeout=5) as probe:
            time.sleep(0.5)
            while worker.is_alive():
                started = time.monotonic()
                assert probe.get(url + "/api/health").status_code == 200
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.2)
        stop.set()
        worker.join(timeout=30)
        assert slowest < 1.0, slowest
        assert seen.get(200, 0) + seen.get(403, 0) + seen.get(413, 0) + seen.get(401, 0) + seen.get(429, 0) == sum(seen.values()), seen
        assert seen.get(403, 0) >= 2 and seen.get(413, 0) >= 1 and seen.get(429, 0) >= 1, seen
