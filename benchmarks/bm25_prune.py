"""BM25 top-k with MaxScore pruning against scoring every posting: same results, how much faster.

    python benchmarks/bm25_prune.py --index W/idx-1M --queries W/queries.json   # run.py's 1M index and queries
    python benchmarks/bm25_prune.py --tiny --json                              # smoke run (CI)

Both paths are ``LexicalIndex.search`` on one loaded index (``index.lexical.PRUNE_MIN_POSTINGS``
switches between them: 0 prunes every multi-term query, a huge value never prunes), interleaved
query by query over ``--rounds`` rounds after one warm-up pass, so load on a shared machine hits
both alike. Every query's rows and scores must be identical (ties included); the script fails
otherwise. ``--tiny`` indexes SciFact's abstracts when ``../shared`` is present (else the sample
corpus) and forces pruning on every query, so the comparison is exercised, not timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import index.lexical as lexical  # noqa: E402
from index.lexical import LexicalIndex  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
NEVER = 10**18


def load_queries(path: Path) -> list[str]:
    """A JSON list of strings (run.py's ``queries.json``) or a BEIR ``queries.jsonl``."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [str(q) for q in json.loads(text)]
    return [json.loads(line)["text"] for line in text.splitlines() if line.strip()]


def tiny() -> tuple[LexicalIndex, list[str], str]:
    scifact = SHARED / "scifact"
    if (scifact / "corpus.jsonl").is_file():
        docs = [json.loads(line) for line in (scifact / "corpus.jsonl").open(encoding="utf-8")]
        texts = [f"{d.get('title', '')}\n{d['text']}" for d in docs]
        return LexicalIndex.build(texts), load_queries(scifact / "queries.jsonl")[:60], "scifact abstracts"
    from index.chunking import ChunkSettings, chunk_article
    from index.ingest import load_articles
    from index.store import passage_index_text

    passages = [p for a in load_articles([ROOT / "sample_corpus"]) for p in chunk_article(a, ChunkSettings())]
    queries = ["why did Russia withdraw peacekeepers from Karabakh", "Armenia CSTO summit boycott Moscow",
               "International Criminal Court Putin arrest warrant Armenia"]
    return LexicalIndex.build([passage_index_text(p, True) for p in passages]), queries, "sample corpus"


def compare(lex: LexicalIndex, queries: list[str], k: int, rounds: int, prune_min: int) -> dict:
    def run(threshold: int, q: str) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        lexical.PRUNE_MIN_POSTINGS = threshold
        t = time.perf_counter()
        out = lex.search(q, k)
        return time.perf_counter() - t, out

    times: dict[str, list[float]] = {"exhaustive": [], "maxscore": []}
    identical = 0
    for q in queries:  # warm-up: page cache and the per-term bound cache
        run(NEVER, q)
        run(prune_min, q)
    for r in range(rounds):
        for i, q in enumerate(queries):
            if (i + r) % 2 == 0:  # alternate which path goes first
                ta, a = run(NEVER, q)
                tb, b = run(prune_min, q)
            else:
                tb, b = run(prune_min, q)
                ta, a = run(NEVER, q)
            times["exhaustive"].append(ta)
            times["maxscore"].append(tb)
            identical += bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
    lexical.PRUNE_MIN_POSTINGS = prune_min
    stats = {name: {"p50_ms": float(np.percentile(v, 50) * 1000), "p99_ms": float(np.percentile(v, 99) * 1000),
                    "mean_ms": float(np.mean(v) * 1000)} for name, v in times.items()}
    return {"k": k, "searches": len(queries) * rounds, "identical": identical, **stats,
            "speedup_p50": stats["exhaustive"]["p50_ms"] / stats["maxscore"]["p50_ms"],
            "speedup_mean": stats["exhaustive"]["mean_ms"] / stats["maxscore"]["mean_ms"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="an index directory (its BM25 part is loaded, memory-mapped)")
    ap.add_argument("--queries", type=Path, help="queries: a JSON list of strings or a BEIR queries.jsonl")
    ap.add_argument("--n", type=int, default=300, help="at most this many queries (default 300)")
    ap.add_argument("-k", default="10,100", help="comma list of k (default 10,100; hybrid reads 100)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="smoke run: SciFact (or the sample corpus), pruning forced")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    prune_min = lexical.PRUNE_MIN_POSTINGS
    if args.tiny:
        lex, queries, what = tiny()
        prune_min, args.rounds = 0, 1
    else:
        if not args.index or not args.queries:
            ap.error("--index and --queries are required (or --tiny)")
        from index.store import IndexStore

        lex, what = IndexStore.load(args.index, mmap=True).lexical, str(args.index)
        queries = load_queries(args.queries)
    queries = queries[: args.n]
    rows = [compare(lex, queries, int(k), args.rounds, prune_min) for k in args.k.split(",")]
    result = {"index": what, "passages": len(lex), "queries": len(queries), "prune_min_postings": prune_min, "rows": rows}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{what}: {len(lex):,} passages, {len(queries)} queries x {args.rounds} rounds (interleaved)\n")
        print("| k | identical | exhaustive p50 / mean / p99 ms | MaxScore p50 / mean / p99 ms | speedup p50 / mean |")
        print("|---|---|---|---|---|")
        for r in rows:
            e, m = r["exhaustive"], r["maxscore"]
            print(f"| {r['k']} | {r['identical']}/{r['searches']} | {e['p50_ms']:.1f} / {e['mean_ms']:.1f} / {e['p99_ms']:.1f} "
                  f"| {m['p50_ms']:.1f} / {m['mean_ms']:.1f} / {m['p99_ms']:.1f} | {r['speedup_p50']:.2f}x / {r['speedup_mean']:.2f}x |")
    if any(r["identical"] != r["searches"] for r in rows):
        sys.exit("MaxScore changed a result: see 'identical'")


if __name__ == "__main__":
    main()
