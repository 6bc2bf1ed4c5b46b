"""Ranking-quality experiments with the bundled model: fusion method, the headline as a BM25 field,
passage-to-document aggregation, fusion depth, RM3 pseudo-relevance feedback, dense (Rocchio)
feedback and document-level BM25.

    python benchmarks/ranking.py                      # tune on cranfield, confirm on vaswani, scifact, news questions
    python benchmarks/ranking.py --no-headline-base   # stage 2 on the best fusion without the headline field
    python benchmarks/ranking.py --tune vaswani --json
    python benchmarks/ranking.py --tiny --json        # smoke run: 30 cranfield queries over ~250 documents + news questions
    python benchmarks/ranking.py --readme             # write the tables into benchmarks/README.md

Protocol (nothing is tuned on the queries it is reported on, except the tuning collection's own
row, marked as such):

1. Each collection is indexed by ``qa.evaluate.prepare_index`` (the product's chunking, embedder
   and BM25; cached) and each retriever's top ``--depth`` (default 100, the product's fusion
   depth) passages are retrieved once per query with ``qa.evaluate.retrieve``.
2. On the tuning collection only (default cranfield), each fusion method's parameters are chosen
   by nDCG@10: RRF (k x dense weight), the min-max weighted sum, z-score sum and
   distribution-based score fusion (dense weight; :mod:`qa.fusion`, z-score in this script). Then, for the best
   method, the headline's weight ``beta`` as its own BM25 field: the BM25 ranking becomes
   ``bm25(passage) + beta * bm25(headline)`` (a second bm25s index over the passages' headlines,
   same tokenizer and settings; BM25F-like, the passage text still contains the headline).
   Stage 2, in order, each on the stage-1 winner alone (with the headline field unless
   ``--no-headline-base``): fusing documents instead of passages (each retriever's passages cut
   to documents by their best passage, then fused), the fusion depth (50-400 candidates per
   retriever), RM3 for BM25 (5, 10 or 20 feedback passages, 10 terms, query weight 0.5), dense
   pseudo-relevance feedback (Rocchio on the query vector: ``q + beta * mean`` of the vectors of
   the top 1-10 fused passages, renormalised, an exact dense search again, then fused) and the
   document's BM25 added to each passage's (``bm25(passage) + gamma * bm25(document)``, the
   document being its passages joined; a no-op where documents are one passage).
3. Every collection (the tuned settings frozen) is scored against the product's default (RRF
   k=60, equal weights) with ranx's paired two-sided t-test: nDCG@10, recall@100, MRR@10 on the
   BEIR collections (document level: passages cut to documents by their best passage); hit@1 and
   MRR@10 on the news question set (``eval/sample_questions.jsonl`` over the sample corpus,
   passage level). The first metric decides. Stage-2 variants are also tested against the
   stage-1 winner they extend ("vs base").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared")) / "data"
README = Path(__file__).resolve().parent / "README.md"
QUESTIONS = ROOT / "eval" / "sample_questions.jsonl"
Ranking = list[tuple[int, float]]
Fuse = Callable[[Mapping[str, Ranking], int], Ranking]


def log(msg: str) -> None:
    print(f"[ranking {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ fusion settings
@dataclass(frozen=True)
class Setting:
    """One way to fuse the dense and BM25 rankings (and weight the headline field)."""

    method: str  # rrf | weighted | zscore | dbsf
    dense_weight: float = 0.5
    rrf_k: int = 60
    title_beta: float = 0.0
    #: candidates per retriever fused (0: the run's --depth, the product's 100)
    depth: int = 0
    #: "passage": fuse passages, then a document is ranked by its best fused passage (the product
    #: and qa eval); "doc": each retriever's passages are first cut to documents by their best
    #: passage (max score), then the document rankings are fused
    agg: str = "passage"
    #: RM3 pseudo-relevance feedback for BM25 (0: off; else that many feedback passages)
    prf: int = 0
    #: dense pseudo-relevance feedback (0: off; else that many top fused passages) and its weight
    dprf: int = 0
    dprf_beta: float = 1.0
    #: weight of the document's BM25 added to each passage's (0: off)
    doc_bm25: float = 0.0

    @property
    def label(self) -> str:
        s = f"{self.method} w={self.dense_weight:g}" + (f" k={self.rrf_k}" if self.method == "rrf" else "")
        s += f" +headline beta={self.title_beta:g}" if self.title_beta else ""
        s += f" depth={self.depth}" if self.depth else ""
        s += " +doc-level fusion" if self.agg == "doc" else ""
        s += f" +RM3 ({self.prf} docs, {RM3_TERMS} terms, query weight {RM3_QUERY_WEIGHT})" if self.prf else ""
        s += f" +dense feedback (top {self.dprf} fused, beta={self.dprf_beta:g})" if self.dprf else ""
        return s + (f" +document BM25 gamma={self.doc_bm25:g}" if self.doc_bm25 else "")

    def fuse(self, rankings: Mapping[str, Ranking], k: int) -> Ranking:
        from qa.fusion import Fusion, FusionMethod

        if self.method == "zscore":  # measured, not adopted: lives here, not in the product
            fused = zscore_sum(rankings, {"dense": self.dense_weight, "bm25": 1.0 - self.dense_weight})
            return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return Fusion(method=FusionMethod(self.method), rrf_k=self.rrf_k, dense_weight=self.dense_weight).fuse(rankings, k)


def zscore_sum(rankings: Mapping[str, Ranking], weights: Mapping[str, float]) -> dict[int, float]:
    """``sum_r w_r * z_r(d)``, ``z_r`` standardised over retriever ``r``'s candidates; a candidate
    ``r`` did not return gets that list's lowest ``z`` (it ranked below everything ``r`` returned)."""
    rows = {row for ranking in rankings.values() for row, _ in ranking}
    fused = dict.fromkeys(rows, 0.0)
    for name, ranking in rankings.items():
        w = weights.get(name, 0.0)
        if not ranking or w == 0.0:
            continue
        a = np.asarray([s for _, s in ranking], dtype=np.float64)
        sd = float(a.std())
        z = (a - a.mean()) / sd if sd > 1e-12 else np.zeros_like(a)
        got = {row: float(v) for (row, _), v in zip(ranking, z)}
        floor = float(z.min())
        for row in rows:
            fused[row] += w * got.get(row, floor)
    return fused


