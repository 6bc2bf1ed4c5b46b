"""Issue 8: each attack, replayed through the real HTTP routes (in-process ASGI, Gradio's own
``/gradio_api/upload`` and ``/gradio_api/queue/join``), plus the CLI's one-line errors and a real
slow client against `qa serve` on loopback. docs/security.md has the before/after table."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.errors import IngestError
from index.ingest import load_articles
from qa.cli import main
from qa.engine import Engine
from ui.app import create_app
from ui.config import ConfigError, ServeConfig
from ui.guard import SESSION_COOKIE, Guard, Role
from ui.testing import serve_subprocess

from conftest import ROOT, SAMPLE_CORPUS

KEY = "read-key-123"
WKEY = "write-key-456"
ARTICLE = "002_4f924e5df3fd12e9"  # an indexed sample article
SECRET = "zanzibar-quokka-7781 launch codes are in the blue folder"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- helpers
def tree_digest(directory: Path) -> str:
    """Hash of every file's path and bytes under ``directory`` (symlinks resolved)."""
    h = hashlib.sha256()
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(directory)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def app_client(service: Engine, **settings) -> TestClient:
    config = ServeConfig(index_dir=service.index_dir, max_k=20, **settings)
    return TestClient(create_app(service, config), raise_server_exceptions=False)


