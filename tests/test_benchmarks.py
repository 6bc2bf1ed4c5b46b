"""Every benchmark script runs end to end at a tiny size, so a refactor that breaks one fails CI.

Each script is run as a user runs it (a subprocess, ``--tiny --json``) over the real library and
the real data (the sample corpus, the shared collections); the test checks the shape and the
sanity of what it reports, not the speed (speed claims are the scripts' own, as ratios).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT, shared_dataset

BENCH = ROOT / "benchmarks"
MODES = {"bm25", "dense", "hybrid"}


def run_script(name: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(BENCH / name), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_run_tiny() -> None:
    """One IVF build served twice through the checksummed manifest (``--nprobe``): probing every
    list is exhaustive, one list is not; the exact reference, baselines and indexing ratio too."""
    shared_dataset("scifact")
    res = run_script("run.py", "--tiny", "--json", "--dense-index", "ivf", "--nprobe", "1,64")
    assert set(res["sizes"]) == {"1k@nprobe1", "1k@nprobe64"}
    assert {(r["size"], r["mode"]) for r in res["rows"]} == {(1000, m) for m in MODES}
    for r in res["rows"]:
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
    recall = {(r["label"], r["mode"]): r["recall_at_10_vs_exact"] for r in res["rows"]}
    assert recall["1k@nprobe1", "dense"] < recall["1k@nprobe64", "dense"]
    assert recall["1k@nprobe64", "dense"] >= 0.95 and recall["1k@nprobe64", "hybrid"] >= 0.95
    for label, size in res["sizes"].items():
        assert size["dense"]["type"] == "ivf" and size["dense"]["storage"] == "fp16"
        assert size["dense"]["nprobe"] == int(label.split("nprobe")[1]) and size["disk_mb"] > 0 and size["load_s"] > 0
        assert set(size["baselines"]) == MODES | {"rank_bm25"} and size["baselines"]["rank_bm25"]["speedup"] > 0
        assert all(size["baselines"][m]["speedup_p50"] > 0 for m in MODES)
    ix = res["indexing"]
    assert ix["passages_per_s"] > 0 and ix["baseline_passages_per_s"] > 0 and ix["cosine_vs_torch_min"] > 0.95
    v = res["vectors"]
    assert v["pool"] > 0 and 0 < v["sigma"] < 0.05 and 0.9 < v["word_drop_cosine_mean"] < 1.0
    assert res["rss_mb"] > 0
    # the 1-minute load around the timed queries: two readings per size, and the benchmark itself loads
    # the machine, so a reading of 0 means nothing was read
    assert all(len(size["load_avg"]) == 2 and min(size["load_avg"]) > 0 for size in res["sizes"].values())
    table = _bench_module("run.py").markdown(res, "python benchmarks/run.py --tiny")
    assert "load average before → after the timed queries" in table and "1k@nprobe1 " in table


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_ann_tiny() -> None:
    """The script that chose the auto dense index kinds: both kinds measured against exact search."""
    shared_dataset("scifact")
    res = run_script("ann.py", "--tiny", "--json")
    by = {}
    for r in res["rows"]:
        by.setdefault(r["index"], []).append(r)
    assert set(by) == {"ivf:auto:fp16", "hnsw:32:80"} and res["size"] == 3000
    for rows in by.values():
        recalls = [r["recall_at_10"] for r in rows]
        assert recalls == sorted(recalls) and recalls[-1] >= 0.95  # a wider search never finds less
        assert all(r["p50_ms"] > 0 and r["build_s"] > 0 for r in rows)


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_embed_device_tiny() -> None:
    """The GPU indexing benchmark, run on the CPU through the same half-precision pipeline the GPU
    runs (only the tensors' device differs), against sentence-transformers' default encode."""
    res = run_script("embed_device.py", "--tiny", "--precision", "fp16", "--json")
    assert res["device"] == "cpu" and res["passages"] == 8 and res["baseline"]["dtype"] == "torch.float32"
    assert res["candidate"] == {**res["candidate"], "backend": "torch", "precision": "fp16"}
    (row,) = res["rows"]
    assert row["batch"] == 64 and row["passages_per_s"] > 0 and row["speedup"] > 0
    assert row["cosine_min"] > 0.9999  # fp16 on the same weights: the fp32 model's vectors


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_index_and_query_tiny() -> None:
    res = run_script("index_and_query.py", "--tiny", "--json")
    assert res["indexing"]["articles"] == 5 and res["indexing"]["passages"] > 5
    assert set(res["modes"]) == MODES
    assert all(m["queries"] == 5 and m["p50_ms"] > 0 for m in res["modes"].values())


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_api_latency_tiny(sample_index: Path) -> None:
    res = run_script("api_latency.py", "--index", str(sample_index), "--tiny", "--json")
    assert res["passages"] > 0
    assert res["cold"]["ok"] == 4 and res["sequential"]["ok"] == 4 and res["concurrent"]["ok"] == 4
    assert res["sequential"]["failed"] == res["concurrent"]["failed"] == 0 and res["concurrent"]["clients"] == 2


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_peers_tiny() -> None:
    shared_dataset("scifact")
    installed = {"txtai": importlib.util.find_spec("txtai") is not None,
                 "haystack": importlib.util.find_spec("haystack") is not None
                 and importlib.util.find_spec("haystack_integrations.components.embedders.sentence_transformers") is not None}
    if not any(installed.values()):
        pytest.skip("no peer installed (pip install -e '.[bench]')")
    res = run_script("peers.py", "--tiny", "--json")
    names = [r["system"] for r in res["rows"]]
    assert names[0] == "newsqa" and set(names[1:]) == {n for n, ok in installed.items() if ok}
    assert set(res["skipped"]) == {n for n, ok in installed.items() if not ok}
    for r in res["rows"]:
        assert 0 < r["ndcg@10"] <= 1 and 0 < r["recall@100"] <= 1, r
        assert r["build_s"] > 0 and 0 < r["p50_ms"] <= r["p95_ms"]
    assert res["rows"][0]["ratios"]["build_s"] == 1.0


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_ranking_tiny() -> None:
    shared_dataset("cranfield")
    res = run_script("ranking.py", "--tiny", "--json")
    assert res["tuned_on"] == "cranfield"
    names = [c["name"] for c in res["collections"]]
    assert names == ["cranfield", "news questions"] and res["collections"][0]["tuned_here"]
    for coll in res["collections"]:
        systems = {s["name"]: s for s in coll["systems"]}
        assert {"rrf", "weighted", "zscore", "dbsf", "rrf-tuned", "rrf+headline"} <= set(systems)
        assert any(n.endswith(" dense-prf") for n in systems) and any(n.endswith(" doc-bm25") for n in systems)
        assert systems["rrf"]["p_value"] is None and systems["zscore"]["p_value"] is not None
        first = coll["metrics"][0]
        assert first == ("ndcg@10" if coll["name"] == "cranfield" else "hit@1")
        for s in systems.values():
            assert 0 < s["metrics"][first] <= 1
    # the published news rows (benchmarks/README.md, docs/evaluation.md) are those of today's code: the tiny run
    # scores the same 25 news questions with the same two fusions (tolerance: one question at rank 1)
    news = {s["name"]: s["metrics"] for s in res["collections"][1]["systems"]}
    block = (ROOT / "benchmarks" / "README.md").read_text().split("<!-- bench:ranking -->")[1]
    table = block.split("**news questions**")[1].split("\n\n")[1]
    rows = {cells[1].strip(): (float(cells[2]), float(cells[3])) for cells in (line.split("|") for line in table.splitlines()[2:] if line.startswith("|"))}
    evaluation = (ROOT / "docs" / "evaluation.md").read_text()
    for name in ("rrf", "dbsf"):
        assert rows[name][0] == pytest.approx(news[name]["hit@1"], abs=0.041), name
        assert rows[name][1] == pytest.approx(news[name]["mrr@10"], abs=0.03), name
    assert f"| news questions (hit@1) | {news['rrf']['hit@1']:.2f} | {news['dbsf']['hit@1']:.2f} |" in evaluation


def test_zscore_fusion_by_hand() -> None:
    """ranking.py's z-score fusion (measured, not adopted by the product) on a case worked out by hand.
    (DBSF, the product's default fusion, is checked by hand in tests/test_fusion.py.)"""
    ranking = _ranking_module()

    rankings = {"dense": [(1, 0.9), (2, 0.7), (3, 0.5)], "bm25": [(3, 12.0), (4, 6.0)]}
    # dense: mean 0.7, std 0.1633 -> z = +1.2247, 0, -1.2247; bm25: mean 9, std 3 -> z = +1, -1
    z = ranking.zscore_sum(rankings, {"dense": 0.5, "bm25": 0.5})
    assert z[1] == pytest.approx(0.5 * 1.2247 + 0.5 * -1, abs=1e-3)  # missing from bm25: its lowest z
    assert z[3] == pytest.approx(0.5 * -1.2247 + 0.5 * 1, abs=1e-3)
    assert z[4] == pytest.approx(0.5 * -1.2247 + 0.5 * -1, abs=1e-3)  # missing from dense: its lowest z
    top = ranking.Setting("zscore").fuse(rankings, 4)
    assert [r for r, _ in top] == sorted(z, key=lambda r: (-z[r], r))


def _bench_module(script: str):  # type: ignore[no-untyped-def]
    """A benchmark script imported as a module (its pure functions tested without running it)."""
    name = f"{Path(script).stem}_bench"
    spec = importlib.util.spec_from_file_location(name, BENCH / script)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _ranking_module():  # type: ignore[no-untyped-def]
    return _bench_module("ranking.py")


def test_dense_feedback_and_document_bm25_by_hand() -> None:
    """ranking.py's two feedback variants (measured, not adopted) on cases worked out by hand."""
    from index.lexical import BM25Settings, LexicalIndex
    from index.records import Passage

    ranking = _ranking_module()
    rows = [("b1", "B", "banana"), ("a1", "A", "apple"), ("a2", "A", "banana")]
    passages = [Passage(pid, doc, text, 0, len(text)) for pid, doc, text in rows]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    lexical = LexicalIndex.build([p.index_text(True) for p in passages], BM25Settings())
    p = ranking.Prepared("t", {"q": {"A": 1}}, passages, {}, {}, None, {}, True, ["ndcg@10"], lexical=lexical,
                         texts={"q": "apple banana"}, vectors=vectors, query_vectors={"q": np.array([1.0, 0.0], dtype=np.float32)})
    # feedback from row 1 (0, 1) with beta 1: (1, 1)/sqrt 2 -> row 2 (0.99) first, then rows 0 and 1 tied (0.707) by row
    got = p.dense_feedback("q", [(1, 1.0)], 1, 1.0, 3)
    assert [r for r, _ in got] == [2, 0, 1]
    assert got[0][1] == pytest.approx((0.6 + 0.8) / np.sqrt(2), abs=1e-5)
    # passage BM25 alone ties b1 and a2 ("banana"); A's document also holds "apple", so gamma > 0 lifts a2 over b1
    alone = p.bm25_with_document("q", 0.0, 3)
    assert [r for r, _ in alone][1:] == [0, 2] and alone[1][1] == pytest.approx(alone[2][1])
    assert [r for r, _ in p.bm25_with_document("q", 1.0, 3)].index(2) < [r for r, _ in p.bm25_with_document("q", 1.0, 3)].index(0)


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_lifecycle_tiny() -> None:
    """benchmarks/lifecycle.py (the update and BM25 figures of docs/performance.md) at a tiny size:
    the two BM25 paths score alike, and adding, replacing and deleting 10 articles each do just that."""
    shared_dataset("scifact")
    res = run_script("lifecycle.py", "--tiny", "--json")
    bm25 = res["bm25"]
    assert bm25["passages"] == 2000 and bm25["max_abs_score_diff"] < 1e-4
    assert bm25["format2"]["p50_ms"] > 0 and bm25["bm25s"]["p50_ms"] > 0 and bm25["ratio_p50"] > 0
    up = res["update"]
    assert up["passages"] == 2000 and up["full_write_s"] > 0 and up["disk_mb"] > 0
    assert "+10 new, 0 updated" in up["add_10_report"] and "+0 new, 10 updated" in up["replace_10_report"]
    assert "deleted 10 article(s)" in up["delete_10_report"]
    assert min(up["add_10_s"], up["replace_10_s"], up["delete_10_s"]) > 0 and up["speedup_add_vs_full_write"] > 0


@pytest.mark.tier2  # scripts/security_replay.py in a subprocess, against a live server
def test_security_replay_shows_every_attack_refused(sample_index: Path) -> None:
    """scripts/security_replay.py (docs/security.md's before/after table) against this tree: every
    attack it replays is refused (the "after" column), so the table cannot silently go stale."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "security_replay.py"), "--index", str(sample_index)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = {line.split("|")[0].strip(): line.split("|", 1)[1].strip() for line in proc.stdout.splitlines() if "|" in line}
    assert got["1 forged FileData path, no key"].endswith("401") and got["2 upload over an indexed article, no key"].endswith("401")
    assert got["6 lone surrogate /api/search"] == got["6 lone surrogate /api/ask"] == "422"
    assert got["6 non-ASCII X-Embed-Token"] == "401" and "frame-ancestors 'self'" in got["5 framing headers on /"]
    assert got["3 poison doc id: qa index"].startswith("exit 2, 1 stderr line(s)")
    assert got["3 poison doc id: then qa search"].startswith("exit 0, 0 stderr line(s)")
    for attack in ("7 CLI lone surrogate in .jsonl", "7 CLI 100k-deep JSON", "7 CLI non-UTF-8 argument"):
        assert got[attack].startswith("exit 2, 1 stderr line(s): qa: error:"), (attack, got[attack])


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_bm25_topk_tiny() -> None:
    """benchmarks/bm25_topk.py: the compiled BM25 search and the NumPy formula give identical top-k
    on every query (the script exits non-zero otherwise), through the script as a user runs it."""
    res = run_script("bm25_topk.py", "--tiny", "--json")
    assert res["queries"] >= 3
    for row in res["rows"]:
        assert row["identical"] == row["searches"] > 0 and row["compiled"]["p50_ms"] > 0 and row["numpy"]["p50_ms"] > 0


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_timeline_tiny(sample_index: Path) -> None:
    """The story-timeline benchmark (issue 26): scores per split against eval/timeline_events.jsonl
    and one fresh timed call; the thresholds are the issue's (held-out date accuracy >= 0.9, topic
    recall >= 0.8, no date guessed)."""
    res = run_script("timeline.py", "--tiny", "--json", "--index", str(sample_index))
    assert set(res["splits"]) == {"tune", "heldout"} and res["articles"] == 5
    for split in res["splits"].values():
        assert split["guessed"] == 0 and split["false_merges"] == []
        assert split["date_accuracy"] >= 0.9 and split["recall"] >= 0.8
        assert 0 < split["merge_accuracy"] <= 1 and split["event_rows"] > 0
    assert res["multi_article_events"] >= 2
    lat = res["latency"]
    assert lat["repeat"] == 1 and 0 < lat["p50_s"] <= lat["max_s"] and lat["first_s"] > 0


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_timeline_scale_tiny() -> None:
    """The synthetic-index timeline benchmark (issue 26) at 100 articles: every topic reads articles,
    finds events (copies of one event merge), and each timed call is positive."""
    res = run_script("timeline_scale.py", "--tiny", "--json")
    assert res["index"]["articles"] == 100 and res["index"]["passages"] > 100 and res["repeat"] == 1
    assert res["first_call_s"] > 0 and len(res["topics"]) == 3
    for row in res["topics"]:
        assert row["articles_read"] > 1 and row["sentences_tagged"] > 0 and row["events"] > 0 and row["multi_article_events"] > 0
        assert 0 < row["p50_s"] <= row["max_s"]


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_reader_tiny(sample_index: Path) -> None:
    """benchmarks/reader.py (the rank-1 / top-3 tables of docs/reader.md) on a few questions."""
    res = run_script("reader.py", "--index", str(sample_index), "--tiny", "--json")
    assert res["questions"] == 12 and res["depth"] > 0 and res["weight"] > 0
    assert res["rows"] and res["rows"][0]["group"] == "first writer"
    assert res["reach"] is not None and res["margin"] is not None  # the shipped reader's bounds
    for bounded, every in zip(res["rows"], res["read_all"]):
        assert 0.0 <= bounded["pairs_read"] <= every["pairs_read"] <= res["depth"]
    for row in res["rows"]:
        for system in ("ranker", "reader", "combined"):
            at1, at3 = row[system]
            assert 0.0 <= at1 <= at3 <= 1.0
        assert 0.0 <= row["p_combined"] <= 1.0
    assert sum(r["n"] for r in res["rows"][:2]) == 12  # the two writer groups partition the questions


def test_the_reading_fit_takes_the_cheapest_bounds_that_lose_nothing() -> None:
    """benchmarks/reader.py's fit_reading on rows worked out by hand (weight 12: a unit gains at
    most 12): a unit 10 below the best never wins, so reading it is wasted; one 2 below does win."""
    bench = _bench_module("reader.py")

    def row(i: int, ranker: list[float], hit: int, logits: list[float]):  # type: ignore[no-untyped-def]
        return bench.Ranked(f"q{i}", "tune", "why_how", "why?", "reason", np.array(ranker),
                            np.arange(len(ranker)) == hit, np.array(logits))

    far = [row(i, [10.0, 9.0, 0.0], 1, [-5.0, 5.0, 5.0]) for i in range(3)]  # the reader lifts the second
    rd = bench.fit_reading(far, 12.0, ("reason",), 3)
    assert rd.reach is not None and rd.reach < 10.0  # the third unit (10 below) is never read
    assert bench.correct(far, "combined", 12.0, 1, ("reason",), rd).all()
    assert bench.pairs_read(far, ("reason",), rd) == 2.0 < bench.pairs_read(far, ("reason",))
    near = [row(i, [10.0, 8.0, 7.5], 2, [-5.0, -5.0, 5.0]) for i in range(3)]  # the third, 2.5 below, wins
    rd = bench.fit_reading(near, 12.0, ("reason",), 3)
    assert (rd.reach is None or rd.reach >= 2.5) and (rd.margin is None or rd.margin >= 2.0)
    assert bench.correct(near, "combined", 12.0, 1, ("reason",), rd).all()


@pytest.mark.tier2  # the training script's tiny run, in a subprocess
def test_train_reader_tiny(sample_index: Path, tmp_path: Path) -> None:
    """scripts/train_reader.py end to end at a tiny size: data, LoRA training, the saved adapter
    (which the app then loads and runs)."""
    out = tmp_path / "reader"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_reader.py"), "--index", str(sample_index),
                           "--tiny", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "data:" in proc.stderr and "reader written to" in proc.stderr
    cfg = json.loads((out / "reader.json").read_text(encoding="utf-8"))
    assert cfg["trained"]["groups"] > 0 and cfg["trained"]["per_type"]["eval"] > 0 and cfg["trained"]["train_seconds"] > 0
    from qa.reader import Reader

    logits = Reader(out, backend="torch").predict([("Why?", "Because."), ("Who?", "Nobody.")])
    assert logits.shape == (2,) and np.isfinite(logits).all()


def test_one_percentile_for_every_benchmark() -> None:
    """Issue 25: latency percentiles had three hand-written versions on two scales (0-1 and 0-100);
    every script now uses benchmarks.stats.percentile (0-100), and none defines its own."""
    import ast

    from benchmarks.stats import percentile

    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5 and percentile([1.0, 2.0, 3.0], 100) == 3.0
    assert percentile([10.0], 95) == 10.0 and np.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], 0.95 * 1000)
    own = {p.name: n.name for p in BENCH.glob("*.py") if p.name != "stats.py"
           for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
           if isinstance(n, ast.FunctionDef) and n.name in {"percentile", "pct", "quantile", "ndcg", "ndcg_at_10"}}
    assert not own, own  # percentiles from benchmarks.stats, IR metrics from qa.metrics (ranx)


def test_passage_rerank_fusion_by_hand() -> None:
    """passage_rerank.py's fusion of the hybrid and reader orders, and its run and split helpers,
    on cases worked out by hand."""
    bench = _bench_module("passage_rerank.py")
    hybrid, reader = ["a", "b", "c"], ["c", "b", "a"]
    # k=1: a = 1/2 + 1/4 = 0.75, b = 1/3 + 1/3 = 0.667, c = 1/4 + 1/2 = 0.75 (tied with a: a came first)
    assert bench.rrf_orders([hybrid, reader], k=1) == ["a", "c", "b"]
    # ranks count from 1: b = 1/3 + 1/3 beats a = c = 1/2 (from 0 all three would tie at 1)
    assert bench.rrf_orders([["a", "b"], ["c", "b"]], k=1) == ["b", "a", "c"]
    # the reader's share 0.8: c = 0.2/4 + 0.8/2 = 0.45, b = 0.2/3 + 0.8/3 = 0.333, a = 0.2/2 + 0.8/4 = 0.3
    assert bench.rrf_orders([hybrid, reader], [0.2, 0.8], k=1) == ["c", "b", "a"]
    assert bench.rrf_orders([hybrid, reader], [1.0, 0.0]) == hybrid and bench.rrf_orders([hybrid, reader], [0.0, 1.0]) == reader
    # an item one order lacks gets nothing from it: d (reader's 1st only) = 1/2 vs a (hybrid's 1st) = 1/2 + 1/3
    assert bench.rrf_orders([["a", "b"], ["d", "a"]], k=1) == ["a", "d", "b"]
    with pytest.raises(ValueError):
        bench.rrf_orders([hybrid, reader], [1.0])
    assert bench.by_score(["x", "y", "z"], [0.2, 0.9, 0.2]) == ["y", "x", "z"]  # ties keep the hybrid order
    run = bench.reranked_run(["b", "a"], ["a", "c"])
    assert sorted(run, key=lambda d: -run[d]) == ["b", "a", "c"] and len(set(run.values())) == 3
    assert bench.split_queries(["1", "2", "3", "10"]) == (["1", "3"], ["2", "10"])
    assert bench.split_queries(["x", "y", "z"]) == (["x", "z"], ["y"])


@pytest.mark.tier2  # a benchmark script's tiny run, in a subprocess
def test_passage_rerank_tiny() -> None:
    """benchmarks/passage_rerank.py (docs/reader.md, "Passage reranking on BEIR collections") on a
    few cranfield queries: qa eval's hybrid run, the reader's rerankings of its top documents."""
    shared_dataset("cranfield")
    res = run_script("passage_rerank.py", "--tiny", "--json")
    assert res["tiny"] and res["depth"] == 10 and res["metrics"][0] == "ndcg@10"
    (d,) = res["datasets"]
    assert d["name"] == "cranfield" and d["queries"] == 5 and d["train_queries"] + d["heldout_queries"] == 5
    assert set(d["reader"]) == {"passage", "sentences"}
    assert d["reader"]["passage"]["pairs_per_query"] == 10  # one pair per document
    assert d["reader"]["sentences"]["pairs_per_query"] >= 10  # at least one sentence per document
    assert all(r["ms_per_query"] > 0 for r in d["reader"].values())
    systems = {s["name"]: s for s in d["systems"]}
    assert set(systems) == {"hybrid", "hybrid (held-out half)", *(f"{s} ({t})" for s in ("reader", "rrf", "fitted")
                                                                   for t in ("passage", "sentences"))}
    assert systems["hybrid"]["p_value"] is None and systems["hybrid (held-out half)"]["p_value"] is None
    for s in systems.values():
        assert all(0.0 <= v <= 1.0 for v in s["metrics"].values()), s
        assert s["queries"] == (d["heldout_queries"] if s["split"] == "held-out" else 5)
        if not s["name"].startswith("hybrid"):
            assert 0.0 <= s["p_value"] <= 1.0 and s["improved"] + s["hurt"] <= s["queries"]
            # only the top 10 is reordered: recall@10 is hybrid's on the same queries
            base = systems["hybrid (held-out half)" if s["split"] == "held-out" else "hybrid"]
            assert s["metrics"]["recall@10"] == base["metrics"]["recall@10"]
    assert {t: 0.0 <= f["share"] <= 1.0 for t, f in d["fitted"].items()} == {"passage": True, "sentences": True}