DEFAULT = Setting("rrf")
#: passages retrieved per query and retriever (the fusion-depth experiment slices these)
DEEP = 400
DEPTHS = (50, 100, 200, 400)
FEEDBACK_DOCS = (5, 10, 20)
#: dense feedback: (passages, beta) tried on the tuning collection
DENSE_FEEDBACK = tuple((n, b) for n in (1, 3, 5, 10) for b in (0.5, 1.0, 2.0))
DOC_BM25 = (0.25, 0.5, 1.0)


def grid(tiny: bool = False) -> dict[str, list[Setting]]:
    ws = (0.3, 0.5, 0.7) if tiny else (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    return {"rrf": [Setting("rrf", w, k) for k in ((20, 60) if tiny else (10, 20, 40, 60, 100)) for w in ws],
            "weighted": [Setting("weighted", w) for w in (0.2, *ws)],
            "zscore": [Setting("zscore", w) for w in (0.2, *ws)],
            "dbsf": [Setting("dbsf", w) for w in (0.2, *ws)]}


# ------------------------------------------------------------------ a collection, retrieved once
@dataclass
class Prepared:
    name: str
    qrels: dict[str, dict[str, int]]
    passages: list[Any]
    dense: dict[str, Ranking]
    bm25: dict[str, Ranking]
    title_scores: dict[str, np.ndarray] | None  # headline BM25 of every passage, per query
    bm25_scores: dict[str, np.ndarray]
    document_level: bool
    metrics: list[str]
    notes: list[str] = field(default_factory=list)

    lexical: Any = None  # the index's LexicalIndex (RM3)
    texts: dict[str, str] = field(default_factory=dict)
    _prf: dict[tuple[str, int], Ranking] = field(default_factory=dict)
    #: the index's passage vectors and each query's vector (dense feedback)
    vectors: Any = None
    query_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _doc_lexical: Any = None

    def dense_feedback(self, q: str, fused: Ranking, n: int, beta: float, depth: int) -> Ranking:
        """Rocchio on the query vector: ``q + beta * mean(top n fused passages)``, renormalised,
        and an exact search of every passage with it."""
        fb = [row for row, _ in fused[:n]]
        v = self.query_vectors[q] + beta * np.asarray(self.vectors[fb], dtype=np.float32).mean(axis=0)
        scores = np.asarray(self.vectors, dtype=np.float32) @ (v / np.linalg.norm(v))
        top = np.argpartition(-scores, min(depth, len(scores) - 1))[:depth]
        top = top[np.lexsort((top, -scores[top]))]
        return [(int(r), float(scores[r])) for r in top]

    def bm25_with_document(self, q: str, gamma: float, depth: int) -> Ranking:
        """``bm25(passage) + gamma * bm25(its document)`` over every passage."""
        if self._doc_lexical is None:
            from index.lexical import LexicalIndex

            by_doc: dict[str, list[str]] = {}
            for p in self.passages:
                by_doc.setdefault(p.doc_id, []).append(p.index_text(True))
            self._doc_lexical = LexicalIndex.build(["\n".join(by_doc[d]) for d in self.doc_ids()], self.lexical.settings)
        passage = self.bm25_scores[q] if q in self.bm25_scores else self.lexical.scores(self.texts[q])
        return _top(passage + gamma * self._doc_lexical.scores(self.texts[q])[self.doc_of], depth)

    def bm25_with_title(self, q: str, beta: float, depth: int) -> Ranking:
        if not beta or self.title_scores is None:
            return self.bm25[q]
        bm25 = self.bm25_scores[q] if q in self.bm25_scores else self.lexical.scores(self.texts[q])
        return _top(bm25 + beta * self.title_scores[q], depth)

    def bm25_rm3(self, q: str, fb_docs: int, depth: int) -> Ranking:
        key = (q, fb_docs)
        if key not in self._prf:
            self._prf[key] = _top(self.lexical.scores(rm3_query(self.texts[q], self.bm25[q], self.passages, fb_docs,
                                                                 self.lexical.settings)), depth)
        return self._prf[key]

    def run(self, setting: Setting, depth: int) -> dict[str, dict[str, float]]:
        from qa.evaluate import to_ids

        d = setting.depth or depth
        out = {}
        for q in self.qrels:
            if setting.prf:  # RM3 and document BM25 each replace the headline-weighted BM25 (like RM3 always has)
                bm25 = self.bm25_rm3(q, setting.prf, d)
            elif setting.doc_bm25:
                bm25 = self.bm25_with_document(q, setting.doc_bm25, d)
            else:
                bm25 = self.bm25_with_title(q, setting.title_beta, d)
            rankings = {"dense": self.dense[q][:d], "bm25": bm25[:d]}
            if setting.dprf:
                first = setting.fuse(rankings, d)
                rankings["dense"] = self.dense_feedback(q, first, setting.dprf, setting.dprf_beta, d)
            if setting.agg == "doc" and self.document_level:
                docs = self.doc_ids()
                fused = setting.fuse({n: _best_per_doc(r, self.doc_of) for n, r in rankings.items()}, d)
                out[q] = {docs[i]: float(v) for i, v in fused[:depth]}
            else:
                out[q] = to_ids(setting.fuse(rankings, d), self.passages, self.document_level, depth)
        return out

    @property
    def doc_of(self) -> np.ndarray:
        """Row -> document number."""
        if not hasattr(self, "_doc_of"):
            ids = {doc: i for i, doc in enumerate(dict.fromkeys(p.doc_id for p in self.passages))}
            self._doc_of = np.fromiter((ids[p.doc_id] for p in self.passages), dtype=np.int64, count=len(self.passages))
            self._docs = list(ids)
        return self._doc_of

    def doc_ids(self) -> list[str]:
        self.doc_of  # noqa: B018 - builds the map
        return self._docs


def _top(scores: np.ndarray, depth: int) -> Ranking:
    cand = np.flatnonzero(scores > 0)
    order = cand[np.lexsort((cand, -scores[cand]))][:depth]
    return [(int(r), float(scores[r])) for r in order]


def _best_per_doc(ranking: Ranking, doc_of: np.ndarray) -> Ranking:
    """A passage ranking as a document ranking: each document at its best passage's score."""
    seen: set[int] = set()
    out = []
    for row, score in ranking:
        d = int(doc_of[row])
        if d not in seen:
            seen.add(d)
            out.append((d, score))
    return out


RM3_TERMS = 10
RM3_QUERY_WEIGHT = 0.5


def rm3_query(query: str, ranking: Ranking, passages: list[Any], fb_docs: int, settings: Any) -> dict[str, float]:
    """RM3 (Anserini's defaults: 10 feedback terms, original query weight 0.5): the relevance
    model of the top ``fb_docs`` BM25 passages (term probability in each passage weighted by the
    passage's share of their BM25 scores), its ``RM3_TERMS`` best terms renormalised, mixed with
    the query's own term distribution. Returns ``{token: weight}`` for :meth:`LexicalIndex.scores`."""
    from collections import Counter

    from index.lexical import tokenize

    q = Counter(tokenize(query, settings))
    top = ranking[:fb_docs]
    if not q or not top:
        return dict(q)
    w = np.asarray([s for _, s in top], dtype=np.float64)
    w = w / w.sum()
    rel: dict[str, float] = {}
    for (row, _), wd in zip(top, w):
        toks = tokenize(passages[row].index_text(True), settings)
        for t, n in Counter(toks).items():
            rel[t] = rel.get(t, 0.0) + wd * n / len(toks)
    best = sorted(rel.items(), key=lambda kv: (-kv[1], kv[0]))[:RM3_TERMS]
    z = sum(v for _, v in best) or 1.0
    nq = sum(q.values())
    out = {t: RM3_QUERY_WEIGHT * n / nq for t, n in q.items()}
    for t, v in best:
        out[t] = out.get(t, 0.0) + (1 - RM3_QUERY_WEIGHT) * v / z
    return out


def _title_index(passages: list[Any]):  # type: ignore[no-untyped-def]
    from index.lexical import BM25Settings, LexicalIndex

    titles = [p.title or "" for p in passages]
    if sum(1 for t in titles if t.strip()) < len(titles) // 2:
        return None  # most passages have no headline (vaswani): nothing to weight
    return LexicalIndex.build(titles, BM25Settings())


def _finish(name: str, qrels: dict[str, dict[str, int]], texts: dict[str, str], retr: Any, depth: int,
            document_level: bool, metrics: list[str]) -> Prepared:
    from qa.evaluate import retrieve
    from qa.fusion import Mode

    t0 = time.perf_counter()
    r = retrieve(retr, {q: texts[q] for q in qrels}, [Mode.HYBRID], max(depth, DEEP))
    title = _title_index(retr.passages)
    bm25_scores = {q: retr.engine.store.lexical.scores(texts[q]) for q in qrels} if title is not None else {}
    title_scores = {q: title.scores(texts[q]) for q in qrels} if title is not None else None
    log(f"{name}: {len(qrels)} queries retrieved in {time.perf_counter() - t0:.0f}s"
        + ("" if title is not None else " (no headlines: the headline field is a no-op)"))
    qids = list(qrels)
    vectors = retr.engine.embed_queries([texts[q] for q in qids])
    return Prepared(name, qrels, retr.passages, r["dense"], r["bm25"], title_scores, bm25_scores, document_level, metrics,
                    lexical=retr.engine.store.lexical, texts={q: texts[q] for q in qrels},
                    vectors=retr.engine.store.embeddings, query_vectors=dict(zip(qids, vectors)))


def prepare_beir(name: str, depth: int, tiny: bool) -> Prepared:
    from qa.datasets import load_beir
    from qa.evaluate import prepare_index

    ds = load_beir(SHARED / name)
    qrels = {q: {d: g for d, g in docs.items() if g > 0} for q, docs in ds.qrels.items()}
    qrels = {q: docs for q, docs in qrels.items() if docs and q in ds.queries}
    if tiny:  # the first 30 queries, their relevant documents and the first 100 others
        qrels = dict(list(qrels.items())[:30])
        keep = {d for docs in qrels.values() for d in docs} | {a.doc_id for a in ds.corpus[:100]}
        corpus = [a for a in ds.corpus if a.doc_id in keep]
        ds = replace(ds, corpus=corpus, corpus_hash=f"{ds.corpus_hash}-tiny{len(corpus)}")
    retr = prepare_index(ds, need_dense=True)
    return _finish(name, qrels, ds.queries, retr, depth, True, ["ndcg@10", "recall@100", "mrr@10"])


def prepare_news(depth: int, workdir: Path) -> Prepared:
    """The news question set over an index of the sample corpus built here."""
    from index import build_index
    from qa import Engine
    from qa.datasets import load_questions, question_qrels
    from qa.evaluate import Retrievers

    directory = workdir / "sample-index"
    build_index([ROOT / "sample_corpus"], directory)
    engine = Engine.open(directory)
    retr = Retrievers(engine, list(engine.store.passages), directory)
    questions = load_questions(QUESTIONS)
    qrels = question_qrels(questions, retr.passages, QUESTIONS)
    texts = {q.id: q.question for q in questions if q.answerable}
    qrels = {q: d for q, d in qrels.items() if q in texts}
    return _finish("news questions", qrels, texts, retr, depth, False, ["hit@1", "mrr@10"])


# ------------------------------------------------------------------ tuning and scoring
def score(p: Prepared, setting: Setting, depth: int, metric: str) -> float:
    from qa import metrics as M

    return M.mean_scores(p.qrels, p.run(setting, depth), [metric])[metric]


def tune(p: Prepared, depth: int, tiny: bool = False, headline_in_base: bool = True) -> dict[str, Any]:
    metric = p.metrics[0]
    best: dict[str, Setting] = {}
    trials: dict[str, list[dict[str, Any]]] = {}
    for method, settings in grid(tiny).items():
        scored = [(score(p, s, depth, metric), s) for s in settings]
        trials[method] = [{"setting": s.label, metric: round(v, 4)} for v, s in scored]
        # ties: prefer the product's defaults (k=60, w=0.5), then fewer changes
        v, s = max(scored, key=lambda vs: (round(vs[0], 4), -abs(vs[1].dense_weight - 0.5), -abs(vs[1].rrf_k - 60)))
        best[method] = s
        log(f"tune {p.name}: best {method}: {s.label} = {v:.4f}")
    top_method = max(best.values(), key=lambda s: score(p, s, depth, metric))
    betas = [(score(p, replace(top_method, title_beta=b), depth, metric), b) for b in ((0.0, 0.5) if tiny else (0.0, 0.25, 0.5, 1.0, 2.0))]
    trials["headline"] = [{"setting": replace(top_method, title_beta=b).label, metric: round(v, 4)} for v, b in betas]
    beta = max(betas, key=lambda vb: (round(vb[0], 4), -vb[1]))[1]
    log(f"tune {p.name}: headline beta {beta:g} on {top_method.label}")
    # stage 2 (issue 13, in order): passage-to-document aggregation, fusion depth, RM3 for BM25,
    # dense feedback, document BM25, each tried on the stage-1 winner alone
    base = replace(top_method, title_beta=beta if headline_in_base else 0.0)
    stage2: dict[str, Setting] = {}
    for what, variants in (("aggregation", [replace(base, agg=a) for a in ("passage", "doc")]),
                           ("depth", [replace(base, depth=d) for d in ((50, 100) if tiny else DEPTHS)]),
                           ("rm3", [base] + [replace(base, prf=n) for n in ((10,) if tiny else FEEDBACK_DOCS)]),
                           ("dense-feedback", [base] + [replace(base, dprf=n, dprf_beta=b)
                                                        for n, b in (((3, 1.0),) if tiny else DENSE_FEEDBACK)]),
                           ("document-bm25", [base] + [replace(base, doc_bm25=g) for g in ((1.0,) if tiny else DOC_BM25)])):
        scored = [(score(p, v, depth, metric), v) for v in variants]
        trials[what] = [{"setting": v.label, metric: round(x, 4)} for x, v in scored]
        # ties: the product's way (passage-level, depth 100, no feedback)
        x, v = max(scored, key=lambda xv: (round(xv[0], 4), xv[1].agg == "passage", -abs((xv[1].depth or depth) - depth), -xv[1].prf,
                                           -xv[1].dprf, -xv[1].doc_bm25))
        stage2[what] = v
        log(f"tune {p.name}: {what}: {v.label} = {x:.4f}")
    return {"best": best, "top": top_method, "beta": beta, "base": base, "stage2": stage2, "trials": trials}


def evaluate_all(p: Prepared, systems: dict[str, Setting], depth: int, base: str | None = None) -> dict[str, Any]:
    """Every system's metrics, tested against ``rrf`` (the pre-issue default) and, for the stage-2
    variants, against ``base`` (the stage-1 winner they extend)."""
    from qa import metrics as M

    runs = {name: p.run(s, depth) for name, s in systems.items()}
    means, comps = M.compare(p.qrels, runs, p.metrics, "rrf")
    comps_base = M.compare(p.qrels, runs, p.metrics, base)[1] if base in runs else {}
    first = p.metrics[0]
    rows = []
    for name, s in systems.items():
        c = comps.get(name, {}).get(first)
        row = {"name": name, "setting": s.label, "metrics": {m: round(v, 4) for m, v in means[name].items()},
               "p_value": None if c is None else round(c.p_value, 4),
               "improved": None if c is None else c.improved, "hurt": None if c is None else c.hurt}
        cb = comps_base.get(name, {}).get(first) if base and name.startswith(base + " ") else None
        if cb is not None:
            row["vs_base"] = {"p_value": round(cb.p_value, 4), "improved": cb.improved, "hurt": cb.hurt}
        rows.append(row)
    return {"name": p.name, "queries": len(p.qrels), "metrics": p.metrics, "systems": rows, "base": base}


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="qa-ranking-"))
    t0 = time.perf_counter()
    tuned_on = prepare_beir(args.tune, args.depth, args.tiny)
    t = tune(tuned_on, args.depth, args.tiny, args.headline)
    systems = {"rrf": DEFAULT, **{m: s for m, s in t["best"].items() if m != "rrf"}, "rrf-tuned": t["best"]["rrf"]}
    if t["beta"]:
        systems[f"{t['top'].method}+headline"] = replace(t["top"], title_beta=t["beta"])
    systems["rrf+headline"] = replace(DEFAULT, title_beta=t["beta"] or 0.5)
    base_name = f"{t['top'].method}+headline" if t["base"].title_beta else t["top"].method
    b = t["base"]
    # stage 2: every variant is reported (chosen or not), named "<base> <change>"
    systems[f"{base_name} doc-fusion"] = replace(b, agg="doc")
    d = t["stage2"]["depth"].depth
    systems[f"{base_name} depth={d if d and d != args.depth else max(DEPTHS)}"] = replace(b, depth=d if d and d != args.depth else max(DEPTHS))
    n = t["stage2"]["rm3"].prf or 10
    systems[f"{base_name} rm3"] = replace(b, prf=n)
    fb = t["stage2"]["dense-feedback"]
    systems[f"{base_name} dense-prf"] = replace(b, dprf=fb.dprf or 3, dprf_beta=fb.dprf_beta if fb.dprf else 1.0)
    systems[f"{base_name} doc-bm25"] = replace(b, doc_bm25=t["stage2"]["document-bm25"].doc_bm25 or 1.0)
    out: dict[str, Any] = {"tuned_on": args.tune, "depth": args.depth, "tiny": args.tiny, "base": base_name,
                           "chosen": {name: s.label for name, s in systems.items()}, "tuning": t["trials"], "collections": []}
    out["collections"].append({**evaluate_all(tuned_on, systems, args.depth, base_name), "tuned_here": True})
    confirm = [c for c in args.confirm.split(",") if c.strip() and c != args.tune] if not args.tiny else []
    for name in confirm:
        if not (SHARED / name / "corpus.jsonl").is_file():
            log(f"{name}: not under {SHARED}, skipped")
            continue
        out["collections"].append({**evaluate_all(prepare_beir(name, args.depth, False), systems, args.depth, base_name),
                                   "tuned_here": False})
        log(f"{name}: done")
    if args.news:
        out["collections"].append({**evaluate_all(prepare_news(args.depth, work), systems, args.depth, base_name), "tuned_here": False})
    out["seconds"] = round(time.perf_counter() - t0, 1)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return out


