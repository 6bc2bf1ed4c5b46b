"""The engine on a real two-node Ray cluster, started on this machine over loopback only.

Ray replaces a node IP of 127.0.0.1 with the machine's external address, so the head listens on
127.0.0.2 and the worker on 127.0.0.3. The module starts its own cluster (in its own temp dir)
and always stops it (its own processes only); it is skipped only when Ray is not installed or
cannot start, and under CI (`CI=true`) a cluster that cannot start fails.

One cluster, one cranfield index and ONE set of 2 named shard actors serve the whole module: the
sharded engine here, the Ray Serve replicas (``qa serve --replicas``) and the benchmark's 2-shard
side all use the same actors. Tests that need the cluster's whole CPU (Ray Data embedding) run
before anything holds CPUs; the test that kills a shard for good runs last.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from index.builder import add_articles
from index.defaults import Mode
from index.store import IndexStore
from qa import Engine

from conftest import shared_dataset

pytestmark = pytest.mark.tier2  # a local two-node Ray cluster, started and stopped by this module

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'newsqa[ray]')")

PORT = int(os.environ.get("QA_TEST_RAY_PORT", "6380"))
#: Where Ray Serve's HTTP proxy listens (the head node's loopback address; the port is free).
SERVE_HOST = "127.0.0.2"
API_KEY = "test-cluster-key"


@pytest.fixture(scope="module", autouse=True)
def _cluster_starting():
    """Starts the head and worker nodes (1 CPU each, loopback addresses) in a background thread
    as soon as the module runs, so the start overlaps the index build; always ``ray stop`` at the end."""
    import threading

    from index.errors import QAError
    from qa.cluster.local import LocalCluster

    local = LocalCluster(port=PORT)
    failure: list[str] = []

    def start() -> None:
        try:
            local.start()
        except QAError as exc:
            failure.append(str(exc))

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    try:
        yield local, thread, failure
    finally:
        thread.join()
        local.stop()


@pytest.fixture(scope="module")
def cluster(_cluster_starting):
    """The running two-node cluster's address, with this process connected to it."""
    from qa.cluster import connect

    local, thread, failure = _cluster_starting
    thread.join()
    if failure:  # a cluster that does not start fails CI (CI=true); elsewhere the tests say why they skip
        (pytest.fail if os.environ.get("CI") else pytest.skip)(failure[0])
    connect(local.address)
    return local.address


#: Cranfield documents indexed (all 225 queries are run). Embedding all 1,400 takes minutes on
#: this shared 2-core machine; QA_CLUSTER_DOCS=0 indexes the whole collection.
DOCS = int(os.environ.get("QA_CLUSTER_DOCS", "150"))


def _cranfield_articles() -> list:
    from qa.datasets import load_corpus

    articles, _, _ = load_corpus(shared_dataset("cranfield") / "corpus.jsonl")
    return articles[:DOCS] if DOCS else articles


