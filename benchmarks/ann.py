"""Approximate dense indexes against exact search on the realistic benchmark vectors.

    python benchmarks/ann.py --tiny --json                                     # seconds (tests/test_benchmarks.py)
    python benchmarks/ann.py --size 1m --indexes ivf:4096:fp16,ivf:4096:flat  # the figures in benchmarks/README.md
    python benchmarks/ann.py --size 300k --indexes ivf:2190:fp16,hnsw:32:80 --readme

The vectors are those of ``run.py`` (real embeddings of every shared passage; later copies get
calibrated noise, sigma 0.0146 per dimension), the queries are the shared collections' real
questions embedded by the product one at a time. For each index: build time (train + add), then
per search setting (HNSW ``efSearch``, IVF ``nprobe``) recall@10 against ``IndexFlatIP`` and
single-thread latency of one query per call, as the engine issues them. This is how the
``auto`` dense index switches were chosen (index/dense.py: HNSW from 100k, IVF from 500k).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as R  # noqa: E402  (the benchmark's corpus and vector recipe)
from benchmarks.stats import percentile  # noqa: E402  (run put the repository on the path)

EF = (128, 256, 512)
NPROBE = (8, 16, 32, 64)


def build(spec: str, X: np.ndarray):  # type: ignore[no-untyped-def]
    """``hnsw:M:efC`` or ``ivf:nlist|auto:fp16|flat``, built by the product's :meth:`DenseIndex.build`."""
    from index.dense import DenseIndex

    kind, *rest = spec.split(":")
    if kind == "hnsw":
        m, efc = (int(x) for x in (rest + ["32", "80"])[:2])
        return DenseIndex.build(X, kind="hnsw", m=m, ef_construction=efc)
    if kind == "ivf":
        nl, storage = (rest + ["auto", "fp16"])[:2]
        return DenseIndex.build(X, kind="ivf", nlist=None if nl == "auto" else int(nl), storage=storage)
    raise SystemExit(f"unknown index spec {spec!r}: use hnsw:M:efC or ivf:nlist:fp16|flat")


def measure(spec: str, X: np.ndarray, Q: np.ndarray, truth: np.ndarray, knobs: dict[str, tuple[int, ...]]) -> list[dict[str, Any]]:
    import faiss

    from index.dense import DenseIndex

    t0 = time.perf_counter()
    built = build(spec, X)
    build_s = time.perf_counter() - t0
    R.log(f"{spec}: built in {build_s:.0f}s ({built.settings})")
    rows = []
    knob = "ef_search" if built.kind == "hnsw" else "nprobe"
    for value in knobs["ef" if built.kind == "hnsw" else "nprobe"]:
        index = DenseIndex(built._index, {**built.settings, knob: value})  # the loader's way of applying a knob
        faiss.omp_set_num_threads(1)
        lat, found = [], []
        for q in Q:
            t = time.perf_counter()
            ids, _ = index.search(q[None], 10)
            lat.append((time.perf_counter() - t) * 1000)
            found.append(ids[0])
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
        rows.append({"index": spec, "knob": knob, "value": value, "build_s": round(build_s, 3),
                     "recall_at_10": round(recall, 4), "p50_ms": round(percentile(lat, 50), 3), "p99_ms": round(percentile(lat, 99), 3)})
        R.log(f"{spec} {knob}={value}: recall@10 {recall:.3f}, p50 {rows[-1]['p50_ms']:.2f} ms")
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from index.embedding import SentenceTransformerEmbedder

    n = R.parse_size(args.size)
    pool, queries = R.load_pool(args.pool_limit)
    base = R.pool_vectors(pool, args.backend, cache=not args.pool_limit)
    X = R.synth_vectors(base, n, args.sigma, seed=n)
    qsel = [queries[i] for i in np.random.default_rng(11).choice(len(queries), min(args.queries, len(queries)), replace=False)]
    emb = SentenceTransformerEmbedder(backend=args.backend)
    Q = np.vstack([emb.encode([q], batch_size=1) for q in qsel]).astype(np.float32)
    exact = faiss.IndexFlatIP(X.shape[1])
    exact.add(X)
    _, truth = exact.search(Q, 10)
    del exact
    knobs = {"ef": tuple(int(x) for x in args.ef_search.split(",")), "nprobe": tuple(int(x) for x in args.nprobe.split(","))}
    rows = [r for spec in args.indexes.split(",") if spec for r in measure(spec, X, Q, truth, knobs)]

    return {"size": n, "queries": len(Q), "sigma": args.sigma, "backend": args.backend, "rows": rows,
            "machine": {"cpus": os.cpu_count(), "load_avg": [round(x, 1) for x in os.getloadavg()]}}


def markdown(res: dict[str, Any], command: str) -> str:
    lines = [f"Command: `{command}`  ", f"{res['size']:,} vectors, {res['queries']} real queries, one per call on one thread; "
             f"machine load average at the end {res['machine']['load_avg']} on {res['machine']['cpus']} CPUs.", "",
             "| index | build s | setting | recall@10 vs exact | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['index']} | {r['build_s']:.0f} | {r['knob']} {r['value']} | {r['recall_at_10']:.3f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="100k")
    ap.add_argument("--indexes", default="ivf:auto:fp16,hnsw:32:80", help="comma-separated hnsw:M:efC / ivf:nlist|auto:fp16|flat")
    ap.add_argument("--ef-search", default=",".join(map(str, EF)))
    ap.add_argument("--nprobe", default=",".join(map(str, NPROBE)))
    ap.add_argument("--queries", type=int, default=618)
    ap.add_argument("--sigma", type=float, default=R.CALIBRATED_SIGMA)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--pool-limit", type=int, default=None)
    ap.add_argument("--tiny", action="store_true", help="smoke run: 3k vectors from a 300-passage pool, 20 queries")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--readme", action="store_true", help="write the table into benchmarks/README.md (section ann)")
    args = ap.parse_args()
    if args.tiny:
        args.size, args.pool_limit, args.queries = "3k", 300, 20
    if args.backend is None:
        from index.defaults import DEFAULT_BACKEND

        args.backend = DEFAULT_BACKEND
    res = run(args)
    command = "python benchmarks/ann.py " + " ".join(sys.argv[1:])
    if args.readme:
        R.update_readme(markdown(res, command), "ann")
    print(json.dumps(res) if args.json else markdown(res, command))


if __name__ == "__main__":
    main()
