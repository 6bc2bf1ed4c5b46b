"""The engine as served: the one object behind the API, the UI and /embed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from index.errors import IndexMissingError, IngestError, QueryError
from qa.answer import Answer
from qa.engine import Engine


pytestmark = pytest.mark.usefixtures("one_torch_thread")


NEW_ARTICLE = """Lake Sevan water level reaches a ten-year high

The water level of Lake Sevan rose by 40 centimetres this spring, the highest reading in ten years,
the Armenian environment ministry said on Monday. Officials credited heavy snowfall in the Gegharkunik
mountains and new limits on irrigation withdrawals. Fishermen in Martuni reported larger whitefish catches.
"""


def test_search_and_ask(service):
    hits = service.search("Why did Russia withdraw its peacekeepers from Karabakh?", k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    answer = service.ask("Where will Russian troops remain in Armenia after the withdrawal?")
    assert isinstance(answer, Answer) and answer.confident
    assert "Turkey and Iran" in answer.answer and "[1]" in answer.answer
    assert answer.citations and len(answer.results) == service.answer_k
    stats = service.stats()
    assert stats.articles == 5 and stats.passages > 0 and stats.model.endswith("all-MiniLM-L6-v2")


@pytest.mark.parametrize("call, kwargs, message", [
    ("search", {"query": "x", "k": 21}, "between 1 and 20"),
    ("search", {"query": "  ", "k": 3}, "query is empty"),
    ("search", {"query": "x", "k": 3, "mode": "magic"}, "unknown mode"),
    ("ask", {"question": "x", "k": 0}, "between 1 and 20"),
    ("ask", {"question": "x" * 2001}, "limit is 2000"),
])
def test_limits_are_user_errors(service, call, kwargs, message):
    with pytest.raises(QueryError, match=message):
        getattr(service, call)(**kwargs)


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissingError):
        Engine(tmp_path / "nothing-here").load()


def test_add_files_incrementally_with_progress_and_no_second_model(index_copy, embedder, tmp_path):
    svc = Engine(index_copy, embedder=embedder).load()
    before = svc.stats()
    f = tmp_path / "sevan_level.txt"
    f.write_text(NEW_ARTICLE, encoding="utf-8")
    seen: list[tuple[float, str]] = []
    report = svc.add_files([f], lambda frac, desc: seen.append((frac, desc)))
    assert report.written and report.articles_added == 1 and report.articles_unchanged == 0
    assert 0 < report.passages_embedded < 5  # only the new article's passages were embedded
    fracs = [s[0] for s in seen]
    assert fracs == sorted(fracs) and fracs[0] == 0.0 and fracs[-1] == 1.0
    assert any("embedding" in d for _, d in seen)
    after = svc.stats()
    assert after.articles == before.articles + 1 and after.passages == before.passages + report.passages_embedded
    hit = svc.search("Lake Sevan water level whitefish", k=1)[0]
    assert hit.passage.doc_id == "sevan_level"
    assert svc.embedder is embedder  # the swapped-in engine reuses the loaded model
    again = svc.add_files([f])
    assert not again.written and again.articles_unchanged == 1


def test_bad_upload_leaves_the_index_served(index_copy, embedder, tmp_path):
    svc = Engine(index_copy, embedder=embedder).load()
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{not json\n', encoding="utf-8")
    with pytest.raises(IngestError, match="malformed JSON"):
        svc.add_files([bad])
    with pytest.raises(QueryError):
        svc.add_files([])
    assert svc.stats().articles == 5 and svc.search("Karabakh", k=1)


def test_queries_keep_working_while_articles_are_added(index_copy, embedder, tmp_path):
    svc = Engine(index_copy, embedder=embedder).load()
    f = tmp_path / "sevan_level.txt"
    f.write_text(NEW_ARTICLE, encoding="utf-8")
    errors: list[BaseException] = []
    results: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        for _ in range(200):  # bounded
            if stop.is_set():
                return
            try:
                results.append(len(svc.search("Armenia Russia troops", k=3, mode="bm25")))
            except BaseException as exc:  # noqa: BLE001 - any failure fails the test
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        svc.add_files([f])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors and results and set(results) == {3}
    assert svc.stats().articles == 6
