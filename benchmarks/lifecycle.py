"""Index lifecycle costs: a small update on a big index, and BM25 query latency, each against a
baseline measured in the same run.

    python benchmarks/lifecycle.py --update-size 1m --bm25-size 100k --json
    python benchmarks/lifecycle.py --tiny        # smoke run (the test suite): 2k passages each, 10 queries

* **Update** (``--update-size``): an index of that many passages is written with
  ``IndexStore.write`` (synthetic records and vectors made as ``benchmarks/run.py`` makes them;
  HNSW from 100k on). That full write is the baseline: before index format 2 every update
  rewrote every file and rebuilt the dense index. Then, timed on the same index: adding 10 new
  articles, replacing 10 (edited text), deleting 10 (``add_articles`` / ``delete_articles``,
  real embedding model, lock, load, new generation, fsync and swap included).
* **BM25 latency** (``--bm25-size``): the query-time BM25 over term counts (format 2) against
  the precomputed bm25s score matrix searched as before (postings of the query terms, summed),
  both over the same tokens, interleaved on the same queries; the scores must agree.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  (benchmarks/run.py: corpus and vector synthesis)
from benchmarks.stats import percentile  # noqa: E402


def _old_bm25_search(retriever, vocab: dict[str, int], query: str, k: int, settings) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """The pre-format-2 search: precomputed bm25s scores of the query terms' postings, summed."""
    from index.lexical import tokenize

    ids = [vocab[t] for t in tokenize(query, settings) if t in vocab]
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    sc = retriever.scores
    indptr, indices, data = sc["indptr"], sc["indices"], sc["data"]
    rows = np.concatenate([indices[indptr[i] : indptr[i + 1]] for i in ids])
    vals = np.concatenate([data[indptr[i] : indptr[i + 1]] for i in ids])
    n = int(sc["num_docs"])
    if len(rows) * 16 > n:
        s = np.bincount(rows, weights=vals, minlength=n).astype(np.float32)
        cand = np.flatnonzero(s > 0)
        cs = s[cand]
    else:
        cand, inv = np.unique(rows, return_inverse=True)
        cs = np.bincount(inv, weights=vals).astype(np.float32)
    k = min(k, len(cand))
    part = np.argpartition(-cs, k - 1)[:k] if k < len(cand) else np.arange(len(cand))
    order = part[np.lexsort((cand[part], -cs[part]))]
    return cand[order].astype(np.int64), cs[order]


def bm25_latency(size: int, pool, queries: list[str], rounds: int = 3) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import logging

    import bm25s

    from index.lexical import BM25Settings, LexicalIndex, tokenize

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    settings = BM25Settings()
    _, passages = bench.synth_records(pool, size)
    texts = [p.index_text() for p in passages]
    t0 = time.perf_counter()
    ours = LexicalIndex.build(texts, settings)
    build_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method)
    ref.index([tokenize(t, settings) for t in texts], show_progress=False)
    build_ref = time.perf_counter() - t0
    vocab = ref.vocab_dict
    worst = 0.0
    for q in queries[:50]:
        toks = [t for t in tokenize(q, settings) if t in vocab]
        if toks:
            worst = max(worst, float(np.max(np.abs(ours.scores(q) - np.asarray(ref.get_scores(toks))))))
    lat: dict[str, list[float]] = {"format2": [], "bm25s": []}
    for q in queries[:10]:  # warm up
        ours.search(q, 100)
        _old_bm25_search(ref, vocab, q, 100, settings)
    for r in range(rounds):
        for q in queries:
            for who in (("format2", "bm25s") if r % 2 == 0 else ("bm25s", "format2")):
                t = time.perf_counter()
                if who == "format2":
                    ours.search(q, 100)
                else:
                    _old_bm25_search(ref, vocab, q, 100, settings)
                lat[who].append((time.perf_counter() - t) * 1000)
    out = {"passages": size, "queries": len(queries), "rounds": rounds, "max_abs_score_diff": worst,
           "build_s": {"format2_term_counts": build_ours, "bm25s": build_ref}}
    for who, v in lat.items():
        out[who] = {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95), "p99_ms": percentile(v, 99), "mean_ms": float(np.mean(v))}
    out["ratio_p50"] = out["format2"]["p50_ms"] / out["bm25s"]["p50_ms"]
    out["ratio_mean"] = out["format2"]["mean_ms"] / out["bm25s"]["mean_ms"]
    return out


