"""Passage (document) reranking with the reader on the BEIR collections (issue 24): does it pay?

    python benchmarks/passage_rerank.py                                   # scifact, cranfield, vaswani; top 20
    python benchmarks/passage_rerank.py --datasets scifact --depth 20 --limit 100
    python benchmarks/passage_rerank.py --texts passage --datasets cranfield,vaswani
    python benchmarks/passage_rerank.py --tiny --json                     # CI smoke run (5 cranfield queries)

Retrieval is exactly ``qa eval``'s hybrid: the collection's cached index
(``qa.evaluate.prepare_index``: the product's chunking, embedder, BM25 and a new index's fusion),
each retriever's candidates from ``qa.evaluate.retrieve``, fused by the engine's ``Fusion.rank``
and cut to documents by their best passage (``qa.evaluate.to_ids``; qa eval scores these
collections at document level). The baseline row is that run, the same numbers ``qa eval
--modes hybrid`` prints.

The reader (``qa.reader.default_reader()``, ONNX int8, one pair per call, at most 96 word pieces)
then reads, for each of the top ``--depth`` documents, the passage that put the document there,
as one of two texts (``--texts``):

- ``passage``: the passage as it is indexed (headline line + text), cut at the reader's 96 word
  pieces (question included): one pair per document;
- ``sentences``: the headline and each sentence of the passage (``index.chunking.split_sentences``)
  read on its own; the document scores the maximum: one pair per sentence.

Scores are probabilities (``qa.rerank.rerank_scores``). Systems, for each text:

- ``reader``: the top ``--depth`` ordered by the reader alone (ties: hybrid order);
- ``rrf``: reciprocal rank fusion (k=60, equal weights) of the hybrid order and the reader's order
  of the top ``--depth``: nothing fitted, every query scored;
- ``fitted``: weighted RRF, the reader's share ``a`` chosen by nDCG@10 on the *odd* query ids
  (the training half) and scored on the *even* ones only, against hybrid on the same even half.

Documents below ``--depth`` keep their hybrid order after the reranked head, so recall@depth (and
anything deeper) is hybrid's by construction. Metrics from ranx through ``qa.metrics``; ``p`` is
``qa.metrics.compare``'s two-sided paired t-test on nDCG@10 against hybrid (what ``qa eval``
reports), ``+/-`` the queries improved / hurt. Reader time is the wall time of
``rerank_scores`` per query (the model warmed first), with the pairs it read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared")) / "data"
DATASETS = ("scifact", "cranfield", "vaswani")
TEXTS = ("passage", "sentences")
RRF_K = 60
SHARES = tuple(round(0.1 * i, 1) for i in range(11))  # the reader's share in the fitted weighted RRF
TINY_DATASET, TINY_QUERIES, TINY_DEPTH = "cranfield", 5, 10


def log(msg: str) -> None:
    print(f"[passage_rerank] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ pure functions (unit tested)
def rrf_orders(orders: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: int = RRF_K) -> list[str]:
    """The items of ``orders`` ranked by weighted reciprocal rank fusion, ``sum_i w_i / (k + rank_i)``
    (ranks from 1; an item missing from an order gets nothing from it). Ties keep the order in which
    the items first appear (the first order's first), so with weights (1, 0) the result is the
    first order."""
    weights = [1.0] * len(orders) if weights is None else list(weights)
    if len(weights) != len(orders):
        raise ValueError("one weight per order")
    score: dict[str, float] = {}
    for order, w in zip(orders, weights):
        for rank, item in enumerate(order, start=1):
            score[item] = score.get(item, 0.0) + w / (k + rank)
    return sorted(score, key=lambda item: -score[item])  # stable: ties keep first appearance (dict order)


def by_score(ids: Sequence[str], scores: Sequence[float]) -> list[str]:
    """``ids`` ordered by ``scores``, best first; ties keep the given (hybrid) order."""
    if len(ids) != len(scores):
        raise ValueError("one score per id")
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-float(scores[i]), i))]


def reranked_run(head: Sequence[str], tail: Sequence[str]) -> dict[str, float]:
    """A ranx run of ``head`` (reranked) then ``tail`` (hybrid order): strictly decreasing scores."""
    order = list(dict.fromkeys([*head, *tail]))
    return {d: float(len(order) - i) for i, d in enumerate(order)}


def split_queries(qids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(training, held-out): odd query ids train, even ones are held out; ids that are not integers
    split by position (odd positions, counting from 1, train)."""
    try:
        parity = [int(q) % 2 for q in qids]
    except ValueError:
        parity = [(i + 1) % 2 for i in range(len(qids))]
    return [q for q, p in zip(qids, parity) if p == 1], [q for q, p in zip(qids, parity) if p == 0]


def sentence_units(title: str, text: str) -> list[str]:
    """What the reader reads in ``sentences`` mode: the headline (if any), then each sentence."""
    from index.chunking import split_sentences

    units = [title.strip()] if title.strip() else []
    units += [text[s:e] for s, e in split_sentences(text)]
    return units or [text]


# ------------------------------------------------------------------ retrieval (qa eval's)
@dataclass
class Query:
    qid: str
    text: str
    ranked: list[str]  # every document qa eval's hybrid run holds, best first (up to MAX_K)
    rows: list[int]  # the passage row that placed each of the first ``depth`` documents


@dataclass
class Prepared:
    name: str
    qrels: dict[str, dict[str, int]]
    queries: list[Query]
    passages: list[Any]
    documents: int
    retrieve_s: float
    index_s: float
    title_in_passage: bool


def load(name: str, tiny: bool, limit: int | None, depth: int) -> Prepared:
    from qa.datasets import load_beir
    from qa.evaluate import DEFAULT_DEPTH, runs_for, prepare_index, retrieve, to_ids
    from qa.fusion import Mode

    path = SHARED / name
    ds = load_beir(path)
    if tiny:  # ranking.py's tiny collection (same corpus, same cache): the first 30 queries' relevant docs + 100 others
        small = {q: {d: g for d, g in docs.items() if g > 0} for q, docs in ds.qrels.items()}
        small = {q: docs for q, docs in small.items() if docs and q in ds.queries}
        small = dict(list(small.items())[:30])
        keep = {d for docs in small.values() for d in docs} | {a.doc_id for a in ds.corpus[:100]}
        corpus = [a for a in ds.corpus if a.doc_id in keep]
        ds = replace(ds, corpus=corpus, corpus_hash=f"{ds.corpus_hash}-tiny{len(corpus)}")
    # what qa eval scores: the judged queries with a relevant document
    qrels = {q: dict(docs) for q, docs in ds.qrels.items() if any(r > 0 for r in docs.values())}
    qids = list(qrels)[: TINY_QUERIES if tiny else limit]
    qrels = {q: qrels[q] for q in qids}
    t0 = time.perf_counter()
    retr = prepare_index(ds, need_dense=True)
    index_s = time.perf_counter() - t0
    fusion = retr.engine.fusion
    cand = max(DEFAULT_DEPTH, fusion.depth)
    t0 = time.perf_counter()
    rankings = retrieve(retr, {q: ds.queries[q] for q in qids}, [Mode.HYBRID], cand)
    retrieve_s = time.perf_counter() - t0
    reference = runs_for(rankings, [Mode.HYBRID], fusion, qids, retr.passages, True, DEFAULT_DEPTH, cand)["hybrid"]
    queries = []
    for q in qids:
        ranking = fusion.rank(rankings["dense"][q], rankings["bm25"][q], cand)
        run = to_ids(ranking, retr.passages, True, DEFAULT_DEPTH)
        assert run == reference[q], "the hybrid run is not qa eval's"
        rows: dict[str, int] = {}
        for row, _ in ranking:  # the first (best) passage of each document, as to_ids keeps it
            rows.setdefault(retr.passages[row].doc_id, row)
            if len(rows) >= depth:
                break
        ranked = list(run)
        queries.append(Query(q, ds.queries[q], ranked, [rows[d] for d in ranked[:depth]]))
    title_in_passage = bool(retr.engine.store.settings.title_in_passage)
    return Prepared(ds.name, qrels, queries, retr.passages, len(ds.corpus), retrieve_s, index_s, title_in_passage)


# ------------------------------------------------------------------ reading
@dataclass
class Read:
    scores: dict[str, list[float]]  # qid -> the reader's probability of each of the top ``depth`` documents
    seconds: list[float]  # per query
    pairs: list[int]  # per query


def read(p: Prepared, reader: Any, text: str) -> Read:
    from qa.rerank import rerank_scores

    out = Read({}, [], [])
    for i, q in enumerate(p.queries):
        if text == "passage":
            units = [[p.passages[r].index_text(p.title_in_passage)] for r in q.rows]
        else:
            units = [sentence_units(p.passages[r].title if p.title_in_passage else "", p.passages[r].text) for r in q.rows]
        flat = [u for us in units for u in us]
        t0 = time.perf_counter()
        probs = rerank_scores(reader, q.text, flat)  # truncation to 96 word pieces: the reader's tokenizer
        out.seconds.append(time.perf_counter() - t0)
        out.pairs.append(len(flat))
        scores, at = [], 0
        for us in units:
            scores.append(float(np.max(probs[at:at + len(us)])))
            at += len(us)
        out.scores[q.qid] = scores
        if (i + 1) % 50 == 0:
            log(f"{p.name} {text}: {i + 1}/{len(p.queries)} queries read, {np.mean(out.seconds) * 1000:.0f} ms/query")
    return out


# ------------------------------------------------------------------ systems and scores
def fit_share(p: Prepared, hyb: Mapping[str, list[str]], rdr: Mapping[str, list[str]], train: Sequence[str],
              depth: int) -> tuple[float, list[dict[str, float]]]:
    """The reader's share in weighted RRF with the best mean nDCG@10 on ``train`` (ties: the smaller share)."""
    from qa import metrics as M

    qrels = {q: p.qrels[q] for q in train}
    qs = by_q(p)
    trials = []
    for a in SHARES:
        run = {q: reranked_run(rrf_orders([hyb[q], rdr[q]], [1 - a, a]), qs[q].ranked[depth:]) for q in train}
        trials.append({"share": a, "ndcg@10": round(M.mean_scores(qrels, run, ["ndcg@10"])["ndcg@10"], 4)})
    best = max(trials, key=lambda t: (t["ndcg@10"], -t["share"]))
    return best["share"], trials


def by_q(p: Prepared) -> dict[str, Query]:
    return {q.qid: q for q in p.queries}


def evaluate_dataset(p: Prepared, reader: Any, texts: Sequence[str], depth: int, metrics: list[str]) -> dict[str, Any]:
    qs = by_q(p)
    hybrid_run = {q.qid: reranked_run(q.ranked, []) for q in p.queries}
    hyb = {q.qid: q.ranked[:depth] for q in p.queries}
    runs: dict[str, dict[str, dict[str, float]]] = {"hybrid": hybrid_run}
    held_runs: dict[str, dict[str, dict[str, float]]] = {"hybrid (held-out half)": hybrid_run}
    train, held = split_queries([q.qid for q in p.queries])
    reading: dict[str, Any] = {}
    fitted: dict[str, Any] = {}
    for text in texts:
        r = read(p, reader, text)
        reading[text] = {"ms_per_query": round(1000 * float(np.mean(r.seconds)), 1),
                         "ms_per_query_p50": round(1000 * float(np.median(r.seconds)), 1),
                         "pairs_per_query": round(float(np.mean(r.pairs)), 1),
                         "ms_per_pair": round(1000 * float(np.sum(r.seconds)) / max(1, int(np.sum(r.pairs))), 2)}
        rdr = {q: by_score(hyb[q], r.scores[q]) for q in hyb}
        runs[f"reader ({text})"] = {q: reranked_run(rdr[q], qs[q].ranked[depth:]) for q in hyb}
        runs[f"rrf ({text})"] = {q: reranked_run(rrf_orders([hyb[q], rdr[q]]), qs[q].ranked[depth:]) for q in hyb}
        if train and held:
            share, trials = fit_share(p, hyb, rdr, train, depth)
            fitted[text] = {"share": share, "trials": trials}
            held_runs[f"fitted ({text})"] = {
                q: reranked_run(rrf_orders([hyb[q], rdr[q]], [1 - share, share]), qs[q].ranked[depth:]) for q in held}
    systems = _scored(p.qrels, runs, metrics, "hybrid", "all", reading)
    if train and held:
        systems += _scored({q: p.qrels[q] for q in held}, held_runs, metrics, "hybrid (held-out half)", "held-out", reading)
    n = len(p.queries)
    return {"name": p.name, "queries": n, "documents": p.documents, "passages": len(p.passages), "depth": depth,
            "texts": list(texts), "metrics": metrics, "train_queries": len(train), "heldout_queries": len(held),
            "retrieve_ms_per_query": round(1000 * p.retrieve_s / max(n, 1), 1), "index_s": round(p.index_s, 1),
            "reader": reading, "fitted": fitted, "systems": systems}


def _scored(qrels: Mapping[str, Mapping[str, int]], runs: Mapping[str, Mapping[str, Mapping[str, float]]],
            metrics: list[str], baseline: str, split: str, reading: Mapping[str, Any]) -> list[dict[str, Any]]:
    from qa import metrics as M

    means, comps = M.compare(qrels, runs, metrics, baseline)
    out = []
    for name in runs:
        c = comps.get(name, {}).get(metrics[0])
        text = next((t for t in TEXTS if name.endswith(f"({t})")), None)
        out.append({"name": name, "split": split, "queries": len(qrels),
                    "metrics": {m: round(v, 4) for m, v in means[name].items()},
                    "p_value": None if c is None else round(c.p_value, 6),
                    "improved": None if c is None else c.improved, "hurt": None if c is None else c.hurt,
                    "comparisons": {m: {"p_value": round(v.p_value, 6), "improved": v.improved, "hurt": v.hurt}
                                    for m, v in comps.get(name, {}).items()},
                    "reader_ms_per_query": None if text is None else reading[text]["ms_per_query"]})
    return out


# ------------------------------------------------------------------ output
def markdown(res: dict[str, Any], command: str) -> str:
    depth = res["depth"]
    lines = [f"Command: `{command}`  ",
             f"Reader: `{res['reader']}`; top {depth} hybrid documents reread; p: paired two-sided t-test on nDCG@10 "
             f"against hybrid on the same queries (ranx, `qa.metrics.compare`); +/-: queries improved/hurt on nDCG@10.",
             "", ]
    metrics = res["metrics"]
    head = ["dataset", "system", "queries", *metrics, "p", "+/-", "reader ms/query (pairs)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in res["datasets"]:
        for s in d["systems"]:
            text = next((t for t in TEXTS if s["name"].endswith(f"({t})")), None)
            cost = "" if text is None else f"{d['reader'][text]['ms_per_query']:.0f} ({d['reader'][text]['pairs_per_query']:.0f})"
            q = f"{s['queries']}" + (" (even ids)" if s["split"] == "held-out" else "")
            name = s["name"]
            if name.startswith("fitted") and text in d["fitted"]:
                name = f"fitted a={d['fitted'][text]['share']:g} ({text})"
            p = "" if s["p_value"] is None else (f"{s['p_value']:.2g}" if s["p_value"] >= 1e-4 else "<1e-4")
            wl = "" if s["improved"] is None else f"+{s['improved']}/-{s['hurt']}"
            lines.append("| " + " | ".join([d["name"], name, q, *(f"{s['metrics'][m]:.4f}" for m in metrics), p, wl, cost]) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from qa.reader import default_reader

    if args.tiny:
        names, depth, limit = [TINY_DATASET], min(args.depth, TINY_DEPTH), None
    else:
        names, depth, limit = [n.strip() for n in args.datasets.split(",") if n.strip()], args.depth, args.limit
    texts = [t.strip() for t in args.texts.split(",") if t.strip()]
    if not texts or any(t not in TEXTS for t in texts):
        raise SystemExit(f"--texts: choose from {', '.join(TEXTS)}")
    if depth < 1:
        raise SystemExit("--depth must be at least 1")
    reader = default_reader()
    if reader is None:
        raise SystemExit("the reader is off (QA_READER); nothing to measure")
    t0 = time.perf_counter()
    reader.warm_up()
    log(f"reader ready in {time.perf_counter() - t0:.1f}s ({reader.backend}, max {reader.config.max_length} word pieces)")
    metrics = list(dict.fromkeys(["ndcg@10", "recall@10", "mrr@10", f"recall@{depth}"]))
    out: dict[str, Any] = {"depth": depth, "tiny": args.tiny, "limit": limit, "reader": f"{reader.folder.name} ({reader.backend})",
                           "metrics": metrics, "load_avg_start": round(os.getloadavg()[0], 1), "datasets": []}
    for name in names:
        t0 = time.perf_counter()
        p = load(name, args.tiny, limit, depth)
        log(f"{name}: {len(p.queries)} queries, {p.documents} documents, {len(p.passages)} passages; index "
            f"{p.index_s:.0f}s, hybrid retrieval {p.retrieve_s:.1f}s")
        d = evaluate_dataset(p, reader, texts, depth, metrics)
        d["seconds"] = round(time.perf_counter() - t0, 1)
        out["datasets"].append(d)
        log(f"{name}: done in {d['seconds']:.0f}s; reader {json.dumps(d['reader'])}")
    out["load_avg_end"] = round(os.getloadavg()[0], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS), help="collections under ../shared/data (default: all three)")
    ap.add_argument("--depth", type=int, default=20, help="hybrid documents the reader rereads per query (default 20)")
    ap.add_argument("--limit", type=int, default=None, help="the first N scored queries of each collection")
    ap.add_argument("--texts", default=",".join(TEXTS), help="what the reader reads: passage, sentences or both (default)")
    ap.add_argument("--tiny", action="store_true", help=f"smoke run: {TINY_QUERIES} queries of a small {TINY_DATASET} "
                                                        f"collection, depth {TINY_DEPTH}")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()
    res = run(args)
    command = "python benchmarks/passage_rerank.py " + " ".join(a for a in sys.argv[1:] if a != "--json")
    print(json.dumps(res) if args.json else markdown(res, command.strip()))


if __name__ == "__main__":
    main()