def markdown(res: dict[str, Any], command: str) -> str:
    lines = [f"Command: `{command}`  ", f"Fusion depth {res['depth']} per retriever; settings chosen on **{res['tuned_on']}** "
             "(nDCG@10) and frozen; p: paired two-sided t-test (ranx) on the first metric against `rrf` (the pre-issue default, "
             f"k=60, equal weights); +/-: queries improved/hurt; p / +/- vs base: the stage-2 variants against `{res['base']}`.", ""]
    lines += ["| system | setting |", "|---|---|"] + [f"| {n} | {s} |" for n, s in res["chosen"].items()] + [""]
    for c in res["collections"]:
        ms = c["metrics"]
        lines += [f"**{c['name']}** ({c['queries']} queries{', tuned here: optimistic' if c['tuned_here'] else ''})", "",
                  "| system | " + " | ".join(ms) + " | p | +/- | p vs base | +/- vs base |", "|---|" + "---|" * (len(ms) + 4)]
        for s in c["systems"]:
            vb = s.get("vs_base") or {}
            lines.append(f"| {s['name']} | " + " | ".join(f"{s['metrics'][m]:.4f}" for m in ms)
                         + f" | {_p(s.get('p_value'))} | {_wl(s)} | {_p(vb.get('p_value'))} | {_wl(vb)} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def _p(p: float | None) -> str:
    return "" if p is None else ("<1e-4" if p < 1e-4 else f"{p:.3g}")


def _wl(s: Mapping[str, Any]) -> str:
    return "" if s.get("improved") is None else f"+{s['improved']}/-{s['hurt']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tune", default="cranfield", help="the one collection fusion settings are chosen on (default cranfield)")
    ap.add_argument("--confirm", default="vaswani,scifact", help="collections the frozen settings are confirmed on")
    ap.add_argument("--no-news", dest="news", action="store_false", help="skip the news question set")
    ap.add_argument("--depth", type=int, default=100, help="candidates per retriever (the product's fusion depth)")
    ap.add_argument("--no-headline-base", dest="headline", action="store_false",
                    help="stage 2 extends the best fusion without the headline field (it is still measured on its own)")
    ap.add_argument("--tiny", action="store_true", help="smoke run: 30 queries of the tuning collection over ~250 docs + news")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    ap.add_argument("--readme", action="store_true", help="write the tables into benchmarks/README.md")
    args = ap.parse_args()
    res = run(args)
    command = "python benchmarks/ranking.py " + " ".join(a for a in sys.argv[1:] if a not in ("--json", "--readme"))
    table = markdown(res, command.strip())
    if args.readme:
        from run import update_readme

        update_readme(table, "ranking")
    print(json.dumps(res) if args.json else table)


if __name__ == "__main__":
    main()
