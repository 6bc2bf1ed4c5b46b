"""Issue 8: the UI's "Add articles" job, through the real HTTP routes (Gradio's upload route and
``/gradio_api/queue/join``): questions keep being answered while an upload is indexed, an upload
over the size budget changes nothing, and only writers see the upload panel."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from qa.engine import Engine

from test_security import KEY, WKEY, app_client, file_data, gradio_call, login, tree_digest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QUESTION = "Why did Russia withdraw from Karabakh?"  # answered with a citation (the test needs one)


class GatedEmbedder:
    """The real model, except that embedding the uploaded article's passages (they mention Lake
    Sevan; questions do not) waits until the test opens the gate: an indexing job still running."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.name, self.backend = inner, inner.name, inner.backend
        self.indexing, self.gate = threading.Event(), threading.Event()

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def encode(self, texts, *, batch_size=64, show_progress=False):  # type: ignore[no-untyped-def]
        if any("Sevan" in t for t in texts):
            self.indexing.set()
            assert self.gate.wait(120), "the test never opened the gate"
        return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)


@pytest.fixture
def gated(tmp_path, sample_index, embedder) -> Engine:
    index = tmp_path / "qa-index"
    shutil.copytree(sample_index, index)
    return Engine(index, embedder=GatedEmbedder(embedder), max_k=20).load()


def upload(client, path) -> str:  # type: ignore[no-untyped-def]
    with path.open("rb") as fh:
        r = client.post("/gradio_api/upload", files={"files": (path.name, fh, "text/plain")})
    assert r.status_code == 200, r.text
    return r.json()[0]


def test_questions_are_answered_while_an_upload_is_indexed(gated, tmp_path):
    emb = gated.embedder
    article = tmp_path / "sevan_level.txt"
    article.write_text("Lake Sevan water level reaches a ten-year high\n\nThe water level of Lake Sevan rose by 40 "
                       "centimetres this spring, the Armenian environment ministry said on Monday.\n", encoding="utf-8")
    with app_client(gated, allow_writes=True) as c:
        c.get("/")  # this browser's session
        uploaded = upload(c, article)
        job: dict = {}
        worker = threading.Thread(target=lambda: job.update(gradio_call(c, "on_add", [[file_data(uploaded)]], "uploader")))
        worker.start()
        try:
            assert emb.indexing.wait(60), "the indexing job never started embedding"
            t0 = time.monotonic()
            msg = gradio_call(c, "on_ask", [QUESTION, "hybrid", 5, None, None, [], "relevance"], "reader")
            waited = time.monotonic() - t0
            still_running = worker.is_alive()
        finally:
            emb.gate.set()
            worker.join(120)
        assert msg["success"] is True, msg
        assert "qa-cite" in msg["output"]["data"][0]  # a cited answer, not an error
        assert still_running, "the question was answered only after the job ended"
        assert waited < 60
    assert job["success"] is True and "Added" in job["output"]["data"][0], job


