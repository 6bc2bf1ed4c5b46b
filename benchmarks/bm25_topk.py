"""BM25 top-k: the compiled search against the NumPy formula over every row: same results, how
much faster.

    python benchmarks/bm25_topk.py --index W/idx-1M --queries W/queries.json   # run.py's 1M index and queries
    python benchmarks/bm25_topk.py --tiny --json                              # smoke run (CI)

``compiled`` is ``LexicalIndex.search`` (numba: kept per-posting impacts, a float64 accumulator,
a heap; forced at every size here, while the product uses it from ``COMPILED_MIN_ROWS`` rows); ``numpy`` is ``LexicalIndex.scores`` (NumPy ``bincount`` over every posting of the
query's lists, the reference the tests hold the compiled path to) and the same top-k cut. Both
run on one loaded index, interleaved query by query over ``--rounds`` rounds after one warm-up
pass, so load on a shared machine hits both alike. Every query's rows and scores must be
identical (ties included); the script fails otherwise. ``--tiny`` indexes SciFact's abstracts
when ``../shared`` is present (else the sample corpus), so the comparison is exercised, not timed.
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

lexical.COMPILED_MIN_ROWS = 0  # the compiled search at every size (small indexes default to NumPy)

SHARED = ROOT.parent / "shared" / "data"


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

    passages = [p for a in load_articles([ROOT / "sample_corpus"]) for p in chunk_article(a, ChunkSettings())]
    queries = ["why did Russia withdraw peacekeepers from Karabakh", "Armenia CSTO summit boycott Moscow",
               "International Criminal Court Putin arrest warrant Armenia"]
    return LexicalIndex.build([p.index_text(True) for p in passages]), queries, "sample corpus"


def numpy_top(lex: LexicalIndex, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference: every row's score in NumPy, then the positive ones cut to the top k."""
    s = lex.scores(query).astype(np.float64)
    cand = np.flatnonzero(s > 0)
    return LexicalIndex._top(cand, s[cand], k)


def compare(lex: LexicalIndex, queries: list[str], k: int, rounds: int) -> dict:
    paths = {"numpy": lambda q: numpy_top(lex, q, k), "compiled": lambda q: lex.search(q, k)}

    def run(name: str, q: str) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        t = time.perf_counter()
        out = paths[name](q)
        return time.perf_counter() - t, out

    times: dict[str, list[float]] = {"numpy": [], "compiled": []}
    identical = 0
    for q in queries:  # warm-up: page cache, compilation, the kept impacts
        run("numpy", q)
        run("compiled", q)
    for r in range(rounds):
        for i, q in enumerate(queries):
            order = ("numpy", "compiled") if (i + r) % 2 == 0 else ("compiled", "numpy")  # alternate who goes first
            got = {}
            for name in order:
                t, got[name] = run(name, q)
                times[name].append(t)
            a, b = got["numpy"], got["compiled"]
            identical += bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
    stats = {name: {"p50_ms": float(np.percentile(v, 50) * 1000), "p99_ms": float(np.percentile(v, 99) * 1000),
                    "mean_ms": float(np.mean(v) * 1000)} for name, v in times.items()}
    return {"k": k, "searches": len(queries) * rounds, "identical": identical, **stats,
            "speedup_p50": stats["numpy"]["p50_ms"] / stats["compiled"]["p50_ms"],
            "speedup_mean": stats["numpy"]["mean_ms"] / stats["compiled"]["mean_ms"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="an index directory (its BM25 part is loaded, memory-mapped)")
    ap.add_argument("--queries", type=Path, help="queries: a JSON list of strings or a BEIR queries.jsonl")
    ap.add_argument("--n", type=int, default=300, help="at most this many queries (default 300)")
    ap.add_argument("-k", default="10,100", help="comma list of k (default 10,100; hybrid reads 100)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="smoke run: SciFact (or the sample corpus), one round")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.tiny:
        lex, queries, what = tiny()
        args.rounds = 1
    else:
        if not args.index or not args.queries:
            ap.error("--index and --queries are required (or --tiny)")
        from index.store import IndexStore

        lex, what = IndexStore.load(args.index, mmap=True).lexical, str(args.index)
        queries = load_queries(args.queries)
    queries = queries[: args.n]
    rows = [compare(lex, queries, int(k), args.rounds) for k in args.k.split(",")]
    result = {"index": what, "passages": len(lex), "queries": len(queries), "rows": rows}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{what}: {len(lex):,} passages, {len(queries)} queries x {args.rounds} rounds (interleaved)\n")
        print("| k | identical | NumPy p50 / mean / p99 ms | compiled p50 / mean / p99 ms | speedup p50 / mean |")
        print("|---|---|---|---|---|")
        for r in rows:
            e, m = r["numpy"], r["compiled"]
            print(f"| {r['k']} | {r['identical']}/{r['searches']} | {e['p50_ms']:.1f} / {e['mean_ms']:.1f} / {e['p99_ms']:.1f} "
                  f"| {m['p50_ms']:.1f} / {m['mean_ms']:.1f} / {m['p99_ms']:.1f} | {r['speedup_p50']:.2f}x / {r['speedup_mean']:.2f}x |")
    if any(r["identical"] != r["searches"] for r in rows):
        sys.exit("the compiled search changed a result: see 'identical'")


if __name__ == "__main__":
    main()
