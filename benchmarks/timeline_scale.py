"""Latency of ``Engine.timeline`` over a large synthetic index (issue 26: a 10k-article index).

    python benchmarks/timeline_scale.py                       # 10,000 articles
    python benchmarks/timeline_scale.py --articles 2000 --json
    python benchmarks/timeline_scale.py --tiny --json         # CI: 100 articles, one timed call per topic

The index is made from the five sample articles (built with the real model into a temporary
folder first): copy ``j`` of an article has its publication date moved by ``j * 37 % 1100`` days,
every year written in it moved by ``j % 3`` and its countries and leaders renamed (copy 0 is the
original), so every copy's sentences are new text for the tagger and its relative dates resolve
differently. Copies are chunked with the index's own settings; a passage's vector is that of the
original passage at the same position plus noise (``benchmarks/run.py``'s calibrated sigma),
renormalised: embedding 50k+ passages would take an hour on a small machine and the timeline does
not depend on what the vectors say, only on how many rows the search scans. ``IndexStore.write``
builds BM25 and the dense index as ``qa index`` would.

Measured per topic: the first call of the process (tagger and model loading, for the first topic
only), then ``--repeat`` fresh calls (the engine's kept query vector, its kept sentence vectors and
the tagger's cached sentences dropped before each, so every call embeds and tags its articles anew),
p50 and max; the articles
read, the distinct sentences a fresh call tags (copies share the sentences their renaming leaves
alone: the cost follows this number), and the events found.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.chunking import chunk_article, split_sentences  # noqa: E402
from index.records import Article  # noqa: E402
from index.store import IndexStore  # noqa: E402
from qa import tagger  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.timeline import TIMELINE_K, candidate_sentences  # noqa: E402

TOPICS = ["Russia Armenia relations", "Georgia Turkey relations", "withdrawal of peacekeepers from Karabakh"]
#: A copy's names: (Armenia, Russia, Azerbaijan, Pashinyan, Putin) -> these, by copy number.
NAMES = [("Armenia", "Russia", "Azerbaijan", "Pashinyan", "Putin"),
         ("Georgia", "Turkey", "Abkhazia", "Garibashvili", "Erdogan"),
         ("Moldova", "Romania", "Transnistria", "Sandu", "Iohannis"),
         ("Serbia", "Hungary", "Kosovo", "Vucic", "Orban"),
         ("Estonia", "Finland", "Latvia", "Kallas", "Niinisto")]
SIGMA = 0.0146  # benchmarks/run.py CALIBRATED_SIGMA


def _shift_date(iso: str, days: int) -> str:
    if not iso:
        return ""
    day = _dt.date.fromisoformat(iso[:10]) + _dt.timedelta(days=days)
    return day.isoformat()


def synth_article(a: Article, copy: int) -> Article:
    """Copy ``copy`` of ``a`` (0: ``a`` itself): renamed, its years and publication date moved."""
    if copy == 0:
        return a
    names = NAMES[copy % len(NAMES)]
    text, title = a.text, a.title
    for old, new in zip(NAMES[0], names):
        text, title = text.replace(old, new), title.replace(old, new)
    shift = copy % 3
    if shift:
        text = re.sub(r"\b(19\d\d|20[0-4]\d)\b", lambda m: str(int(m.group(1)) + shift), text)
    return Article(doc_id=f"{a.doc_id}~{copy}", title=f"{title} ({copy})", text=text, url="",
                   date=_shift_date(a.date, copy * 37 % 1100), source=a.source, author=a.author)


def build(directory: Path, n_articles: int, sample: IndexStore) -> dict[str, Any]:
    """Write the synthetic index of ``n_articles`` at ``directory``."""
    rng = np.random.default_rng(26)
    settings = sample.settings
    originals = [sample.articles[d] for d in sorted(sample.articles)]
    vectors = {d: [np.asarray(sample.embeddings[row], dtype=np.float32) for row, _ in sample.live_rows_of(d)]
               for d in sample.articles}
    t0 = time.perf_counter()
    articles, passages, vecs = [], [], []
    for j in range(n_articles):
        original = originals[j % len(originals)]
        art = synth_article(original, j // len(originals))
        ps = chunk_article(art, settings.chunking, title_in_passage=settings.title_in_passage)
        base = vectors[original.doc_id]
        for i, p in enumerate(ps):
            v = np.asarray(base[min(i, len(base) - 1)], dtype=np.float32)
            if art is not original:
                v = v + np.float32(SIGMA) * rng.standard_normal(v.shape[0], dtype=np.float32)
            vecs.append(v / np.linalg.norm(v))
        articles.append(art)
        passages.extend(ps)
    synth_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = IndexStore.write(directory, settings, articles, passages, np.vstack(vecs))
    return {"articles": len(articles), "passages": len(passages), "synth_s": round(synth_s, 2),
            "write_s": round(time.perf_counter() - t0, 2), "dense": dict(store.dense.settings)}


def measure(directory: Path, topics: list[str], repeat: int) -> dict[str, Any]:
    engine = Engine.open(directory)
    rows = []
    first_s = None
    for topic in topics:
        t0 = time.perf_counter()
        tl = engine.timeline(topic)
        once = time.perf_counter() - t0
        first_s = once if first_s is None else first_s
        read = list({h.article.doc_id: h.article for h in engine.search(topic, k=TIMELINE_K)}.values())  # what it reads
        times = []
        for _ in range(repeat):
            engine.forget_queries([topic])
            engine.forget_sentences()  # its event sentences are embedded anew, as a new story's are
            tagger.forget([a.text[s:e] for a in read for s, e in split_sentences(a.text)])
            t0 = time.perf_counter()
            tl = engine.timeline(topic)
            times.append(time.perf_counter() - t0)
        tagged = {x.text for a in read for x in candidate_sentences(a)}  # what a fresh call sends to spaCy
        rows.append({"topic": topic, "articles_read": tl.articles, "sentences_tagged": len(tagged), "events": len(tl.events),
                     "multi_article_events": sum(1 for e in tl.events if e.articles > 1),
                     "first_s": round(once, 3), "p50_s": round(statistics.median(times), 3),
                     "max_s": round(max(times), 3)})
    return {"first_call_s": round(first_s or 0.0, 3), "topics": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5, help="fresh timed calls per topic")
    ap.add_argument("--keep", type=Path, help="write the synthetic index here and keep it (default: a temporary folder)")
    ap.add_argument("--tiny", action="store_true", help="100 articles, one timed call per topic (CI)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    n, repeat = (100, 1) if args.tiny else (args.articles, args.repeat)
    if n < 5:
        ap.error("--articles must be at least 5")
    with tempfile.TemporaryDirectory() as tmp:
        sample_dir = Path(tmp) / "sample"
        Engine(sample_dir).add_files(ROOT / "sample_corpus")
        directory = args.keep or Path(tmp) / "synthetic"
        built = build(directory, n, IndexStore.load(sample_dir))
        res = {"index": built, **measure(directory, TOPICS, repeat), "repeat": repeat}
    if args.json:
        print(json.dumps(res))
        return 0
    b = res["index"]
    print(f"synthetic index: {b['articles']:,} articles, {b['passages']:,} passages ({b['dense'].get('type', '?')}), "
          f"made in {b['synth_s']} s, written in {b['write_s']} s")
    print(f"first call of the process (loads the tagger and the model): {res['first_call_s']} s")
    print("| topic | articles read | distinct sentences tagged | events | by several | p50 s | max s |\n"
          "|---|---|---|---|---|---|---|")
    for r in res["topics"]:
        print(f"| {r['topic']} | {r['articles_read']} | {r['sentences_tagged']} | {r['events']} | {r['multi_article_events']} "
              f"| {r['p50_s']} | {r['max_s']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
