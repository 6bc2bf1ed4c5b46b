"""Index a corpus from scratch and time queries per mode (the figures quoted for issue 2).

    python benchmarks/index_and_query.py sample_corpus
    python benchmarks/index_and_query.py --tiny --json        # seconds: the sample corpus, 5 queries per mode
    python benchmarks/index_and_query.py ../shared/data/scifact/corpus.jsonl --queries ../shared/data/scifact/queries.jsonl

Indexing time covers ingest, chunking, embedding, both indexes and the atomic write; latency is
in-process ``search(query, k, mode)`` wall time per query on the library's search object
(:func:`open_engine`; query embedding included), after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stats import percentile  # noqa: E402

from index import build_index  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_QUERIES = [
    "why did Russia withdraw peacekeepers?",
    "Did Armenia attend the CSTO summit in Minsk?",
    "What did Pashinyan call a strategic mistake?",
    "Which court's statute did the Armenian parliament ratify?",
    "Where did US and Armenian troops hold exercises?",
    "How many Russian soldiers were deployed to Nagorno-Karabakh?",
    "What is the Zangezur corridor?",
    "Who said Russia has betrayed us?",
]


def open_engine(index_dir: Path):  # type: ignore[no-untyped-def]
    """The library's search object over ``index_dir`` (the one place this script enters it). It keeps
    no query vectors: every mode is timed on the same queries, each embedding its query anew."""
    from qa import Engine

    return Engine.open(index_dir, query_cache=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="files or folders to index (default with --tiny: sample_corpus)")
    ap.add_argument("--queries", help="BEIR queries.jsonl (default: questions about the sample corpus)")
    ap.add_argument("--n", type=int, default=None, help="queries per mode (default 100; 5 with --tiny)")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--tiny", action="store_true", help="smoke run: the sample corpus, 5 queries per mode")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()
    if not args.paths:
        if not args.tiny:
            ap.error("give the files or folders to index (or --tiny)")
        args.paths = [str(ROOT / "sample_corpus")]
    args.n = args.n or (5 if args.tiny else 100)

    queries = DEFAULT_QUERIES
    if args.queries:
        queries = [json.loads(line)["text"] for line in Path(args.queries).read_text().splitlines() if line.strip()]
    queries = (queries * (args.n // len(queries) + 1))[: args.n]

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = build_index(args.paths, Path(tmp) / "idx", show_progress=sys.stderr.isatty() and not args.json)
        total = time.perf_counter() - t0
        engine = open_engine(Path(tmp) / "idx")
        engine.warm_up()
        modes: dict[str, dict[str, float]] = {}
        for mode in ("bm25", "dense", "hybrid"):
            times = []
            for q in queries:
                t = time.perf_counter()
                engine.search(q, k=args.k, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
            modes[mode] = {"queries": len(times), "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
                           "mean_ms": statistics.mean(times)}
    indexing = {"articles": report.articles_total, "passages": report.passages_total, "seconds": total,
                "embed_seconds": report.embed_seconds, "embed_passages_per_s": report.passages_per_s,
                "overall_passages_per_s": report.passages_total / total}
    if args.json:
        print(json.dumps({"indexing": indexing, "modes": modes}))
        return
    print(f"indexed {report.articles_total} articles -> {report.passages_total} passages in {total:.1f}s "
          f"(embedding {report.embed_seconds:.1f}s = {report.passages_per_s:.1f} passages/s; "
          f"overall {indexing['overall_passages_per_s']:.1f} passages/s)")
    print("| mode | queries | p50 ms | p95 ms | mean ms |\n|---|---|---|---|---|")
    for mode, m in modes.items():
        print(f"| {mode} | {m['queries']} | {m['p50_ms']:.1f} | {m['p95_ms']:.1f} | {m['mean_ms']:.1f} |")


if __name__ == "__main__":
    main()