def test_an_upload_over_the_size_budget_changes_nothing(gated, tmp_path):
    gated.embedder.gate.set()
    paragraph = "The tram line to the airport will open in May, the mayor of Yerevan said.\n\n"
    files = []
    for name in ("part_one.txt", "part_two.txt"):  # 0.6 MB each: each under the 1 MB per-file limit
        f = tmp_path / name
        f.write_text("A long transport report\n\n" + paragraph * (600_000 // len(paragraph)), encoding="utf-8")
        files.append(f)
    before = tree_digest(gated.index_dir)
    with app_client(gated, allow_writes=True, max_upload_mb=1) as c:
        c.get("/")
        uploaded = [upload(c, f) for f in files]
        msg = gradio_call(c, "on_add", [[file_data(u) for u in uploaded]])
    out = msg["output"]["data"][0]
    assert msg["success"] is True and "Not added" in out and "1 MB" in out, out
    assert tree_digest(gated.index_dir) == before


@pytest.mark.parametrize(("key", "shown"), [(KEY, False), (WKEY, True)])
def test_only_writers_get_the_upload_panel(gated, key, shown):
    """Writes are on (a write key is set): a reader's page keeps the panel hidden, a writer's shows it."""
    with app_client(gated, api_key=KEY, write_key=WKEY) as c:
        login(c, key)
        config = c.get("/config").json()
        panel = next(comp for comp in config["components"] if comp.get("props", {}).get("elem_id") == "qa-add-panel")
        assert panel["props"].get("visible") is False  # built hidden for everybody
        msg = gradio_call(c, "show_uploads", [])
    assert msg["success"] is True, msg
    assert msg["output"]["data"][0]["visible"] is shown


def _article(tmp_path, name: str, body: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(f"A report from Gyumri\n\n{body}\n", encoding="utf-8")
    return path


def test_uploads_are_deleted_once_indexed_or_refused_and_nothing_else(gated, tmp_path):
    """Uploaded files leave Gradio's upload folder when their job ends, added or not; a file in that
    folder the job did not upload itself (another session's, or a client-named path) stays."""
    from ui.guard import upload_folder

    gated.embedder.gate.set()
    root = upload_folder()
    neighbour = root / "not-this-upload" / "keep.txt"  # in the upload folder, not received for this job
    neighbour.parent.mkdir(parents=True, exist_ok=True)
    neighbour.write_text("someone else's file", encoding="utf-8")
    added = _article(tmp_path, "gyumri_bakery.txt", f"The Gyumri bakery {tmp_path.name} reopened on Friday after a "
                     "fire in March, its owner told local radio, with new ovens bought by the city.")
    try:
        with app_client(gated, allow_writes=True, max_upload_mb=1) as c, \
                app_client(gated, allow_writes=True, max_upload_mb=1) as other:
            c.get("/")
            other.get("/")
            theirs = upload(other, _article(tmp_path, "gyumri_theirs.txt", f"Another upload {tmp_path.name}, of "
                                            "another session, waits for its owner to press the button."))
            mine = upload(c, added)
            assert Path(mine).is_file() and Path(theirs).is_file()
            msg = gradio_call(c, "on_add", [[file_data(mine), file_data(theirs)]])  # theirs: refused
            assert msg["success"] is False and Path(theirs).is_file() and Path(mine).is_file()  # refused: nothing run
            msg = gradio_call(c, "on_add", [[file_data(mine)]])
            assert msg["success"] is True and "Added" in msg["output"]["data"][0], msg
            assert not Path(mine).exists() and not Path(mine).parent.exists()  # the file and its folder
            line = f"The tram line {tmp_path.name} will open in May, the mayor said.\n\n"
            too_big = [upload(c, _article(tmp_path, f"gyumri_part{i}.txt", line * (600_000 // len(line))))
                       for i in (1, 2)]  # each under the 1 MB per-file limit, together over the 1 MB of one job
            msg = gradio_call(c, "on_add", [[file_data(u) for u in too_big]])
            assert msg["success"] is True and "Not added" in msg["output"]["data"][0], msg
            assert not any(Path(u).exists() for u in too_big)  # not added: deleted all the same
            assert Path(theirs).is_file() and neighbour.is_file()  # not this session's uploads: kept
    finally:
        neighbour.unlink(missing_ok=True)
        neighbour.parent.rmdir()


def test_index_panel_shows_the_time_of_the_last_write(tmp_path, sample_index, embedder):
    """After an add or a delete the Index panel's "Updated" is the manifest's ``updated``, not the
    ``created`` time of the index's first build."""
    import json

    from index.manifest import MANIFEST
    from ui.web import index_panel

    index = tmp_path / "qa-index"
    shutil.copytree(sample_index, index)
    manifest = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
    manifest["created"] = "2001-02-03T04:05:06+00:00"  # built long ago (``created`` is outside the checksum)
    (index / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    engine = Engine(index, embedder=embedder, max_k=20).load()
    engine.delete([engine.articles()[0].doc_id])
    updated = json.loads((index / MANIFEST).read_text(encoding="utf-8"))["updated"]
    panel = index_panel(engine)
    assert updated.replace("T", " ")[:16] in panel and "2001-02-03" not in panel
    assert "<dt>Articles</dt><dd>4</dd>" in panel