class _QueryMemo:
    """The session embedder, remembering query vectors (``batch_size=1``, i.e. each query embedded
    on its own, so a remembered vector is exactly the one a fresh call gives): the single and the
    sharded engines embed each cranfield query once between them."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.memo = inner, {}

    def encode(self, texts, *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
        texts = list(texts)
        if batch_size != 1:
            return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)
        for t in dict.fromkeys(texts):
            if t not in self.memo:
                self.memo[t] = self.inner.encode([t], batch_size=1)[0]
        return np.stack([self.memo[t] for t in texts]) if texts else self.inner.encode(texts, batch_size=1)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def query_embedder(embedder) -> _QueryMemo:
    return _QueryMemo(embedder)


@pytest.fixture(scope="module")
def cranfield_index(tmp_path_factory, embedder) -> Path:
    """The single-process index (exact dense search) everything sharded is compared with."""
    directory = tmp_path_factory.mktemp("cranfield") / "qa-index"
    add_articles(_cranfield_articles(), directory, embedder=embedder, dense_index="flat")
    return directory


@pytest.fixture(scope="module")
def sharded(cluster, cranfield_index, query_embedder):
    """The sharded engine over the module's shared, named shard actors (those `qa serve
    --replicas` creates and finds: see qa.cluster.serve.shard_prefix)."""
    from qa.cluster.coordinator import open_sharded
    from qa.cluster.serve import shard_prefix

    engine = open_sharded(cranfield_index, 2, embedder=query_embedder, name_prefix=shard_prefix(cranfield_index),
                          detached=True)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def served(sharded, cranfield_index):
    """`qa serve --ray --shards 2 --replicas 2` (with an API key) on the module's shards: the API
    on 2 replicas at /api, the UI on one. Yields (spec, base URL); always removed at the end."""
    from qa.cluster.serve import ReplicaSpec, deploy, shard_prefix
    from ui.config import ServeConfig

    config = ServeConfig(index_dir=cranfield_index, host=SERVE_HOST, port=0, api_key=API_KEY, max_k=20)
    spec = ReplicaSpec(str(cranfield_index), 2, config, shard_prefix(cranfield_index), reload=False)
    try:
        url = deploy(spec, 2)
        yield spec, url
    finally:
        from ray import serve

        serve.shutdown()  # the shards stay: the module's sharded engine owns them until the end


def test_global_bm25_statistics_give_single_index_scores(cranfield_index) -> None:
    """Each slice scores with the whole index's live df/avgdl/N: merged scores equal the single
    index's (``store.lexical.ranking``), also after a deletion left tombstones in the slices."""
    from index.builder import delete_articles
    from qa.cluster.bm25 import SliceLexical, merge_stats, slice_stats
    from qa.cluster.coordinator import merge_rankings
    from qa.cluster.shard import _slice_counts, split_rows
    from qa.datasets import load_queries

    import shutil

    directory = cranfield_index.parent / "bm25-tombstones"
    shutil.copytree(cranfield_index, directory)
    before = IndexStore.load(directory)
    delete_articles(sorted(before.articles)[::7], directory)  # tombstones spread over every slice
    queries = list(load_queries(shared_dataset("cranfield") / "queries.jsonl").values())
    for index in (cranfield_index, directory):
        store = IndexStore.load(index)
        ranges = split_rows(len(store.passages), 3)
        counts = [_slice_counts(store, lo, hi) for lo, hi in ranges]
        stats = merge_stats(slice_stats(c, store.live[lo:hi]) for c, (lo, hi) in zip(counts, ranges))
        assert (stats.n_live, stats.avgdl) == (store.lexical.n_live, store.lexical.avgdl)
        slices = [SliceLexical(store.settings.bm25, c, store.live[lo:hi], stats) for c, (lo, hi) in zip(counts, ranges)]
        lo0, hi0 = ranges[0]
        local_only = SliceLexical(store.settings.bm25, counts[0], store.live[lo0:hi0],
                                  slice_stats(counts[0], store.live[lo0:hi0]))  # what a naive shard would do
        differs = 0
        for q in queries:
            single = store.lexical.ranking(q, 50)
            parts = [[(r + lo, v) for r, v in s.ranking(q, 50)] for (lo, _), s in zip(ranges, slices)]
            merged = merge_rankings(parts, 50)
            assert [r for r, _ in merged] == [r for r, _ in single], q
            np.testing.assert_allclose([v for _, v in merged], [v for _, v in single], atol=1e-5)
            full = dict(store.lexical.ranking(q, len(store.passages)))
            differs += any(abs(full[r] - v) > 1e-3 for r, v in local_only.ranking(q, 5))
        assert differs > 50  # shard-local statistics would NOT reproduce the single index


def test_serve_replicas_flag_needs_ray(cranfield_index, capsys) -> None:
    from qa.cli import main

    assert main(["serve", "--index", str(cranfield_index), "--replicas", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--replicas needs --ray" in err and len(err.splitlines()) == 1


def test_two_node_cluster_on_loopback(cluster) -> None:
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert sorted(n["NodeManagerAddress"] for n in nodes) == ["127.0.0.2", "127.0.0.3"]
    assert ray.cluster_resources()["CPU"] == 2
    from ray.data._internal.usage.collector import usage_collection_disabled

    assert usage_collection_disabled()  # no metrics poller thread (its traceback ended every CI log)


def test_distributed_index_equals_single_process_index(cluster, embedder, tmp_path) -> None:
    """Ray Data embedding across both nodes writes the same index as one process (on the first
    60 documents: the two embedding actors' model loads dominate, not the corpus)."""
    from qa.cluster.embed import RayEmbedder

    docs = _cranfield_articles()[:60]
    remote = RayEmbedder(groups_per_task=1)
    add_articles(docs, tmp_path / "ray", embedder=remote, dense_index="flat", batch_size=16)
    assert remote.last_workers == 2
    add_articles(docs, tmp_path / "single", embedder=embedder, dense_index="flat", batch_size=16)
    a, b = IndexStore.load(tmp_path / "single"), IndexStore.load(tmp_path / "ray")
    assert [p.passage_id for p in a.passages] == [p.passage_id for p in b.passages]
    assert a.manifest["settings"] == b.manifest["settings"]
    cos = (np.asarray(a.embeddings) * np.asarray(b.embeddings)).sum(axis=1)
    assert cos.min() >= 0.999
    # the same BM25 term counts (format 2 stores per-row term frequencies, scored at query time)
    assert a.lexical.n_live == b.lexical.n_live and a.lexical.avgdl == b.lexical.avgdl
    for ta, tb in zip(a.lexical.parts, b.lexical.parts, strict=True):
        for name in ta.FILES:
            np.testing.assert_array_equal(np.asarray(getattr(ta, name)), np.asarray(getattr(tb, name)))


def test_sharded_top10_equals_single_index_for_every_cranfield_query(sharded, cranfield_index, query_embedder) -> None:
    from qa.datasets import load_queries

    queries = list(load_queries(shared_dataset("cranfield") / "queries.jsonl").values())
    single = Engine.open(cranfield_index, embedder=query_embedder)
    info = sharded.fleet().wait_ready()
    assert len(info) == 2 and {i["dense"] for i in info} == {"flat"}
    assert info[0]["lo"] == 0 and info[0]["hi"] == info[1]["lo"] and info[1]["hi"] == len(single.store.passages)
    for mode in (Mode.BM25, Mode.DENSE, Mode.HYBRID):
        want = single.search_many(queries, k=10, mode=mode)
        got = sharded.search_many(queries, k=10, mode=mode)
        for q, a, b in zip(queries, want, got):
            assert [h.passage.passage_id for h in b] == [h.passage.passage_id for h in a], (mode, q)
            np.testing.assert_allclose([h.score for h in b], [h.score for h in a], atol=1e-5)
    # answers run through the same engine code over the sharded retrieval
    q = queries[0]
    assert sharded.ask(q).to_dict() == single.ask(q).to_dict()


def test_sharded_filters_apply_before_the_cut(sharded, cranfield_index, embedder) -> None:
    from qa.filters import SearchFilter

    single = Engine.open(cranfield_index, embedder=embedder)
    f = SearchFilter(sources=("no-such-publisher",))
    assert sharded.search("boundary layer", k=5, filters=f) == single.search("boundary layer", k=5, filters=f) == []


def _api(engine, api_key: str | None = None):  # the JSON API of `qa serve`, over any engine
    from fastapi.testclient import TestClient

    from ui.api import create_api
    from ui.config import ServeConfig

    config = ServeConfig(index_dir=engine.index_dir, max_k=20, api_key=api_key)
    return TestClient(create_api(engine, config), raise_server_exceptions=False)


def test_api_over_shards_equals_single_index(sharded, cranfield_index, embedder) -> None:
    single = Engine.open(cranfield_index, embedder=embedder, max_k=20)
    body = {"query": "what is the effect of compressibility on flutter", "k": 10, "mode": "hybrid"}
    a, b = _api(single).post("/api/search", json=body), _api(sharded).post("/api/search", json=body)
    assert a.status_code == b.status_code == 200
    assert b.json() == a.json() and len(b.json()["results"]) == 10


def test_cli_search_with_ray_equals_single_index(cluster, cranfield_index, embedder, capsys) -> None:
    """`qa search --ray ADDRESS --shards 2 --json` (the CLI's own code, run in this process, which
    is already connected to the cluster) prints the single index's results; an address where no
    cluster listens is one line on stderr and exit 2."""
    import json

    from qa.cli import main

    # bm25: no model needed for the query (dense and hybrid equality is tested above)
    args = ["search", "supersonic wing drag", "--index", str(cranfield_index), "--json", "-k", "5", "--mode", "bm25"]
    assert main([*args, "--ray", cluster, "--shards", "2"]) == 0
    got = json.loads(capsys.readouterr().out)["results"]
    single = Engine.open(cranfield_index, embedder=embedder)
    want = [json.loads(json.dumps(h.to_dict())) for h in single.search("supersonic wing drag", k=5, mode="bm25")]
    assert [r["passage_id"] for r in got] == [r["passage_id"] for r in want] and len(got) == 5
    np.testing.assert_allclose([r["score"] for r in got], [r["score"] for r in want], atol=1e-5)
    assert [{**r, "score": 0} for r in got] == [{**r, "score": 0} for r in want]
    assert main([*args, "--ray", "127.0.0.2:1", "--shards", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot connect to the Ray cluster" in err and len(err.splitlines()) == 1


def test_a_deleted_article_never_comes_back_from_sharded_search(cluster, cranfield_index, embedder, tmp_path) -> None:
    """Tombstoned rows are skipped by every shard, in every mode, and the rankings still equal the
    single index's (whose BM25 statistics drop the deleted rows)."""
    import shutil

    from index.builder import delete_articles
    from qa.cluster.coordinator import open_sharded

    directory = tmp_path / "qa-index"
    shutil.copytree(cranfield_index, directory)
    query = "boundary layer transition on a flat plate"
    single = Engine.open(directory, embedder=embedder)
    top = {m: single.search(query, k=10, mode=m) for m in (Mode.BM25, Mode.DENSE, Mode.HYBRID)}
    gone = sorted({h.passage.doc_id for hits in top.values() for h in hits[:3]})
    delete_articles(gone, directory)
    single = Engine.open(directory, embedder=embedder)
    engine = open_sharded(directory, 2, embedder=embedder)
    try:
        for mode in (Mode.BM25, Mode.DENSE, Mode.HYBRID):
            got = engine.search(query, k=50, mode=mode)
            assert got and not {h.passage.doc_id for h in got} & set(gone), mode
            want = single.search(query, k=50, mode=mode)
            assert [h.passage.passage_id for h in got] == [h.passage.passage_id for h in want], mode
            np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-5)
    finally:
        engine.close()


def _same_response(a: dict, b: dict) -> None:
    """Two /api responses are the same: equal apart from float scores, which agree to 1e-5 (each
    replica embeds the query in its own process)."""
    def strip(x):  # type: ignore[no-untyped-def]
        if isinstance(x, dict):
            return {k: (0.0 if k == "score" else strip(v)) for k, v in x.items()}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    def scores(x, out):  # type: ignore[no-untyped-def]
        if isinstance(x, dict):
            for k, v in x.items():
                out.append(v) if k == "score" else scores(v, out)
        elif isinstance(x, list):
            for v in x:
                scores(v, out)
        return out

    assert strip(a) == strip(b)
    np.testing.assert_allclose(scores(a, []), scores(b, []), atol=1e-5)


def test_serve_replicas_answer_like_the_single_index(served, sharded, cranfield_index, query_embedder) -> None:
    """`qa serve --ray --shards 2 --replicas 2`: /api/search (bm25, dense, hybrid) and /api/ask over
    HTTP through Serve's proxy on 127.0.0.2 equal the single-process app's answers; the API key
    and write permission are enforced by the replicas; the UI and the widget are served."""
    import httpx

    from qa.cluster.serve import replica_actors
    from qa.datasets import load_queries

    from ray import serve

    from qa.cluster.serve import API_APP

    _, url = served
    assert url.startswith(f"http://{SERVE_HOST}:")
    assert len(replica_actors()) == 2
    # the replicas query the SAME two shard actors (this module's), not shards of their own
    handle = serve.get_app_handle(API_APP)
    shared = [(i["lo"], i["hi"], i["pid"]) for i in sharded.fleet().wait_ready()]
    for _ in range(6):
        assert [(i["lo"], i["hi"], i["pid"]) for i in handle.shards.remote().result()] == shared
    single = _api(Engine.open(cranfield_index, embedder=query_embedder, max_k=20), api_key=API_KEY)
    key = {"X-API-Key": API_KEY}
    queries = list(load_queries(shared_dataset("cranfield") / "queries.jsonl").values())[:10]
    with httpx.Client(base_url=url, headers=key, timeout=120) as http:
        for q in queries:
            for mode in ("bm25", "dense", "hybrid"):
                body = {"query": q, "k": 10, "mode": mode}
                a, b = single.post("/api/search", json=body, headers=key), http.post("/api/search", json=body)
                assert a.status_code == b.status_code == 200, b.text
                assert len(b.json()["results"]) == 10
                _same_response(a.json(), b.json())
        for q in queries[:3]:
            a, b = single.post("/api/ask", json={"question": q}, headers=key), http.post("/api/ask", json={"question": q})
            assert a.status_code == b.status_code == 200, b.text
            _same_response(a.json(), b.json())
        # the security guard runs in every replica: no key, no answer; no write permission, no delete
        r = httpx.post(f"{url}/api/search", json={"query": "flutter", "k": 3}, timeout=120)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = http.delete("/api/articles/1")
        assert r.status_code == 403 and r.json()["error"]["status"] == 403
        # the UI (its own replica) and the widget
        assert http.get("/embed").status_code == 200
        assert http.get("/", follow_redirects=False).status_code in (200, 303)


def test_a_killed_replica_is_replaced_and_requests_keep_succeeding(served) -> None:
    import time

    import httpx

    from qa.cluster.serve import replica_actors

    _, url = served
    before = replica_actors()
    assert len(before) == 2
    ray.kill(before[0], no_restart=True)  # the replica's process dies
    body = {"query": "pressure distribution on a cone", "k": 5}
    with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=120) as http:
        replies = [http.post("/api/search", json=body) for _ in range(12)]
    assert [r.status_code for r in replies] == [200] * 12
    assert len({tuple(x["passage_id"] for x in r.json()["results"]) for r in replies}) == 1
    deadline = time.monotonic() + 120  # Serve's controller starts a replacement replica
    while time.monotonic() < deadline:
        now = {a._actor_id for a in replica_actors()}
        if len(now) == 2 and before[0]._actor_id not in now:
            break
        time.sleep(1)
    else:
        pytest.fail("Serve did not start a replacement replica")


def test_cluster_benchmark_tiny_run(cluster, served, cranfield_index, embedder) -> None:
    """benchmarks/cluster.py end to end at a tiny size on the module's index, shards and 2-replica
    deployment (it adds a 1-replica app beside it); the figures themselves are not asserted. The
    embedding part is skipped here: test_distributed_index_… runs the same RayEmbedder."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("bench_cluster", ROOT / "benchmarks" / "cluster.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    r = bench.run(cluster, docs=0, n_queries=6, clients=2, rounds=1, index_dir=cranfield_index,
                  embedding=False, served=served, embedder=embedder)
    assert r["embedding"] is None and r["passages"] > 0
    assert r["queries"]["ratio"] > 0 and r["queries"]["queries"] == 6
    assert r["replicas"]["ratio"] > 0 and r["replicas"]["queries"] == 6
    text = bench.table(r, "x")
    assert "share" in text and "replicas" in text


def test_a_replica_keeps_the_query_vectors_its_spec_asks_for(sharded, cranfield_index) -> None:
    """``ReplicaSpec.query_cache``: 0 (what benchmarks/cluster.py deploys, so repeated rounds embed
    every query anew) keeps none; unset keeps the engine's default. Built in process on the
    module's shards (detached: closing the replica's engine leaves them running)."""
    from qa.cluster.serve import QAReplicaCore, ReplicaSpec, shard_prefix
    from qa.engine import QUERY_CACHE
    from ui.config import ServeConfig

    config = ServeConfig(index_dir=cranfield_index, host=SERVE_HOST, port=0, max_k=20)
    q = "flow over a flat plate"
    for cache in (0, None):
        core = QAReplicaCore(ReplicaSpec(str(cranfield_index), 2, config, shard_prefix(cranfield_index), reload=False,
                                         query_cache=cache))
        try:
            core.engine.search(q, k=3)
            kept = list(core.engine._query_vectors)
            assert (q in kept) if cache is None else kept == []
            assert core.engine._query_vectors.size == (QUERY_CACHE if cache is None else cache)
        finally:
            core.engine.close()


def test_a_killed_shard_is_restarted_and_the_query_retried(sharded, served) -> None:
    """Runs last: it ends a shard for good. The Serve replicas use the same shard actors, so they
    see the restart too, and then answer 503 ``shard_unavailable`` over HTTP."""
    import httpx

    from qa.cluster.coordinator import ShardUnavailableError

    fleet = sharded.fleet()
    before = fleet.wait_ready()
    want = [h.passage.passage_id for h in sharded.search("heat transfer in hypersonic flow", k=10)]
    ray.kill(fleet.actors[0], no_restart=False)  # the process dies; Ray restarts the actor
    got = [h.passage.passage_id for h in sharded.search("heat transfer in hypersonic flow", k=10)]
    assert got == want
    after = fleet.wait_ready()
    assert after[0]["pid"] != before[0]["pid"] and after[1]["pid"] == before[1]["pid"]
    _, url = served
    body = {"query": "heat transfer in hypersonic flow", "k": 10}
    r = httpx.post(f"{url}/api/search", json=body, headers={"X-API-Key": API_KEY}, timeout=120)
    assert r.status_code == 200 and [x["passage_id"] for x in r.json()["results"]] == want
    # beyond its restarts: the query fails whole with a 503, never a silent half ranking
    ray.kill(fleet.actors[1], no_restart=True)
    with pytest.raises(ShardUnavailableError) as err:
        sharded.search("heat transfer in hypersonic flow", k=10)
    assert err.value.code == "shard_unavailable" and "shard" in str(err.value)  # the API: 503 (below)
    r = _api(sharded).post("/api/search", json={"query": "heat transfer", "k": 3})
    assert r.status_code == 503 and r.json()["error"]["code"] == "shard_unavailable"
    r = httpx.post(f"{url}/api/search", json=body, headers={"X-API-Key": API_KEY}, timeout=120)
    assert r.status_code == 503 and r.json()["error"] == {
        "code": "shard_unavailable", "message": r.json()["error"]["message"], "status": 503}
