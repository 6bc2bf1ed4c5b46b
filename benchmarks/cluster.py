"""Scaling on a Ray cluster: embedding with 1 vs 2 workers, queries with 1 vs 2 shards and 1 vs 2 API replicas.

    python benchmarks/cluster.py                        # starts a 2-node loopback cluster, then stops it
    python benchmarks/cluster.py --address HOST:PORT    # measure an existing cluster
    python benchmarks/cluster.py --docs 1400 --queries 225 --readme   # the table in benchmarks/README.md

Passages are the first ``--docs`` cranfield documents (../shared/data/cranfield), queries the
collection's queries. Both figures are ratios measured in the same run, rounds interleaved:

- **embedding**: ``qa index --ray``'s :class:`qa.cluster.embed.RayEmbedder` with 1 worker vs
  2 workers (one per node), passages/s of the whole ``encode`` call (actor start and model load
  included, as a user's ``qa index --ray`` pays them);
- **queries**: :class:`qa.cluster.coordinator.ShardedEngine` with 1 vs 2 shards, hybrid mode,
  ``--clients`` threads sending queries concurrently, queries/s and p50 latency (the
  coordinator embeds each query; the shards run FAISS + BM25 on their slice);
- **replicas**: ``qa serve --ray --replicas``'s Ray Serve API (:mod:`qa.cluster.serve`) with 1 vs
  2 replicas over the same 2 shards, both applications deployed side by side behind Serve's
  proxy (``/bench1/api/search`` and ``/api/search``), ``--clients`` threads POSTing hybrid
  searches over HTTP, queries/s and p50 latency (each replica embeds its queries).

Caveat printed with the results: the local cluster's two "nodes" share this machine's CPUs (2
cores, shared with other jobs), so the 2-way figures measure fan-out overhead and parallelism on
one box, not what two real hosts give.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAVEAT = ("Both Ray nodes run on one machine and share its CPUs (2 cores here, shared with other jobs): "
          "the 2-worker / 2-shard / 2-replica ratios show fan-out overhead and on-box parallelism, not two real hosts.")


def _data(docs: int, n_queries: int):  # type: ignore[no-untyped-def]
    from qa.datasets import load_corpus, load_queries

    base = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared")) / "data" / "cranfield"
    articles, _, _ = load_corpus(base / "corpus.jsonl")
    queries = list(load_queries(base / "queries.jsonl").values())
    return articles[:docs], queries[:n_queries]


def bench_embedding(texts: list[str], rounds: int) -> dict[str, float]:
    from qa.cluster.embed import RayEmbedder

    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in (1, 2):  # interleaved
            emb = RayEmbedder(workers=workers)
            t0 = time.perf_counter()
            emb.encode(texts)
            rates[workers].append(len(texts) / (time.perf_counter() - t0))
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    return {"passages": len(texts), "workers1_per_s": one, "workers2_per_s": two, "ratio": two / one}


def bench_queries(index_dir: Path, queries: list[str], clients: int, rounds: int, embedder=None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from index import SentenceTransformerEmbedder
    from qa.cluster.coordinator import open_sharded
    from qa.cluster.serve import shard_prefix

    embedder = embedder or SentenceTransformerEmbedder()
    # the 2 shards are the named ones `qa serve --replicas` uses: the replica measurement reuses them
    # no kept query vectors: the rounds repeat the queries, and each should pay its embedding as a new one
    engines = {1: open_sharded(index_dir, 1, embedder=embedder, query_cache=0),
               2: open_sharded(index_dir, 2, embedder=embedder, name_prefix=shard_prefix(index_dir), detached=True,
                               query_cache=0)}
    for e in engines.values():
        e.search_many(queries[:2], k=10)  # warm: model, shards, connections
    qps: dict[int, list[float]] = {1: [], 2: []}
    lat: dict[int, list[float]] = {1: [], 2: []}

    def one(engine, q):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        engine.search(q, k=10)
        return time.perf_counter() - t

    try:
        for _ in range(rounds):
            for n, engine in engines.items():  # interleaved
                t0 = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    times = list(pool.map(lambda q: one(engine, q), queries))
                qps[n].append(len(queries) / (time.perf_counter() - t0))
                lat[n].extend(times)
    finally:
        for e in engines.values():
            e.close()
    q1, q2 = statistics.median(qps[1]), statistics.median(qps[2])
    return {"queries": len(queries), "clients": clients, "shards1_qps": q1, "shards2_qps": q2, "ratio": q2 / q1,
            "shards1_p50_ms": 1000 * statistics.median(lat[1]), "shards2_p50_ms": 1000 * statistics.median(lat[2])}


def _post_all(url: str, queries: list[str], clients: int, api_key: str | None = None) -> tuple[float, list[float]]:
    """POST every query (hybrid, k=10) from ``clients`` threads: (queries/s, latencies)."""
    import httpx

    with httpx.Client(timeout=120, headers={"X-API-Key": api_key} if api_key else {}) as http:
        def one(q: str) -> float:
            t = time.perf_counter()
            r = http.post(url, json={"query": q, "k": 10, "mode": "hybrid"})
            r.raise_for_status()
            return time.perf_counter() - t

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            times = list(pool.map(one, queries))
    return len(queries) / (time.perf_counter() - t0), times


def bench_replicas(index_dir: Path, queries: list[str], clients: int, rounds: int,
                   served: tuple[object, str] | None = None, host: str = "127.0.0.2") -> dict[str, float]:
    """1 vs 2 Ray Serve API replicas over the same 2 shards, over HTTP. ``served`` is
    ``(ReplicaSpec, base URL)`` of a running ``qa serve --replicas 2`` deployment to measure as
    the 2-replica side (the tests pass theirs); otherwise one is deployed here and removed after.
    The replicas deployed here keep no query vectors (``query_cache=0``), so every round embeds
    every query anew, as the shard measurement does."""
    from dataclasses import replace

    from ray import serve

    from qa.cluster.serve import ReplicaSpec, deploy, deploy_api, shard_prefix, undeploy
    from ui.config import ServeConfig

    own = served is None
    if own:
        spec = ReplicaSpec(str(index_dir), 2, ServeConfig(index_dir=index_dir, host=host, port=0), shard_prefix(index_dir),
                           query_cache=0)
        base = deploy(spec, 2, ui_replica=False)
    else:
        spec, base = served  # type: ignore[assignment]
    try:
        deploy_api(replace(spec, query_cache=0), 1, name="qa-bench-1", route_prefix="/bench1")  # type: ignore[arg-type]
        urls = {1: f"{base}/bench1/api/search", 2: f"{base}/api/search"}
        key = spec.config.api_key  # type: ignore[attr-defined]
        for url in urls.values():
            _post_all(url, queries[:2], 2, key)  # warm: connections, first requests
        qps: dict[int, list[float]] = {1: [], 2: []}
        lat: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(rounds):
            for n, url in urls.items():  # interleaved
                rate, times = _post_all(url, queries, clients, key)
                qps[n].append(rate)
                lat[n].extend(times)
    finally:
        serve.delete("qa-bench-1")
        if own:
            undeploy(spec)  # type: ignore[arg-type]
    q1, q2 = statistics.median(qps[1]), statistics.median(qps[2])
    return {"queries": len(queries), "clients": clients, "replicas1_qps": q1, "replicas2_qps": q2, "ratio": q2 / q1,
            "replicas1_p50_ms": 1000 * statistics.median(lat[1]), "replicas2_p50_ms": 1000 * statistics.median(lat[2])}


def run(address: str, docs: int, n_queries: int, clients: int = 4, rounds: int = 2, workdir: Path | None = None, *,
        index_dir: Path | None = None, embedding: bool = True, served: tuple[object, str] | None = None,
        embedder=None) -> dict:  # type: ignore[no-untyped-def]
    """All measurements on the cluster at ``address`` (this process connects to it). ``index_dir``
    reuses an index (its passages are the embedding input; ``docs`` is then ignored);
    ``embedding=False`` skips the embedding measurement; ``served`` see :func:`bench_replicas`;
    ``embedder`` is this process's query embedder (loaded here when None)."""
    from index.builder import add_articles
    from index.store import IndexStore
    from qa.cluster import connect

    connect(address)
    articles, queries = _data(docs, n_queries)
    if index_dir is None:
        workdir = Path(workdir or tempfile.mkdtemp(prefix="qa-cluster-bench-"))
        index_dir = workdir / "qa-index"
        add_articles(articles, index_dir, dense_index="flat", embedder=embedder)
    store = IndexStore.load(index_dir)
    texts = [p.index_text(store.settings.title_in_passage) for p in store.passages]
    return {"embedding": bench_embedding(texts, rounds) if embedding else None,
            "queries": bench_queries(index_dir, queries, clients, rounds, embedder),
            "replicas": bench_replicas(index_dir, queries, clients, rounds, served),
            "passages": len(texts), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0], "caveat": CAVEAT}


