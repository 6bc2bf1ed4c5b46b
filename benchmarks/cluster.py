"""Scaling on a Ray cluster: embedding with 1 vs 2 workers, queries with 1 vs 2 shards.

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
  coordinator embeds each query; the shards run FAISS + BM25 on their slice).

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
          "the 2-worker / 2-shard ratios show fan-out overhead and on-box parallelism, not two real hosts.")


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


def bench_queries(index_dir: Path, queries: list[str], clients: int, rounds: int) -> dict[str, float]:
    from index import SentenceTransformerEmbedder
    from qa.cluster.coordinator import open_sharded

    embedder = SentenceTransformerEmbedder()
    engines = {n: open_sharded(index_dir, n, embedder=embedder) for n in (1, 2)}
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


def run(address: str, docs: int, n_queries: int, clients: int = 4, rounds: int = 2, workdir: Path | None = None) -> dict:
    """Both measurements on the cluster at ``address`` (this process connects to it)."""
    from index.builder import add_articles
    from index.store import IndexStore, passage_index_text
    from qa.cluster import connect

    connect(address)
    articles, queries = _data(docs, n_queries)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="qa-cluster-bench-"))
    index_dir = workdir / "qa-index"
    add_articles(articles, index_dir, dense_index="flat")
    store = IndexStore.load(index_dir)
    texts = [passage_index_text(p, store.settings.title_in_passage) for p in store.passages]
    return {"embedding": bench_embedding(texts, rounds), "queries": bench_queries(index_dir, queries, clients, rounds),
            "passages": len(texts), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0], "caveat": CAVEAT}


def table(r: dict, command: str) -> str:
    e, q = r["embedding"], r["queries"]
    return "\n".join([
        f"Command: `{command}`  ",
        f"Machine: {r['cpus']} CPUs, load average at start {r['load_avg']:.1f} (shared); {r['passages']} cranfield passages.",
        "",
        "| what | 1 | 2 | ratio 2/1 |",
        "|---|---|---|---|",
        f"| embedding, passages/s (workers; actor start + model load included) | {e['workers1_per_s']:.1f} | {e['workers2_per_s']:.1f} | **{e['ratio']:.2f}x** |",
        f"| hybrid queries/s, {q['clients']} concurrent clients (shards) | {q['shards1_qps']:.1f} | {q['shards2_qps']:.1f} | **{q['ratio']:.2f}x** |",
        f"| hybrid query p50 ms (shards) | {q['shards1_p50_ms']:.1f} | {q['shards2_p50_ms']:.1f} | {q['shards2_p50_ms'] / q['shards1_p50_ms']:.2f}x |",
        "",
        f"Caveat: {r['caveat']}",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--address", default=None, help="an existing Ray cluster (default: start a 2-node loopback one)")
    p.add_argument("--port", type=int, default=6380, help="head port of the local cluster")
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
        r = run(args.address or local.address, args.docs, args.queries, args.clients, args.rounds)  # type: ignore[union-attr]
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
