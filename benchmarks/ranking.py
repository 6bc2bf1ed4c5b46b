"""Ranking-quality experiments with the bundled model: fusion method and the headline as a BM25 field.

    python benchmarks/ranking.py                      # tune on cranfield, confirm on vaswani, scifact, news questions
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
3. Every collection (the tuned settings frozen) is scored against the product's default (RRF
   k=60, equal weights) with ranx's paired two-sided t-test: nDCG@10, recall@100, MRR@10 on the
   BEIR collections (document level: passages cut to documents by their best passage); hit@1 and
   MRR@10 on the news question set (``eval/sample_questions.jsonl`` over the sample corpus,
   passage level). The first metric decides.
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

    @property
    def label(self) -> str:
        s = f"{self.method} w={self.dense_weight:g}" + (f" k={self.rrf_k}" if self.method == "rrf" else "")
        return s + (f" +headline beta={self.title_beta:g}" if self.title_beta else "")

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

    def bm25_with_title(self, q: str, beta: float, depth: int) -> Ranking:
        if not beta or self.title_scores is None:
            return self.bm25[q]
        s = self.bm25_scores[q] + beta * self.title_scores[q]
        cand = np.flatnonzero(s > 0)
        order = cand[np.lexsort((cand, -s[cand]))][:depth]
        return [(int(r), float(s[r])) for r in order]

    def run(self, setting: Setting, depth: int) -> dict[str, dict[str, float]]:
        from qa.evaluate import to_ids

        out = {}
        for q in self.qrels:
            rankings = {"dense": self.dense[q][:depth], "bm25": self.bm25_with_title(q, setting.title_beta, depth)[:depth]}
            out[q] = to_ids(setting.fuse(rankings, depth), self.passages, self.document_level, depth)
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
    r = retrieve(retr, {q: texts[q] for q in qrels}, [Mode.HYBRID], depth)
    title = _title_index(retr.passages)
    bm25_scores = {q: retr.engine.store.lexical.scores(texts[q]) for q in qrels} if title is not None else {}
    title_scores = {q: title.scores(texts[q]) for q in qrels} if title is not None else None
    log(f"{name}: {len(qrels)} queries retrieved in {time.perf_counter() - t0:.0f}s"
        + ("" if title is not None else " (no headlines: the headline field is a no-op)"))
    return Prepared(name, qrels, retr.passages, r["dense"], r["bm25"], title_scores, bm25_scores, document_level, metrics)


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
    from qa.evaluate import _Retrievers

    directory = workdir / "sample-index"
    build_index([ROOT / "sample_corpus"], directory)
    engine = Engine.open(directory)
    retr = _Retrievers(engine, list(engine.store.passages), directory)
    questions = load_questions(QUESTIONS)
    qrels = question_qrels(questions, retr.passages, QUESTIONS)
    texts = {q.id: q.question for q in questions if q.answerable}
    qrels = {q: d for q, d in qrels.items() if q in texts}
    return _finish("news questions", qrels, texts, retr, depth, False, ["hit@1", "mrr@10"])


# ------------------------------------------------------------------ tuning and scoring
def score(p: Prepared, setting: Setting, depth: int, metric: str) -> float:
    from qa import metrics as M

    return M.mean_scores(p.qrels, p.run(setting, depth), [metric])[metric]


def tune(p: Prepared, depth: int, tiny: bool = False) -> dict[str, Any]:
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
    return {"best": best, "top": top_method, "beta": beta, "trials": trials}


def evaluate_all(p: Prepared, systems: dict[str, Setting], depth: int) -> dict[str, Any]:
    from qa import metrics as M

    runs = {name: p.run(s, depth) for name, s in systems.items()}
    means, comps = M.compare(p.qrels, runs, p.metrics, "rrf")
    first = p.metrics[0]
    rows = []
    for name, s in systems.items():
        c = comps.get(name, {}).get(first)
        rows.append({"name": name, "setting": s.label, "metrics": {m: round(v, 4) for m, v in means[name].items()},
                     "p_value": None if c is None else round(c.p_value, 4),
                     "improved": None if c is None else c.improved, "hurt": None if c is None else c.hurt})
    return {"name": p.name, "queries": len(p.qrels), "metrics": p.metrics, "systems": rows}


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="qa-ranking-"))
    t0 = time.perf_counter()
    tuned_on = prepare_beir(args.tune, args.depth, args.tiny)
    t = tune(tuned_on, args.depth, args.tiny)
    systems = {"rrf": DEFAULT, **{m: s for m, s in t["best"].items() if m != "rrf"}, "rrf-tuned": t["best"]["rrf"]}
    if t["beta"]:
        systems[f"{t['top'].method}+headline"] = replace(t["top"], title_beta=t["beta"])
    systems["rrf+headline"] = replace(DEFAULT, title_beta=t["beta"] or 0.5)
    out: dict[str, Any] = {"tuned_on": args.tune, "depth": args.depth, "tiny": args.tiny,
                           "chosen": {name: s.label for name, s in systems.items()}, "tuning": t["trials"], "collections": []}
    out["collections"].append({**evaluate_all(tuned_on, systems, args.depth), "tuned_here": True})
    confirm = [c for c in args.confirm.split(",") if c.strip() and c != args.tune] if not args.tiny else []
    for name in confirm:
        if not (SHARED / name / "corpus.jsonl").is_file():
            log(f"{name}: not under {SHARED}, skipped")
            continue
        out["collections"].append({**evaluate_all(prepare_beir(name, args.depth, False), systems, args.depth), "tuned_here": False})
    if args.news:
        out["collections"].append({**evaluate_all(prepare_news(args.depth, work), systems, args.depth), "tuned_here": False})
    out["seconds"] = round(time.perf_counter() - t0, 1)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return out


def markdown(res: dict[str, Any], command: str) -> str:
    lines = [f"Command: `{command}`  ", f"Fusion depth {res['depth']} per retriever; settings chosen on **{res['tuned_on']}** "
             "(nDCG@10) and frozen; p: paired two-sided t-test (ranx) on the first metric against `rrf` (the product default, "
             "k=60, equal weights); +/-: queries improved/hurt.", ""]
    lines += ["| system | setting |", "|---|---|"] + [f"| {n} | {s} |" for n, s in res["chosen"].items()] + [""]
    for c in res["collections"]:
        ms = c["metrics"]
        lines += [f"**{c['name']}** ({c['queries']} queries{', tuned here: optimistic' if c['tuned_here'] else ''})", "",
                  "| system | " + " | ".join(ms) + " | p | +/- |", "|---|" + "---|" * (len(ms) + 2)]
        for s in c["systems"]:
            p = "" if s["p_value"] is None else ("<1e-4" if s["p_value"] < 1e-4 else f"{s['p_value']:.3g}")
            wl = "" if s["improved"] is None else f"+{s['improved']}/-{s['hurt']}"
            lines.append(f"| {s['name']} | " + " | ".join(f"{s['metrics'][m]:.4f}" for m in ms) + f" | {p} | {wl} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tune", default="cranfield", help="the one collection fusion settings are chosen on (default cranfield)")
    ap.add_argument("--confirm", default="vaswani,scifact", help="collections the frozen settings are confirmed on")
    ap.add_argument("--no-news", dest="news", action="store_false", help="skip the news question set")
    ap.add_argument("--depth", type=int, default=100, help="candidates per retriever (the product's fusion depth)")
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
