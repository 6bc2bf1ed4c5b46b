"""The one engine: every surface ranks the same way, filters cut before top-k, settings come from
the manifest, and a served index swaps to new generations without failing a request."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import build_index
from index.defaults import Mode
from index.errors import IndexFormatError, QAError
from index.manifest import read_manifest
from qa import Engine, Fusion, SearchFilter, evaluate
from qa.cli import main
from ui.api import create_api
from ui.config import ServeConfig

from tests.conftest import hand_edit_settings

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "sample_questions.jsonl"


def _questions() -> dict[str, str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return {r["id"]: r["question"] for r in rows if r.get("evidence")}


@pytest.mark.parametrize("k", [10, 100])
@pytest.mark.parametrize("depth", [100, 4])  # 4: k is deeper than the fusion depth, so the tail matters
def test_eval_search_and_api_rank_identically(sample_index: Path, embedder, k: int, depth: int) -> None:  # type: ignore[no-untyped-def]
    fusion = Fusion(depth=depth)
    engine = Engine.open(sample_index, embedder=embedder, fusion=fusion)
    result = evaluate(QUESTIONS, index=sample_index, embedder=embedder, fusion=fusion, modes="bm25,dense,hybrid")
    api = TestClient(create_api(engine, ServeConfig(index_dir=sample_index, max_k=100)), raise_server_exceptions=False)
    questions = _questions()
    assert set(result.runs["hybrid"]) == set(questions)
    for qid, question in questions.items():
        for mode in ("hybrid", "dense", "bm25"):
            from_eval = list(result.runs[mode][qid])[:k]
            from_search = [h.passage.passage_id for h in engine.search(question, k=k, mode=mode)]
            assert from_eval == from_search, (qid, mode)
        r = api.post("/api/search", json={"query": question, "k": k, "mode": "hybrid"})
        assert r.status_code == 200, r.text
        assert [h["passage_id"] for h in r.json()["results"]] == list(result.runs["hybrid"][qid])[:k]


def test_search_is_the_batch_of_one(engine: Engine) -> None:
    qs = list(_questions().values())[:6]
    batch = engine.search_many(qs, k=7)
    assert [[h.passage.passage_id for h in hits] for hits in batch] == \
        [[h.passage.passage_id for h in engine.search(q, k=7)] for q in qs]
    assert all(h.components for hits in batch for h in hits)


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    """Six short articles from three publishers over three years."""
    rows = []
    for i, (source, date) in enumerate([("Alwaght", "2022-05-01"), ("Alwaght", "2023-09-11"), ("CNN", "2023-10-13"),
                                        ("CNN", "2024-04-22"), ("Reuters", "2024-06-01"), ("Reuters", "")]):
        rows.append({"id": f"a{i}", "title": f"Karabakh report {i}", "source": source, "date": date,
                     "text": f"Russian peacekeepers in Karabakh, report number {i}. Armenia and Azerbaijan talks continued "
                             f"with the border question unresolved in month {i}."})
    src = tmp_path_factory.mktemp("dated") / "articles.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    directory = src.parent / "idx"
    build_index([src], directory, embedder=embedder)
    return directory


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_filters_apply_before_the_cut(dated_index: Path, embedder, mode: str) -> None:  # type: ignore[no-untyped-def]
    engine = Engine.open(dated_index, embedder=embedder)
    q = "Russian peacekeepers in Karabakh"
    hits = engine.search(q, k=3, mode=mode, filters=SearchFilter.parse(since="2024-01-01"))
    assert sorted(h.article.doc_id for h in hits) == ["a3", "a4"]  # every match, no fewer: undated a5 excluded
    hits = engine.search(q, k=10, mode=mode, filters=SearchFilter.parse(sources=["cnn"]))
    assert sorted(h.article.doc_id for h in hits) == ["a2", "a3"]
    hits = engine.search(q, k=10, mode=mode, filters=SearchFilter.parse(since="2023-01-01", until="2023-12-31"))
    assert sorted(h.article.doc_id for h in hits) == ["a1", "a2"]
    assert engine.search(q, k=10, mode=mode, filters=SearchFilter.parse(sources=["Nobody"])) == []
    newest = engine.search(q, k=6, mode=mode, filters=SearchFilter.parse(sort="newest"))
    assert [h.article.doc_id for h in newest] == ["a4", "a3", "a2", "a1", "a0", "a5"]
    assert [h.rank for h in newest] == [1, 2, 3, 4, 5, 6]


def test_filtered_ask_cites_only_matching_articles(dated_index: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    engine = Engine.open(dated_index, embedder=embedder)
    ans = engine.ask("What happened to Russian peacekeepers in Karabakh?", filters=SearchFilter.parse(sources=["Reuters"]))
    assert ans.results and {h.article.source for h in ans.results} == {"Reuters"}
    assert all(c.source == "Reuters" for c in ans.citations)


def test_sweep_apply_writes_fusion_that_every_surface_reads(index_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert Engine.open(index_copy).fusion == Fusion()
    rc = main(["eval", str(QUESTIONS), "--index", str(index_copy), "--sweep", "--apply", "--json", "--quiet"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    best = out["sweep"]["best"]
    applied = read_manifest(index_copy)["settings"]["fusion"]
    assert (applied["method"], applied["rrf_k"], applied["dense_weight"]) == (best["method"], best["rrf_k"], best["dense_weight"])
    assert Engine.open(index_copy).fusion == Fusion.from_dict(applied)
    assert main(["eval", str(QUESTIONS), "--index", str(index_copy), "--apply", "--quiet"]) == 2
    assert "add --sweep" in capsys.readouterr().err


def test_manifest_fusion_drives_search(index_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from qa.engine import update_query_settings as update_settings

    q = "Why did Russia withdraw its peacekeepers?"
    update_settings(index_copy, fusion={"method": "weighted", "dense_weight": 1.0})
    engine = Engine.open(index_copy, embedder=embedder)
    assert engine.fusion.method.value == "weighted"
    assert [h.passage.passage_id for h in engine.search(q, k=10)] == \
        [h.passage.passage_id for h in engine.search(q, k=10, mode="dense")]
    before = (index_copy / "manifest.json").read_bytes()
    with pytest.raises(QAError, match="not written: invalid fusion settings .*unknown fusion method 'bogus'"):
        update_settings(index_copy, fusion={"method": "bogus"})  # refused before it is written: the index keeps serving
    assert (index_copy / "manifest.json").read_bytes() == before
    assert Engine.open(index_copy, embedder=embedder).fusion.method.value == "weighted"
    hand_edit_settings(index_copy, fusion={"method": "bogus"})  # a hand edit: every surface refuses it clearly
    with pytest.raises(IndexFormatError, match="invalid fusion settings"):
        Engine.open(index_copy, embedder=embedder)


WRITER = r"""
import sys
from index import SentenceTransformerEmbedder
from index.builder import add_articles
from index.records import Article
emb = SentenceTransformerEmbedder()
for i in range(int(sys.argv[2])):
    add_articles([Article(doc_id=f"live-{i}", title=f"Live update {i}",
                          text=f"Bulletin {i}: the Lachin corridor reopened for convoy number {i} on Tuesday.")],
                 sys.argv[1], embedder=emb)
    print(i, flush=True)