def update_cost(size: int, pool, workdir: Path, backend: str, reuse: bool = False,  # type: ignore[no-untyped-def]
                sigma: float = bench.CALIBRATED_SIGMA) -> dict[str, Any]:
    from index.builder import add_articles, delete_articles
    from index.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder
    from index.records import Article
    from index.settings import IndexSettings
    from index.store import IndexStore

    emb = SentenceTransformerEmbedder(backend=backend)
    rng = np.random.default_rng(5)
    sample = [pool[i] for i in rng.choice(len(pool), min(300, len(pool)), replace=False)]
    base = emb.encode([f"{t}\n{x}" if t else x for _, t, x in sample])
    articles, passages = bench.synth_records(pool, size)
    vecs = bench.synth_vectors(np.asarray(base, np.float32), size, sigma, seed=size)
    settings = IndexSettings(model=DEFAULT_MODEL, dim=vecs.shape[1], embedding_backend=emb.backend)
    directory = workdir / f"idx-{bench.size_label(size)}"
    out: dict[str, Any] = {"passages": size}
    if reuse and directory.is_dir():  # an index left by an earlier run (--workdir): time the updates only
        bench.log(f"{bench.size_label(size)}: reusing {directory} (no baseline in this run)")
        full_s = float("nan")
        store = IndexStore.load(directory, mmap=True)
        ups = [d for d in store.articles if d.startswith("update:")]
        if ups:
            delete_articles(ups, directory)
        add_articles(articles[:20], directory, embedder=emb)  # back to the original state, plus tombstones
        dense = dict(IndexStore.load(directory, mmap=True).dense.settings)
    else:
        bench.log(f"{bench.size_label(size)}: full write (baseline)")
        t0 = time.perf_counter()
        store = IndexStore.write(directory, settings, articles, passages, vecs)
        full_s = time.perf_counter() - t0
        dense = dict(store.dense.settings)
    del store, vecs, passages
    out.update({"dense": dense, "full_write_s": full_s, "disk_mb": bench.dir_size_mb(directory)})
    bench.log(f"full write {full_s:.1f}s ({dense['type']}); timing updates")
    picks = [pool[i] for i in rng.choice(len(pool), 10, replace=False)]
    new = [Article(doc_id=f"update:{j}", title=t, text=x, source="bench") for j, (_, t, x) in enumerate(picks)]
    t0 = time.perf_counter()
    rep = add_articles(new, directory, embedder=emb)
    out["add_10_s"] = time.perf_counter() - t0
    out["add_10_report"] = rep.summary()
    edited = [Article(doc_id=a.doc_id, title=a.title + " (corrected)", text=a.text + " Corrected later.", source=a.source)
              for a in articles[:10]]
    t0 = time.perf_counter()
    rep = add_articles(edited, directory, embedder=emb)
    out["replace_10_s"] = time.perf_counter() - t0
    out["replace_10_report"] = rep.summary()
    t0 = time.perf_counter()
    rep = delete_articles([a.doc_id for a in articles[10:20]], directory)
    out["delete_10_s"] = time.perf_counter() - t0
    out["delete_10_report"] = rep.summary()
    t0 = time.perf_counter()
    store = IndexStore.load(directory, mmap=True)
    out["load_after_s"] = time.perf_counter() - t0
    out["segments_after"] = [s["rows"] for s in store.manifest["segments"]]
    out["speedup_add_vs_full_write"] = full_s / out["add_10_s"]
    bench.log(f"add 10: {out['add_10_s']:.1f}s, replace 10: {out['replace_10_s']:.1f}s, delete 10: {out['delete_10_s']:.1f}s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update-size", default="1m", help="passages in the index that is updated (0: skip)")
    ap.add_argument("--bm25-size", default="100k", help="passages for the BM25 latency comparison (0: skip)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="update the index an earlier run left in --workdir instead of writing one")
    ap.add_argument("--sigma", type=float, default=bench.CALIBRATED_SIGMA, help="per-dimension noise of vector copies (run.py)")
    ap.add_argument("--tiny", action="store_true", help="smoke run: 2k passages for each part from a 300-passage pool, 10 queries")
    args = ap.parse_args()
    if args.tiny:
        args.update_size, args.bm25_size, args.queries = "2k", "2k", 10
    from index.embedding import default_backend, resolve_backend

    backend = resolve_backend(args.backend) if args.backend else default_backend()
    pool, queries = bench.load_pool(300 if args.tiny else None)
    qsel = [queries[i] for i in np.random.default_rng(11).choice(len(queries), min(args.queries, len(queries)), replace=False)]
    res: dict[str, Any] = {"machine": {"cpus": __import__("os").cpu_count(), "load_avg": __import__("os").getloadavg()}}
    work = Path(args.workdir or tempfile.mkdtemp(prefix="qa-lifecycle-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if bench.parse_size(args.bm25_size):
            bench.log(f"BM25 latency at {args.bm25_size}")
            res["bm25"] = bm25_latency(bench.parse_size(args.bm25_size), pool, qsel)
        if bench.parse_size(args.update_size):
            res["update"] = update_cost(bench.parse_size(args.update_size), pool, work, backend, reuse=args.reuse, sigma=args.sigma)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res, indent=None if args.json else 2, default=float))


if __name__ == "__main__":
    main()