def login(client: TestClient, key: str) -> None:
    r = client.post("/login", data={"key": key, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text


def fn_ids(client: TestClient) -> dict[str, tuple[int, int]]:
    cfg = client.get("/config").json()
    return {d["api_name"]: (d["id"], d["targets"][0][0]) for d in cfg["dependencies"]}


def gradio_call(client: TestClient, name: str, data: list, session: str = "sess-1") -> dict:
    """Run one UI event the way the browser does: queue/join, then read the SSE stream."""
    fn_index, trigger = fn_ids(client)[name]
    payload = {"data": data, "fn_index": fn_index, "trigger_id": trigger, "session_hash": session, "event_data": None}
    r = client.post("/gradio_api/queue/join", content=json.dumps(payload),  # ASCII JSON: lone surrogates escaped
                    headers={"content-type": "application/json"})
    if r.status_code == 403:  # refused before Gradio saw it (ui.guard.EventFilesMiddleware): the event never ran
        return {"msg": "refused", "success": False, "output": {"error": assert_error(r, 403, "forbidden")["message"]}}
    assert r.status_code == 200, r.text
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    return msg
    raise AssertionError("no process_completed message")


def file_data(path: str) -> dict:
    return {"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


@pytest.fixture
def writable(tmp_path, sample_index, embedder) -> Engine:
    index = tmp_path / "qa-index"
    shutil.copytree(sample_index, index)
    return Engine(index, embedder=embedder, max_k=20).load()


def assert_error(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text[:300]
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}, body
    assert body["error"]["status"] == status and "\n" not in body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# --------------------------------------------------------------------------- attack 1: forged FileData path
def test_forged_filedata_path_is_never_read(writable, tmp_path):
    """Before: a FileData naming any readable file was indexed ("Added… 21 passages") and quoted back;
    a missing one answered "no such file". Even with writes on (loopback, no key) neither works."""
    private = tmp_path / "private_notes.txt"
    private.write_text(f"Private notes\n\n{SECRET}. Nobody else should ever read this sentence.\n", encoding="utf-8")
    before = tree_digest(writable.index_dir)
    with app_client(writable, allow_writes=True) as c:
        c.get("/")  # the page issues this browser's session cookie
        answers = []
        licence = Path(os.__file__).parent / "LICENSE.txt"  # the standard library's licence, as in the issue
        for path in (str(private), str(tmp_path / "missing.txt"), *([str(licence)] if licence.exists() else [])):
            msg = gradio_call(c, "on_add", [[file_data(path)]])
            assert msg["success"] is False, msg
            answers.append(msg["output"]["error"].replace(Path(path).name, "NAME"))
        assert len(set(answers)) == 1, answers  # existing and missing files answer alike: no probing
        r = c.post("/api/search", json={"query": "zanzibar quokka launch codes blue folder", "k": 5, "mode": "bm25"})
        assert all("quokka" not in hit["text"] for hit in r.json()["results"])
    assert tree_digest(writable.index_dir) == before


def test_only_this_sessions_own_upload_is_indexed(writable, tmp_path):
    """A real upload through /gradio_api/upload is indexed for the session that sent it; another
    session naming the same server-side path is refused."""
    article = tmp_path / "sevan_level.txt"
    article.write_text("Lake Sevan water level reaches a ten-year high\n\nThe water level of Lake Sevan rose by 40 "
                       "centimetres this spring, the Armenian environment ministry said on Monday.\n", encoding="utf-8")
    with app_client(writable, api_key=KEY, write_key=WKEY) as owner, app_client(writable, api_key=KEY, write_key=WKEY) as other:
        login(owner, WKEY)
        with article.open("rb") as fh:
            r = owner.post("/gradio_api/upload", files={"files": ("sevan_level.txt", fh, "text/plain")})
        assert r.status_code == 200, r.text
        uploaded = r.json()[0]
        # a second browser with the write key, but not the uploader: refused, nothing indexed
        other.cookies.clear()
        login(other, WKEY)
        digest = tree_digest(writable.index_dir)
        msg = gradio_call(other, "on_add", [[file_data(uploaded)]], session="sess-other")
        assert msg["success"] is False and "not a file this server received" in msg["output"]["error"]
        assert tree_digest(writable.index_dir) == digest
        msg = gradio_call(owner, "on_add", [[file_data(uploaded)]])
        assert msg["success"] is True and "Added" in msg["output"]["data"][0], msg
        hits = owner.post("/api/search", json={"query": "Lake Sevan water level", "k": 1},
                          headers={"X-API-Key": KEY}).json()["results"]
        assert hits[0]["doc_id"] == "sevan_level"


# --------------------------------------------------------------------------- attack 2: overwrite an article
@pytest.mark.parametrize("settings, key, status", [
    ({}, None, 403),                                   # default: writes off for everybody
    ({"api_key": KEY, "write_key": WKEY}, KEY, 403),   # a reader may not upload
    ({"api_key": KEY, "write_key": WKEY}, None, 401),  # not logged in at all
])
def test_upload_route_needs_the_write_role(writable, settings, key, status):
    """Before: anyone could upload `002_….txt` and "Add articles" replaced the real article."""
    before = tree_digest(writable.index_dir)
    with app_client(writable, **settings) as c:
        if key:
            login(c, key)
        r = c.post("/gradio_api/upload", files={"files": (f"{ARTICLE}.txt", b"Planted\n\nplanted text", "text/plain")})
        assert_error(r, status)
    assert tree_digest(writable.index_dir) == before


def test_default_ui_has_no_write_event(writable):
    with app_client(writable) as c:
        assert "on_add" not in fn_ids(c)
        assert "on_ask" in fn_ids(c)


# --------------------------------------------------------------------------- the UI needs the key
GRADIO_PATHS = ["/loginx", "/docsx", "/embedded", "/config", "/gradio_api/info", "/theme.css", "/gradio_api/queue/data?session_hash=x",
                "/gradio_api/file=/etc/hostname", "/gradio_api/upload_progress", "/assets/index.js", "/favicon.ico"]


@pytest.mark.parametrize("path", GRADIO_PATHS)
def test_every_gradio_route_needs_the_session(service, path):
    with app_client(service, api_key=KEY) as c:
        assert_error(c.get(path), 401, "unauthorized")


def test_ui_asks_for_the_key_and_sets_a_strict_cookie(service):
    with app_client(service, api_key=KEY) as c:
        r = c.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert "qa-key" in c.get("/login").text
        assert c.post("/login", data={"key": "wrong"}, follow_redirects=False).status_code == 401
        assert_error(c.post("/gradio_api/queue/join", json={"data": ["x", "bm25", 3], "fn_index": 1,
                                                            "session_hash": "s"}), 401, "unauthorized")
        r = c.post("/login", data={"key": KEY, "next": "//evil.example/"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert KEY not in cookie
        assert c.get("/").status_code == 200
        msg = gradio_call(c, "on_ask", ["Where will Russian troops remain in Armenia?", "hybrid", 3, None, None, [], "relevance"])
        assert msg["success"] is True and "qa-cite" in msg["output"]["data"][0]


def test_forged_or_foreign_session_cookies_are_refused(service):
    other = Guard(api_key="another-key")
    forged = [other.make_session(Role.WRITE), "v1.2.9999999999.abc.deadbeef", "garbage", "v1.1.1.x.y"]
    with app_client(service, api_key=KEY) as c:
        for token in forged:
            c.cookies.set(SESSION_COOKIE, token)
            assert_error(c.get("/config"), 401, "unauthorized")
    expired = Guard(api_key=KEY).make_session(Role.READ, now=time.time() - 13 * 3600)
    assert Guard(api_key=KEY).read_session(expired) is None


def test_reader_session_cannot_write_even_when_forging_the_role(writable):
    """The role lives inside the signed cookie: flipping it breaks the signature."""
    with app_client(writable, api_key=KEY, write_key=WKEY) as c:
        login(c, KEY)
        token = c.cookies[SESSION_COOKIE]
        parts = token.split(".")
        parts[1] = "2"
        c.cookies.clear()
        c.cookies.set(SESSION_COOKIE, ".".join(parts))
        assert_error(c.get("/config"), 401)


# --------------------------------------------------------------------------- attack 5: framing /
@pytest.mark.parametrize("settings, ancestors", [({}, "frame-ancestors 'self'"),
                                                 ({"cors_origins": ("https://wiki.example.org",)},
                                                  "frame-ancestors 'self' https://wiki.example.org")])
def test_root_cannot_be_framed_by_other_sites(service, settings, ancestors):
    with app_client(service, **settings) as c:
        for path in ("/", "/login", "/config"):
            r = c.get(path)
            assert r.status_code == 200
            assert r.headers["content-security-policy"].endswith(ancestors), (path, r.headers)
            assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert ancestors in c.get("/embed").headers["content-security-policy"]  # the same allow-list


# --------------------------------------------------------------------------- attack 6: surrogates, headers
@pytest.mark.parametrize("path, field", [("/api/search", "query"), ("/api/ask", "question"), ("/api/timeline", "topic")])
def test_lone_surrogate_is_a_422(service, path, field):
    with app_client(service) as c:
        r = c.post(path, content=('{"%s": "why \\ud800 russia"}' % field).encode(),
                   headers={"content-type": "application/json"})
        err = assert_error(r, 422, "invalid_request")
        assert field in err["message"] and "surrogate" in err["message"]


def test_non_ascii_embed_token_is_a_401(service):
    with app_client(service, api_key=KEY) as c:
        for token in ("١٢٣٤٥٦٧٨٩٩.abc", "9999999999.é", "ÿ"):
            r = c.post("/api/ask", json={"question": "x"}, headers={"X-Embed-Token": token.encode("utf-8")})
            assert_error(r, 401, "unauthorized")
        r = c.post("/api/ask", json={"question": "x"}, headers={"X-API-Key": "clé".encode("utf-8")})
        assert_error(r, 401, "unauthorized")


def test_ui_refuses_a_lone_surrogate_in_one_line(service):
    with app_client(service) as c:
        msg = gradio_call(c, "on_ask", ["why \ud800 russia", "hybrid", 3, None, None, [], "relevance"])
        assert msg["success"] is False and "surrogate" in msg["output"]["error"]


# --------------------------------------------------------------------------- DELETE and the write permission
class StubService:
    """Enough of the engine for the permission checks: records what ``delete`` was asked."""

    index_dir = Path("unused")
    answer_k = 5

    def __init__(self) -> None:
        self.deleted: list[list[str]] = []

    def delete(self, doc_ids):
        self.deleted.append(list(doc_ids))


def api_client(service, **settings) -> TestClient:
    from ui.api import create_api

    return TestClient(create_api(service, ServeConfig(**settings)), raise_server_exceptions=False)


@pytest.mark.parametrize("settings, headers, status", [
    ({}, {}, 403),                                               # writes are off by default
    ({"api_key": KEY}, {"X-API-Key": KEY}, 403),                 # a key alone does not enable writes
    ({"api_key": KEY, "write_key": WKEY}, {}, 401),
    ({"api_key": KEY, "write_key": WKEY}, {"X-API-Key": KEY}, 403),
    ({"api_key": KEY, "write_key": WKEY}, {"X-API-Key": "nope"}, 401),
    ({"api_key": KEY, "write_key": WKEY}, {"X-API-Key": WKEY}, 200),
    ({"write_key": WKEY}, {}, 401),                              # open reads, keyed writes
    ({"allow_writes": True}, {}, 200),                           # loopback, no keys: local users may write
    ({"allow_writes": True, "api_key": KEY}, {}, 401),
    ({"allow_writes": True, "api_key": KEY}, {"X-API-Key": KEY}, 200),
    ({"allow_writes": True, "api_key": KEY, "host": "0.0.0.0"}, {"X-API-Key": KEY}, 200),
])
def test_delete_needs_the_write_permission(settings, headers, status):
    stub = StubService()
    r = api_client(stub, **settings).delete(f"/api/articles/{ARTICLE}", headers=headers)
    if status == 200:
        assert r.status_code == 200 and r.json() == {"deleted": [ARTICLE]} and stub.deleted == [[ARTICLE]]
    else:
        assert_error(r, status)
        assert stub.deleted == []


def test_writes_never_open_to_anonymous_callers_on_the_network():
    with pytest.raises(ConfigError, match="anyone on the network"):
        ServeConfig(host="0.0.0.0", allow_writes=True)
    assert Guard(allow_writes=True, loopback=False, api_key=None).anonymous_role() == Role.READ


def test_delete_through_the_real_engine(sample_index, embedder, tmp_path):  # type: ignore[no-untyped-def]
    """DELETE /api/articles/{id} with the write key removes the article from every mode; an unknown
    id is 404 not_found and nothing changes; other methods are 405."""
    import shutil

    from qa.engine import Engine

    index = tmp_path / "idx"
    shutil.copytree(sample_index, index)
    engine = Engine.open(index, embedder=embedder)
    doc = "004_5acde872f18f0611"
    c = api_client(engine, api_key=KEY, write_key=WKEY, index_dir=index)
    before = engine.stats().generation
    assert_error(c.delete("/api/articles/no-such-article", headers={"X-API-Key": WKEY}), 404, "not_found")
    assert engine.stats().generation == before
    r = c.delete(f"/api/articles/{doc}", headers={"X-API-Key": WKEY})
    assert r.status_code == 200 and r.json() == {"deleted": [doc]}
    assert engine.stats().articles == 4
    for mode in ("bm25", "dense", "hybrid"):
        hits = engine.search("Russia-Armenia relations Karabakh dispute Alwaght", k=50, mode=mode)
        assert hits and doc not in {h.article.doc_id for h in hits}
    r = c.get(f"/api/articles/{doc}", headers={"X-API-Key": KEY})
    assert_error(r, 405) and r.headers["allow"] == "DELETE"


# --------------------------------------------------------------------------- attack 3: poison doc ids
@pytest.mark.parametrize("record, field", [
    ({"id": "poison\u0000", "title": "t", "text": "body text here"}, "id"),
    ({"id": "poison\u001b[31m", "title": "t", "text": "body"}, "id"),
    ({"id": "ok", "title": "bad\u0007title", "text": "body"}, "title"),
    ({"id": "ok", "title": "t", "text": "body", "source": "x\u0085y"}, "source"),
    ({"id": "ok\ud800", "title": "t", "text": "body"}, "id"),
    ({"id": "ok", "title": "t", "text": "lone \udfff surrogate"}, "text"),
    ({"id": "   ", "title": "t", "text": "body"}, "id"),
])
def test_bad_records_are_rejected_naming_file_and_line(tmp_path, record, field):
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "fine", "text": "fine text"}) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(IngestError) as info:
        load_articles([f])
    assert str(info.value).startswith(f"{f}:2: ") and ("doc id" in str(info.value) or field in str(info.value))


def test_title_whitespace_is_folded_the_same_everywhere(tmp_path):
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "a", "title": "Two\tline\nheadline", "text": "body\u0000text"}) + "\n")
    art = load_articles([f])[0]
    assert art.title == "Two line headline" and "\x00" not in art.text


