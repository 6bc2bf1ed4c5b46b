"""Index a corpus from scratch and time queries per mode (the figures quoted for issue 2).

    python benchmarks/index_and_query.py sample_corpus
    python benchmarks/index_and_query.py ../shared/data/scifact/corpus.jsonl --queries ../shared/data/scifact/queries.jsonl

Indexing time covers ingest, chunking, embedding, both indexes and the atomic write; latency is
in-process ``Searcher.search`` wall time per query (query embedding included), after one warm-up.
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

from index import build_index  # noqa: E402
from qa import Engine  # noqa: E402

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


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--queries", help="BEIR queries.jsonl (default: questions about the sample corpus)")
    ap.add_argument("--n", type=int, default=100, help="queries per mode")
    ap.add_argument("-k", type=int, default=10)
    args = ap.parse_args()

    queries = DEFAULT_QUERIES
    if args.queries:
        queries = [json.loads(line)["text"] for line in Path(args.queries).read_text().splitlines() if line.strip()]
    queries = (queries * (args.n // len(queries) + 1))[: args.n]

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = build_index(args.paths, Path(tmp) / "idx", show_progress=sys.stderr.isatty())
        total = time.perf_counter() - t0
        print(f"indexed {report.articles_total} articles -> {report.passages_total} passages in {total:.1f}s "
              f"(embedding {report.embed_seconds:.1f}s = {report.passages_per_s:.1f} passages/s; "
              f"overall {report.passages_total / total:.1f} passages/s)")
        engine = Engine.open(Path(tmp) / "idx")
        engine.warm_up()
        print("| mode | queries | p50 ms | p95 ms | mean ms |\n|---|---|---|---|---|")
        for mode in ("bm25", "dense", "hybrid"):
            times = []
            for q in queries:
                t = time.perf_counter()
                engine.search(q, k=args.k, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
            print(f"| {mode} | {len(times)} | {percentile(times, 50):.1f} | {percentile(times, 95):.1f} | {statistics.mean(times):.1f} |")


if __name__ == "__main__":
    main()