def table(r: dict, command: str) -> str:
    e, q, s = r["embedding"], r["queries"], r["replicas"]
    rows = [
        f"Command: `{command}`  ",
        f"Machine: {r['cpus']} CPUs, load average at start {r['load_avg']:.1f} (shared); {r['passages']} cranfield passages, "
        f"{q['queries']} queries.",
        "",
        "| what | 1 | 2 | ratio 2/1 |",
        "|---|---|---|---|",
    ]
    if e:
        rows.append(f"| embedding, passages/s (workers; actor start + model load included) | {e['workers1_per_s']:.1f} | "
                    f"{e['workers2_per_s']:.1f} | **{e['ratio']:.2f}x** |")
    rows += [
        f"| hybrid queries/s, {q['clients']} concurrent clients, in-process coordinator (shards) | {q['shards1_qps']:.1f} | "
        f"{q['shards2_qps']:.1f} | **{q['ratio']:.2f}x** |",
        f"| hybrid query p50 ms (shards) | {q['shards1_p50_ms']:.1f} | {q['shards2_p50_ms']:.1f} | "
        f"{q['shards2_p50_ms'] / q['shards1_p50_ms']:.2f}x |",
        f"| hybrid queries/s over HTTP, {s['clients']} concurrent clients, 2 shards (Ray Serve API replicas) | "
        f"{s['replicas1_qps']:.1f} | {s['replicas2_qps']:.1f} | **{s['ratio']:.2f}x** |",
        f"| hybrid query p50 ms over HTTP (replicas) | {s['replicas1_p50_ms']:.1f} | {s['replicas2_p50_ms']:.1f} | "
        f"{s['replicas2_p50_ms'] / s['replicas1_p50_ms']:.2f}x |",
        "",
        f"Caveat: {r['caveat']}",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--address", default=None, help="an existing Ray cluster (default: start a 2-node loopback one)")
    p.add_argument("--port", type=int, default=6380, help="head port of the local cluster")
    p.add_argument("--no-embedding", action="store_true", help="skip the embedding measurement")
    p.add_argument("--docs", type=int, default=400)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.add_argument("--readme", action="store_true", help="write the table into benchmarks/README.md")
    args = p.parse_args(argv)
    command = "python benchmarks/cluster.py " + " ".join(argv if argv is not None else sys.argv[1:])
    from qa.cluster.local import LocalCluster

    local = None if args.address else LocalCluster(port=args.port).start()
    try:
        r = run(args.address or local.address, args.docs, args.queries, args.clients, args.rounds,  # type: ignore[union-attr]
                embedding=not args.no_embedding)
    finally:
        if local is not None:
            local.stop()
    text = table(r, command.strip())
    print(json.dumps(r) if args.json else text)
    if args.readme:
        readme = ROOT / "benchmarks" / "README.md"
        body = readme.read_text()
        start, end = "<!-- bench:cluster -->", "<!-- /bench:cluster -->"
        block = f"{start}\n{text}\n{end}"
        if start in body:
            body = body[: body.index(start)] + block + body[body.index(end) + len(end):]
        else:
            body = body.rstrip() + "\n\n## Ray cluster (`benchmarks/cluster.py`)\n\n" + block + "\n"
        readme.write_text(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