def test_poison_id_via_cli_is_one_line_exit_2_index_untouched(sample_index, tmp_path, capsys):
    index = tmp_path / "idx"
    shutil.copytree(sample_index, index)
    before = tree_digest(index)
    f = tmp_path / "poison.jsonl"
    f.write_text('{"id": "poison\\u0000", "title": "Poison", "text": "Russia peacekeepers Karabakh poison"}\n')
    assert main(["index", str(f), "--index", str(index)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{f}:1:" in err and "control character" in err
    assert tree_digest(index) == before
    assert main(["search", "Russia peacekeepers Karabakh", "--index", str(index), "--json"]) == 0


# --------------------------------------------------------------------------- CLI: one line, exit 2
def run_qa(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, cwd=ROOT, timeout=300, **kw)


def test_cli_deep_json_and_surrogates_one_line_exit_2(tmp_path, capsys):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"id": "x", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    sur = tmp_path / "sur.jsonl"
    sur.write_text('{"id": "x", "text": "a \\ud800 b"}\n')
    for f, words in ((deep, "nested too deeply"), (sur, "surrogate")):
        assert main(["index", str(f), "--index", str(tmp_path / "idx")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and f"{f}:1:" in err, err
    assert not (tmp_path / "idx").exists()


def test_cli_non_utf8_argument_one_line_exit_2(sample_index):
    r = run_qa(b"search", b"why \xff russia", b"--index", str(sample_index).encode())
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1 and b"not valid UTF-8" in r.stderr, r.stderr


def test_cli_disk_full_one_line_exit_2(sample_index, tmp_path, monkeypatch, capsys):
    """A write that fails with ENOSPC (np.save monkeypatched to fail as a full disk does)."""
    import numpy as np

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)  # the store writes its arrays with np.save
    index = tmp_path / "idx"
    shutil.copytree(sample_index, index)
    before = tree_digest(index)
    f = tmp_path / "new.txt"
    f.write_text("A new article\n\nSomething entirely new happened in Yerevan on Tuesday.\n")
    code = main(["index", str(f), "--index", str(index)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "disk is full" in err, err
    assert tree_digest(index) == before


def test_cli_unexpected_error_is_one_line(monkeypatch, capsys, sample_index):
    from qa.cli import search_cmd

    def boom(args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(search_cmd, "run", boom)  # bound as the handler when main() builds the parser
    assert main(["search", "x", "--index", str(sample_index)]) == 2
    err = capsys.readouterr().err
    assert err == "qa: error: input is nested too deeply to process\n"


# --------------------------------------------------------------------------- slow clients
@pytest.mark.tier2  # a live `qa serve` process
def test_slow_clients_are_cut_and_the_server_keeps_answering(sample_index, tmp_path):
    """Before: 300 connections sending 1 byte/s stayed open for 45 s. Now each is closed at the
    header timeout (2 s here) while /api/health keeps answering."""
    import httpx

    index = tmp_path / "idx"
    shutil.copytree(sample_index, index)
    with serve_subprocess(index, args=["--header-timeout", "2"], log_path=tmp_path / "serve.log") as url:
        host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)[0], int(url.rsplit(":", 1)[1])
        socks = []
        for _ in range(60):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"G")
            socks.append(s)
        start = time.monotonic()
        closed_at: dict[int, float] = {}
        request = b"ET /api/health HTTP/1.1\r\nHost: x\r\n"
        i = 0
        while len(closed_at) < len(socks) and time.monotonic() - start < 12:
            for n, s in enumerate(socks):
                if n in closed_at:
                    continue
                try:
                    s.sendall(request[i % len(request): i % len(request) + 1])
                    s.settimeout(0.001)
                    if s.recv(1) == b"":
                        closed_at[n] = time.monotonic() - start
                except (BlockingIOError, socket.timeout):
                    pass
                except OSError:
                    closed_at[n] = time.monotonic() - start
            t0 = time.monotonic()
            assert httpx.get(url + "/api/health", timeout=5).status_code == 200
            assert time.monotonic() - t0 < 2.0
            i += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        for s in socks:
            s.close()
        assert len(closed_at) == len(socks), f"{len(socks) - len(closed_at)} slow connections still open after 12 s"
        assert max(closed_at.values()) < 6


# --------------------------------------------------------------------------- indexing budget
def test_upload_indexing_stops_at_its_time_budget(writable, tmp_path, monkeypatch):
    """The job's progress object ends it past QA_INDEX_BUDGET_S; nothing is written."""
    from ui import guard_events

    article = tmp_path / "long_report.txt"
    article.write_text("A long report\n\n" + "\n\n".join(f"Paragraph {i} about Yerevan trams and buses." for i in range(40)))
    clock = iter(range(0, 10_000, 50))  # every reading of the clock is 50 s later
    monkeypatch.setattr(guard_events, "_clock", lambda: float(next(clock)))
    before = tree_digest(writable.index_dir)
    with app_client(writable, allow_writes=True, index_budget_s=60) as c:
        c.get("/")
        with article.open("rb") as fh:
            uploaded = c.post("/gradio_api/upload", files={"files": ("long_report.txt", fh, "text/plain")}).json()[0]
        msg = gradio_call(c, "on_add", [[file_data(uploaded)]])
    assert msg["success"] is True and "Not added" in msg["output"]["data"][0] and "budget" in msg["output"]["data"][0]
    assert tree_digest(writable.index_dir) == before


# --------------------------------------------------------------------------- exploratory-test regressions
def test_docs_assets_are_open_like_docs_and_everything_outside_api_embed_is_framed(service):
    """Before: with a key, /docs was open but its script, stylesheet and icon answered 401 (a blank
    page); /docs and /openapi.json carried neither frame-ancestors nor X-Frame-Options."""
    import re

    with app_client(service, api_key=KEY) as c:
        page = c.get("/docs")
        assets = re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', page.text)
        assert len(assets) == 3, assets
        for path in ["/docs", "/openapi.json", "/login", "/logout", *assets]:
            r = c.get(path)
            assert r.status_code == 200, (path, r.status_code)
            assert "frame-ancestors 'self'" in r.headers["content-security-policy"], path
            assert r.headers["x-frame-options"] == "SAMEORIGIN", path
        assert "default-src 'none'" in c.get("/login").headers["content-security-policy"]  # its own CSP kept
        assert "x-frame-options" not in c.get("/embed").headers  # the widget is framed by design
        assert_error(c.get("/docs-assets/../config"), 401, "unauthorized")  # only the assets are open


def _gradio_temp_files() -> set[Path]:
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder())
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.parametrize("settings, key", [({}, None), ({"api_key": KEY}, KEY),
                                           ({"api_key": KEY, "write_key": WKEY}, WKEY)])
def test_process_recording_is_refused_and_stores_nothing(service, settings, key):
    """Before: anyone could POST a "video" to /gradio_api/process_recording: 200, bytes kept in
    Gradio's temp folder. The UI never records, so the route is refused for everybody."""
    before = _gradio_temp_files()
    with app_client(service, **settings) as c:
        if key:
            login(c, key)
        for path in ("/gradio_api/process_recording", "/gradio_api/process_recording/"):
            r = c.post(path, files={"video": ("x.mp4", f"{SECRET} video".encode())})
            assert_error(r, 404, "not_found")
    assert not any(SECRET.encode() in p.read_bytes() for p in _gradio_temp_files() - before)


def test_component_server_files_need_the_write_role(service):
    """Gradio's component_server parses multipart files into its upload folder: writers only."""
    with app_client(service, api_key=KEY, write_key=WKEY) as c:
        login(c, KEY)
        r = c.post("/gradio_api/component_server", files={"file": ("x.txt", b"bytes")},
                   data={"component_id": "1", "session_hash": "s", "fn_name": "f"})
        assert_error(r, 403, "forbidden")
        r = c.post("/gradio_api/component_server", json={"data": None, "component_id": 1, "session_hash": "s",
                                                         "fn_name": "f"})
        assert r.status_code != 403  # JSON calls are reads (Gradio answers them its own way)


def test_get_logout_clears_the_session(service):
    """Before: GET /logout fell through to Gradio's own /logout and left qa_session in place."""
    with app_client(service, api_key=KEY) as c:
        login(c, KEY)
        assert c.get("/config").status_code == 200
        r = c.get("/logout", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert f"{SESSION_COOKIE}=;" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
        c.cookies.clear()
        assert_error(c.get("/config"), 401, "unauthorized")


def test_delete_an_article_whose_id_has_slashes(sample_index, embedder, tmp_path):
    """Before: ingest accepted `news/2024/slash-id` but DELETE /api/articles/news/2024/slash-id was
    404 "no endpoint". Now the id is the whole rest of the path (raw or URL-encoded)."""
    from qa.engine import Engine

    index = tmp_path / "idx"
    shutil.copytree(sample_index, index)
    engine = Engine.open(index, embedder=embedder)
    new = tmp_path / "slash.jsonl"
    new.write_text("\n".join(json.dumps({"id": i, "title": f"Slash {n}", "text": f"Article {n} about quokkas."})
                             for n, i in enumerate(["news/2024/slash-id", "a/b"])) + "\n")
    engine.add_files([new])
    assert engine.stats().articles == 7
    c = api_client(engine, write_key=WKEY, index_dir=index)
    w = {"X-API-Key": WKEY}
    r = c.delete("/api/articles/news/2024/slash-id", headers=w)
    assert r.status_code == 200 and r.json() == {"deleted": ["news/2024/slash-id"]}, r.text
    r = c.delete("/api/articles/a%2Fb", headers=w)
    assert r.status_code == 200 and r.json() == {"deleted": ["a/b"]}, r.text
    assert engine.stats().articles == 5
    assert_error(c.delete("/api/articles/news/2024/slash-id", headers=w), 404, "not_found")  # checked against the index
    assert_error(c.delete("/api/articles/news/2024/", headers=w), 404, "not_found")
    assert_error(c.delete("/api/articles/x/y", headers={"X-API-Key": "wrong"}), 401, "unauthorized")
