"""Story timelines measured against the hand-read event table (eval/timeline_events.jsonl).

    python benchmarks/timeline.py                      # sample corpus, both splits, latency
    python benchmarks/timeline.py --index qa-index --json
    python benchmarks/timeline.py --tiny --json        # CI: one timed run

Indexes the sample corpus into a temporary folder (or reads ``--index``, which must hold the five
sample articles), then reports per split (``tune``, ``heldout``; :mod:`qa.timeline_eval`):

- date accuracy at the stated precision, over the whole corpus's timeline (every article);
- recall of the table's events in ``Engine.timeline(TOPIC)`` (default "Russia Armenia relations");
- merge accuracy (one entry per event, every report in it, no other event's), false merges;
- ``guessed``: table sentences whose date cannot be known from the text that got one anyway.

Latency of ``Engine.timeline(TOPIC)``: the first call (tagger and model loading included), then
``--repeat`` timed calls, each as a new topic over unseen articles (the engine's kept query vector
and the tagger's cached sentences are dropped before each).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.chunking import split_sentences  # noqa: E402
from qa import tagger  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.timeline import build_timeline  # noqa: E402
from qa.timeline_eval import SPLITS, TABLE, load_table, score_splits  # noqa: E402

TOPIC = "Russia Armenia relations"


def measure(index: Path, topic: str = TOPIC, repeat: int = 5, table: Path = TABLE) -> dict[str, Any]:
    engine = Engine.open(index)
    rows = load_table(table)
    store = engine.store
    texts = {d: store.articles[d].text for d in store.articles}
    t0 = time.perf_counter()
    topic_tl = engine.timeline(topic)
    first_s = time.perf_counter() - t0
    corpus_tl = build_timeline("corpus", [store.articles[d] for d in sorted(store.articles)],
                               embed=engine.sentence_vectors)  # as Engine.timeline embeds
    scores = score_splits(rows, texts, corpus_tl.events, topic_tl.events)
    sentences = [a.text[s:e] for a in (store.articles[d] for d in store.articles) for s, e in split_sentences(a.text)]
    times = []
    for _ in range(repeat):
        engine.forget_queries([topic])
        engine.forget_sentences()  # a fresh call embeds its sentences, as a new story's would be
        tagger.forget(sentences)
        t0 = time.perf_counter()
        engine.timeline(topic)
        times.append(time.perf_counter() - t0)
    return {
        "index": str(index), "topic": topic, "articles": len(store.articles), "topic_articles": topic_tl.articles,
        "topic_events": len(topic_tl.events), "corpus_events": len(corpus_tl.events),
        "multi_article_events": sum(1 for e in corpus_tl.events if e.articles > 1),
        "splits": scores,
        "latency": {"first_s": round(first_s, 3), "repeat": repeat, "p50_s": round(statistics.median(times), 3),
                    "max_s": round(max(times), 3)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, help="an index of the sample corpus (default: build one in a temporary folder)")
    ap.add_argument("--topic", default=TOPIC)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls after the first")
    ap.add_argument("--table", type=Path, default=TABLE)
    ap.add_argument("--tiny", action="store_true", help="one timed call (CI)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    repeat = 1 if args.tiny else args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index
        if index is None:
            index = Path(tmp) / "index"
            Engine(index).add_files(ROOT / "sample_corpus")
        res = measure(index, args.topic, repeat, args.table)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"timeline of {res['topic']!r}: {res['topic_events']} events from {res['topic_articles']} of "
          f"{res['articles']} articles ({res['multi_article_events']} corpus events reported by several articles)")
    for split in SPLITS:
        s = res["splits"][split]
        print(f"  {split:8} date accuracy {s['date_accuracy']} ({s['right_reports']}/{s['covered_reports']} dated reports; "
              f"{s['right_reports']}/{s['resolvable_reports']} of all), recall {s['recall']} of {s['event_rows']} events, "
              f"merge accuracy {s['merge_accuracy']} of {s['merge_rows']}, false merges {len(s['false_merges'])}, "
              f"guessed {s['guessed']}")
    lat = res["latency"]
    print(f"  latency: first {lat['first_s']} s, then p50 {lat['p50_s']} s, max {lat['max_s']} s over {lat['repeat']} fresh calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
