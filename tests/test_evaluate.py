"""``qa.evaluate`` / ``qa eval``: ranx plumbing on hand-made runs, question sets, public collections."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa import QAError, evaluate
from qa.cli import main
from qa.evaluate import EvalResult, SystemResult, to_ids
from qa.metrics import compare, mean_scores, per_query

from conftest import ROOT, shared_dataset
from test_datasets import write_beir

QUESTIONS = ROOT / "eval" / "sample_questions.jsonl"

# Hand-made: q1 has a (grade 1) at rank 1 and b (grade 2) at rank 3; q2's only relevant doc is missed.
QRELS = {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}}
RUN = {"q1": {"a": 3.0, "x": 2.0, "b": 1.0}, "q2": {"x": 1.0}}
PERFECT = {"q1": {"b": 2.0, "a": 1.0}, "q2": {"c": 1.0}}


def test_metrics_on_hand_made_run() -> None:
    m = mean_scores(QRELS, RUN, ["ndcg@10", "mrr@10", "hit@1", "recall@2", "map@100", "precision@3"])
    # q1 nDCG (linear gains, trec_eval style): DCG = 1/log2(2) + 2/log2(4) = 2; IDCG = 2 + 1/log2(3)
    assert m["ndcg@10"] == pytest.approx((2 / (2 + 1 / math.log2(3))) / 2)
    assert m["mrr@10"] == pytest.approx(0.5)
    assert m["hit@1"] == pytest.approx(0.5)
    assert m["recall@2"] == pytest.approx(0.25)  # q1 finds 1 of 2 in its top 2
    assert m["map@100"] == pytest.approx((1 + 2 / 3) / 2 / 2)
    assert m["precision@3"] == pytest.approx((2 / 3) / 2)
    assert mean_scores(QRELS, PERFECT, ["ndcg@10", "mrr@10"]) == {"ndcg@10": pytest.approx(1.0), "mrr@10": pytest.approx(1.0)}


def test_query_missing_from_run_scores_zero() -> None:
    pq = per_query(QRELS, {"q1": {"a": 1.0}}, ["mrr@10", "recall@100"])
    assert pq == {"mrr@10": {"q1": 1.0, "q2": 0.0}, "recall@100": {"q1": 0.5, "q2": 0.0}}


def test_compare_counts_wins_and_losses() -> None:
    means, comps = compare(QRELS, {"base": RUN, "better": PERFECT}, ["mrr@10"], "base")
    assert means["base"]["mrr@10"] == pytest.approx(0.5)
    assert means["better"]["mrr@10"] == pytest.approx(1.0)
    c = comps["better"]["mrr@10"]
    assert (c.improved, c.hurt) == (1, 0)  # q1 ties at 1.0, q2 goes 0 -> 1
    assert 0 < c.p_value <= 1
    assert "base" not in comps


def test_systems_that_score_alike_on_every_query_are_not_significant(tmp_path: Path) -> None:
    """Two runs with the same per-query scores: the t-test's 0/0 is read as p = 1 (no evidence of a
    difference), so the table does not print "<1e-4" beside "+0/-0" and the JSON stays JSON."""
    same = {"q1": {"a": 2.0, "x": 1.0}, "q2": {"x": 1.0}}
    _, comps = compare(QRELS, {"base": RUN, "twin": RUN, "alike": same}, ["mrr@10"], "base")
    for name in ("twin", "alike"):
        c = comps[name]["mrr@10"]
        assert (c.p_value, c.improved, c.hurt) == (1.0, 0, 0)
    res = EvalResult(dataset="toy", queries=2, level="document", metrics=["mrr@10"], baseline="base",
                     systems=[SystemResult("base", {"mrr@10": 0.5}),
                              SystemResult("twin", {"mrr@10": 0.5}, p_value=comps["twin"]["mrr@10"].p_value, improved=0, hurt=0)])
    assert "<1e-4" not in res.table()
    json.dumps(res.to_dict(), allow_nan=False)


def test_passages_to_documents_by_best_passage() -> None:
    from index.records import Passage

    ps = [Passage(f"p{i}", d, "t", 0, 1) for i, d in enumerate(["d1", "d2", "d1", "d3"])]
    assert to_ids([(2, 9.0), (1, 8.0), (0, 7.0), (3, 6.0)], ps, True, 10) == {"d1": 9.0, "d2": 8.0, "d3": 6.0}
    assert to_ids([(2, 9.0), (1, 8.0), (0, 7.0)], ps, True, 1) == {"d1": 9.0}
    assert list(to_ids([(2, 9.0), (0, 7.0)], ps, False, 10)) == ["p2", "p0"]


def test_result_table_json_and_save(tmp_path: Path) -> None:
    r = EvalResult(dataset="toy", queries=2, metrics=["ndcg@10", "mrr@10"], baseline="bm25",
                   systems=[SystemResult("bm25", {"ndcg@10": 0.5, "mrr@10": 0.4}),
                            SystemResult("hybrid", {"ndcg@10": 0.6, "mrr@10": 0.5}, p_value=0.03, improved=1, hurt=0)],
                   per_query={"bm25": {"ndcg@10": {"q1": 0.5, "q2": 0.5}, "mrr@10": {"q1": 0.4, "q2": 0.4}}},
                   runs={"bm25": {"q1": {"a": 2.0, "b": 1.0}}})
    assert r["hybrid"]["ndcg@10"] == 0.6
    d = json.loads(json.dumps(r.to_dict()))
    assert d == {"dataset": "toy", "queries": 2, "systems": [
        {"name": "bm25", "metrics": {"ndcg@10": 0.5, "mrr@10": 0.4}, "p_value": None, "improved": None, "hurt": None},
        {"name": "hybrid", "metrics": {"ndcg@10": 0.6, "mrr@10": 0.5}, "p_value": 0.03, "improved": 1, "hurt": 0}]}
    table = r.table()
    assert "hybrid" in table and "0.6000" in table and "+1/-0" in table
    r.save(tmp_path)
    assert (tmp_path / "run.bm25.trec").read_text() == "q1 Q0 a 1 2.000000 bm25\nq1 Q0 b 2 1.000000 bm25\n"
    assert (tmp_path / "results.csv").read_text().splitlines()[0] == "system,ndcg@10,mrr@10,p_value,improved,hurt"
    assert json.loads((tmp_path / "results.json").read_text())["systems"][1]["name"] == "hybrid"
    assert (tmp_path / "per_query.csv").read_text().splitlines()[1] == "bm25,q1,0.500000,0.400000"
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ end to end on tiny data
def tiny_beir(folder: Path) -> Path:
    corpus = [
        {"_id": "cats", "title": "Cats", "text": "Cats purr when they are content and relaxed."},
        {"_id": "dogs", "title": "Dogs", "text": "Dogs bark loudly at strangers near the house."},
        {"_id": "rain", "title": "Weather", "text": "Heavy rain flooded the valley roads overnight."},
        {"_id": "stocks", "title": "Markets", "text": "Share prices fell sharply after the bank report."},
        {"_id": "empty", "title": "", "text": ""},
    ]
    queries = [{"_id": "1", "text": "why do cats purr"}, {"_id": "2", "text": "barking dogs"},
               {"_id": "3", "text": "flood after heavy rain"}, {"_id": "4", "text": "stock market fall"}]
    qrels = "query-id\tcorpus-id\tscore\n1\tcats\t1\n2\tdogs\t1\n3\train\t2\n4\tstocks\t1\n4\tempty\t1\n"
    return write_beir(folder, corpus, queries, qrels)


def test_evaluate_beir_end_to_end(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tiny_beir(tmp_path / "tiny")
    r = evaluate(folder, embedder=embedder, cache_dir=tmp_path / "cache", save=tmp_path / "out", sweep=True)
    assert [s.name for s in r.systems] == ["bm25", "dense", "hybrid"]
    assert r.queries == 4
    for s in r.systems:
        assert s.metrics["mrr@10"] == pytest.approx(1.0)  # each query's document is first
        assert set(s.metrics) == {"ndcg@10", "recall@100", "mrr@10", "map@100"}
    assert r.system("bm25").p_value is None
    assert r.system("hybrid").improved == 0 and r.system("hybrid").hurt == 0
    assert any("1 empty documents" in n for n in r.notes)
    assert r.sweep is not None and r.sweep.best["ndcg@10"] >= r.sweep.default["ndcg@10"]
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {
        "run.bm25.trec", "run.dense.trec", "run.hybrid.trec", "per_query.csv", "results.csv", "results.json", "metrics.png"}
    # the index is cached: a second run reuses it
    assert (tmp_path / "cache" / "manifest.json").is_file()
    again = evaluate(folder, modes="bm25", embedder=embedder, cache_dir=tmp_path / "cache")
    assert again["bm25"] == r["bm25"]


def test_cli_eval_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tiny_beir(tmp_path / "tiny")
    rc = main(["eval", str(folder), "--modes", "bm25", "--metrics", "ndcg@10,mrr@10", "--json", "--quiet"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "tiny" and out["queries"] == 4
    # query 4 also judges the empty (unindexed) document: nDCG 1 / (1 + 1/log2 3) there
    ndcg = round((3 + 1 / (1 + 1 / math.log2(3))) / 4, 4)
    assert out["systems"] == [{"name": "bm25", "metrics": {"ndcg@10": ndcg, "mrr@10": 1.0}, "p_value": None,
                               "improved": None, "hurt": None}]


def test_cli_eval_bad_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tiny_beir(tmp_path / "tiny")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\tcats\t1\n2\tnowhere\t1\n")
    assert main(["eval", str(folder), "--modes", "bm25", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "test.tsv:3: corpus id 'nowhere' is not in" in err
    assert main(["eval", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "no such dataset folder or file" in capsys.readouterr().err
    assert main(["eval", str(folder), "--metrics", "ndcg@10,bogus@1", "--modes", "bm25", "--quiet"]) == 2


# ------------------------------------------------------------------ question set over the sample corpus
def test_question_set_on_sample_corpus(sample_index: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    r = evaluate(QUESTIONS, index=sample_index, embedder=embedder)
    assert r.level == "passage"
    assert r.metrics == ["hit@5", "mrr@10"]
    assert r.queries == 25  # 30 questions, 5 with empty evidence are not scored
    assert any("5 of 30 questions expect no answer" in n for n in r.notes)
    print("\n" + r.table())
    for s in r.systems:
        assert 0.0 <= s.metrics["mrr@10"] <= s.metrics["hit@5"] <= 1.0
    assert r["bm25"]["hit@5"] >= 0.8
    assert r["hybrid"]["hit@5"] >= 0.8
    assert r["hybrid"]["mrr@10"] >= 0.6


# ------------------------------------------------------------------ public collections, BM25 only (fast)
def test_scifact_bm25_matches_anserini() -> None:
    r = evaluate(shared_dataset("scifact"), modes="bm25")
    assert r.queries == 300
    print(f"\nscifact BM25: {r['bm25']}")
    assert abs(r["bm25"]["ndcg@10"] - 0.679) <= 0.02  # Anserini BM25 flat: 0.6789
    assert abs(r["bm25"]["recall@100"] - 0.925) <= 0.03


def test_cranfield_bm25_handles_empty_docs() -> None:
    r = evaluate(shared_dataset("cranfield"), modes="bm25")
    assert r.queries == 225
    assert any("2 empty documents" in n for n in r.notes)
    print(f"\ncranfield BM25: {r['bm25']}")
    assert 0.30 <= r["bm25"]["ndcg@10"] <= 0.45  # reference BM25 on this copy: 0.320-0.347


def test_vaswani_bm25_without_titles() -> None:
    r = evaluate(shared_dataset("vaswani"), modes="bm25", metrics="map@1000,ndcg@10")
    assert r.queries == 93
    print(f"\nvaswani BM25: {r['bm25']}")
    assert abs(r["bm25"]["map@1000"] - 0.2992) <= 0.03  # Terrier BM25 b=0.4


# ------------------------------------------------------------------ full run (minutes: embeds 5,183 abstracts)
@pytest.mark.slow
def test_scifact_all_modes(embedder) -> None:  # type: ignore[no-untyped-def]
    r = evaluate(shared_dataset("scifact"), embedder=embedder)
    print("\n" + r.table())
    assert abs(r["bm25"]["ndcg@10"] - 0.679) <= 0.02
    assert r["dense"]["ndcg@10"] >= 0.60  # MTEB all-MiniLM-L6-v2: 0.645
    assert r["hybrid"]["ndcg@10"] > max(r["bm25"]["ndcg@10"], r["dense"]["ndcg@10"])


def test_hybrid_run_head_is_the_product_ranking() -> None:
    from qa import Fusion

    def hybrid_ranking(f, dense, bm25, k):  # the one hybrid ranking shared by search and eval
        return f.rank(dense, bm25, k)

    dense = [(0, 0.9), (1, 0.8), (2, 0.7)]
    bm25 = [(3, 5.0), (0, 4.0), (4, 1.0)]
    f = Fusion(depth=1)  # the product would fuse only each retriever's top candidate
    ranking = hybrid_ranking(f, dense, bm25, 10)
    assert [row for row, _ in ranking] == [0, 3, 1, 2, 4]
    assert ranking[:2] == f.fuse({"dense": dense[:1], "bm25": bm25[:1]}, 10)
    scores = [s for _, s in ranking]
    assert scores == sorted(scores, reverse=True)
    assert max(scores[2:]) < min(scores[:2])  # deeper candidates rank below the product's head
    assert hybrid_ranking(Fusion(depth=100), dense, bm25, 10) == Fusion(depth=100).fuse({"dense": dense, "bm25": bm25}, 10)


def test_default_baseline_falls_back_when_bm25_is_not_run(sample_index: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    r = evaluate(QUESTIONS, index=sample_index, embedder=embedder, modes="dense,hybrid")
    assert r.baseline == "dense" and r.system("dense").p_value is None and r.system("hybrid").p_value is not None
    assert evaluate(QUESTIONS, index=sample_index, embedder=embedder, modes="dense").baseline is None
    with pytest.raises(QAError, match="baseline 'hybrid' is not among the modes"):
        evaluate(QUESTIONS, index=sample_index, embedder=embedder, modes="bm25,dense", baseline="hybrid")