"""


def test_live_reload_under_load(index_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """8 clients query while another process writes 20 generations: no request fails, and the
    server ends up serving the last generation."""
    engine = Engine.open(index_copy, embedder=embedder)
    engine.watch(interval=0.05)
    errors: list[BaseException] = []
    served: list[int] = []
    stop = threading.Event()

    def client(n: int) -> None:
        qs = ["Why did Russia withdraw peacekeepers?", "Lachin corridor convoy", "Armenia Rome Statute"]
        i = 0
        while not stop.is_set():
            try:
                engine.search(qs[(n + i) % 3], k=5, mode=Mode.HYBRID)
                if i % 4 == 0:
                    engine.ask(qs[(n + i) % 3], k=3)
                served.append(1)
            except BaseException as exc:  # noqa: BLE001 - any failure is the bug
                errors.append(exc)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        proc = subprocess.run([sys.executable, "-c", WRITER, str(index_copy), "20"], capture_output=True, text=True,
                              timeout=600, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-2000:]
        deadline = time.monotonic() + 30
        while engine.stats().articles != 25 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        engine.close()
    assert not errors, repr(errors[:3])
    assert len(served) > 20
    assert engine.stats().articles == 25
    assert engine.search("Lachin corridor convoy number 19", k=1, mode="bm25")[0].article.doc_id == "live-19"


def test_search_never_imports_torch(sample_index: Path) -> None:
    """With an ONNX backend, retrieval (engine + API app) never loads torch; answering does, through
    spaCy's thinc (docs/performance.md says both)."""
    code = ("import sys\nfrom qa.engine import Engine\nfrom ui.app import create_app\nfrom ui.config import ServeConfig\n"
            f"e = Engine.open({str(sample_index)!r}); e.search('Karabakh', k=3); e.search_many(['a b', 'Armenia'], k=2)\n"
            f"create_app(e, ServeConfig(index_dir={str(sample_index)!r}))\n"
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))\n"
            "e.ask('Why did Russia withdraw?')\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-2:] == ["[]", "True"]


def test_cli_articles_delete_and_compact(index_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["articles", "--index", str(index_copy), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["articles"]
    assert len(listed) == 5 and all(a["passages"] > 0 for a in listed)
    alwaght = next(a for a in listed if a["source"] == "Alwaght")
    assert alwaght["title"] == "Russia-Armenia Relations Hit by Differences over Karabakh Dispute"
    assert alwaght["date"].startswith("2023-09-11")
    assert main(["delete", "no-such-id", "--index", str(index_copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-id" in err and "nothing was deleted" in err
    assert main(["delete", alwaght["doc_id"], "--index", str(index_copy)]) == 0
    capsys.readouterr()
    assert main(["articles", "--index", str(index_copy), "--json"]) == 0
    assert alwaght["doc_id"] not in {a["doc_id"] for a in json.loads(capsys.readouterr().out)["articles"]}
    assert main(["compact", "--index", str(index_copy)]) == 0
    capsys.readouterr()
    assert main(["search", "Alwaght Karabakh dispute", "--index", str(index_copy), "--json", "-k", "44"]) == 0
    assert alwaght["doc_id"] not in {h["doc_id"] for h in json.loads(capsys.readouterr().out)["results"]}


def test_delete_takes_one_id_as_a_string(index_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    engine = Engine.open(index_copy, embedder=embedder)
    before = {a.doc_id for a in engine.articles()}
    report = engine.delete("000_d97c920262e2a662")  # one id, not its characters
    assert report.written
    assert {a.doc_id for a in engine.articles()} == before - {"000_d97c920262e2a662"}


def test_add_files_takes_one_path(index_copy: Path, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "a1", "title": "Harbour", "text": "The harbour reopened on Monday after repairs."}) + "\n")
    engine = Engine.open(index_copy, embedder=embedder)
    assert engine.add_files(str(f)).written  # one path, not its characters (which walked from "/")
    assert "a1" in {a.doc_id for a in engine.articles()}


def test_build_index_takes_one_path(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "a1", "title": "Harbour", "text": "The harbour reopened on Monday after repairs."}) + "\n")
    assert build_index(str(f), tmp_path / "idx", embedder=embedder).articles_total == 1
    assert build_index(f, tmp_path / "idx2", embedder=embedder).articles_total == 1
