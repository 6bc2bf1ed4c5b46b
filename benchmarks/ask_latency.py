"""Latency of ``Answerer.ask`` against the pipeline it replaced, in the same run.

    python benchmarks/ask_latency.py                         # sample corpus, every question, 3 passes
    python benchmarks/ask_latency.py --index qa-index --repeat 5 --json
    python benchmarks/ask_latency.py --index qa-index --against main --rounds 3   # vs another commit's code

Four pipelines share one loaded index and one model:

- ``ask``: today's :class:`qa.answer.Answerer` (question analysis, spaCy tags, answer types,
  verification);
- ``legacy``: the previous answer pipeline, kept here as a baseline: the same retrieval and
  sentence embeddings, scored by the old blend only (cosine + lexical coverage, no tagger, no
  answer types), MMR selection and composition (:func:`legacy_ask`);
- ``search``: retrieval alone (the floor both build on);
- ``ask_no_reader``: today's Answerer without the reader (``docs/reader.md``): ``ask / ask_no_reader``
  is what the reader costs (issue 24 allows 1.5 at p50).

The tagger is loaded first (timed on its own: a once-per-process cost, paid by ``warm_up`` in a
server). A first pass asks every question once with each pipeline (reported as "cold", legacy
first: it pays for the sentence embeddings the pipelines share; ask then pays for tagging the
sentences): it fills the per-sentence caches that a running server keeps. Then
``--repeat`` timed passes interleave the pipelines question by question, so machine noise hits
all of them alike. Before each timed call the engine's kept vector of the question is dropped
(``Engine.forget_queries``), so every pipeline embeds its question for its search, and before each
timed ``ask`` the question's own tags are evicted, so every ask pays for tagging its question, as
a new question would. The result is the ratio of mean
latencies ``ask / legacy`` (issue 9 asks for at most 1.5).

``--against REF`` compares this tree's ``ask`` with the ``ask`` of another commit (``git archive
REF`` into a temporary folder): the script of each tree runs in its own process on the same index
and the same questions, alternating ``--rounds`` times (A B A B ...), and the result is the ratio
of the mean warm ``ask`` latencies ``this / REF`` over the rounds.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.answer import (  # noqa: E402
    NOT_CONFIDENT_ANSWER, RELATIVE_FLOOR, Answer, Answerer, Candidate, ScoredSentence, blend,
    compose, lexical_coverage, mmr_select, question_terms,
)
from qa.engine import Engine  # noqa: E402

LEGACY_THRESHOLD = 0.49  # the previous default


def legacy_candidates(hits: list[Any], min_words: int = 5) -> list[Candidate]:
    """The previous sentence candidates: every sentence of the passages (clipped), ≥ 5 words, no '?'."""
    from index.chunking import split_sentences

    spans: dict[str, list[tuple[int, int]]] = {}
    seen: set[tuple[str, int, int]] = set()
    out = []
    for i, hit in enumerate(hits):
        p, text = hit.passage, hit.article.text
        for s, e in spans.setdefault(p.doc_id, split_sentences(text)):
            s, e = max(s, p.start), min(e, p.end)
            quote = text[s:e].strip() if e > s else ""
            if not quote or (p.doc_id, s, e) in seen:
                continue
            seen.add((p.doc_id, s, e))
            s += len(text[s:e]) - len(text[s:e].lstrip())
            if len(quote.split()) >= min_words and not quote.rstrip("\"'”’»)").endswith("?"):
                out.append(Candidate(i, p.doc_id, s, s + len(quote), quote))
    return out


def legacy_ask(answerer: Answerer, question: str, k: int = 8, max_sentences: int = 3) -> Answer:
    """The previous ``Answerer.ask``: blend score, one threshold, MMR, compose."""
    hits = answerer.searcher.search(question, k=k, mode="hybrid")
    cands = legacy_candidates(hits)
    if not cands:
        return Answer(question, NOT_CONFIDENT_ANSWER, False, [], hits)
    vecs = answerer.sentence_vectors([question] + [c.text for c in cands])
    dense = vecs[1:] @ vecs[0]
    tok = answerer._tokenize
    scores = blend(dense, lexical_coverage(question_terms(question, tok), [tok(c.text) for c in cands]))
    order = np.argsort(-scores, kind="stable")
    scored = [ScoredSentence(cands[i], float(dense[i]), 0.0, float(scores[i])) for i in order]
    if scored[0].score < LEGACY_THRESHOLD:
        return Answer(question, NOT_CONFIDENT_ANSWER, False, [], hits)
    sent = vecs[1:][order]
    rel = np.array([s.score for s in scored])
    chosen = mmr_select(rel, sent @ sent.T, max_sentences, floor=max(LEGACY_THRESHOLD, rel[0] - RELATIVE_FLOOR))
    text, citations = compose([scored[i] for i in chosen], hits)
    return Answer(question, text, True, citations, hits)


def _stats(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {"n": len(s), "mean_ms": round(statistics.fmean(s), 2), "p50_ms": round(statistics.median(s), 2),
            "p95_ms": round(s[min(len(s) - 1, int(0.95 * (len(s) - 1) + 0.5))], 2)}


def measure(engine: Engine, questions: list[str], repeat: int) -> dict[str, Any]:
    from qa import tagger

    answerer = Answerer(engine, reranker=engine.reranker)  # the app's: with the reader unless QA_READER=off
    no_reader = Answerer(engine, reranker=None)
    t = time.perf_counter()
    tagger.warm_up()
    tagger_load_s = time.perf_counter() - t
    calls = {  # legacy first in the cold pass: it pays for the sentence embeddings both share
        "legacy": lambda q: legacy_ask(answerer, q),
        "search": lambda q: engine.search(q, k=answerer.k, mode="hybrid"),
        "ask_no_reader": lambda q: no_reader.ask(q),
        "ask": lambda q: answerer.ask(q),
    }
    cold: dict[str, list[float]] = {name: [] for name in calls}
    for q in questions:  # first pass: loads the tagger, fills the caches
        for name, call in calls.items():
            t = time.perf_counter()
            call(q)
            cold[name].append((time.perf_counter() - t) * 1000)
    warm: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for q in questions:
            for name, call in calls.items():
                engine.forget_queries([q])  # a new question: its search embeds it (ask's answer then reuses it)
                if name.startswith("ask"):
                    tagger.forget([q])
                t = time.perf_counter()
                call(q)
                warm[name].append((time.perf_counter() - t) * 1000)
    out: dict[str, Any] = {"questions": len(questions), "repeat": repeat, "tagger_load_s": round(tagger_load_s, 2),
                           "cold": {k: _stats(v) for k, v in cold.items()},
                           "warm": {k: _stats(v) for k, v in warm.items()}}
    out["ratio_ask_vs_legacy"] = round(out["warm"]["ask"]["mean_ms"] / out["warm"]["legacy"]["mean_ms"], 3)
    out["ratio_ask_vs_search"] = round(out["warm"]["ask"]["mean_ms"] / out["warm"]["search"]["mean_ms"], 3)
    out["ratio_ask_vs_no_reader_p50"] = round(out["warm"]["ask"]["p50_ms"] / out["warm"]["ask_no_reader"]["p50_ms"], 3)
    return out


def table(r: dict[str, Any]) -> str:
    lines = ["| pipeline | cold mean ms | warm mean ms | warm p50 ms | warm p95 ms |", "|---|---|---|---|---|"]
    for name in ("ask", "ask_no_reader", "legacy", "search"):
        c, w = r["cold"][name], r["warm"][name]
        lines.append(f"| {name} | {c['mean_ms']} | {w['mean_ms']} | {w['p50_ms']} | {w['p95_ms']} |")
    lines.append(f"\n{r['questions']} questions x {r['repeat']} passes; ask / legacy = {r['ratio_ask_vs_legacy']}, "
                 f"ask / search = {r['ratio_ask_vs_search']}; ask / ask without the reader (p50) = "
                 f"{r['ratio_ask_vs_no_reader_p50']}; loading the tagger once: {r['tagger_load_s']} s")
    return "\n".join(lines)


def against(ref: str, index: Path, questions: Path, rounds: int, repeat: int, limit: int, threads: int) -> dict[str, Any]:
    """This tree's ``ask`` against ``ref``'s, alternating processes (see the module docstring)."""
    import os
    import subprocess

    def run(root: Path) -> dict[str, Any]:
        cmd = [sys.executable, str(root / "benchmarks" / "ask_latency.py"), "--index", str(index), "--questions",
               str(questions), "--repeat", str(repeat), "--threads", str(threads), "--json"]
        if limit:
            cmd += ["--limit", str(limit)]
        env = {**os.environ, "PYTHONPATH": str(root)}
        out = subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "ref"
        other.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
        mine: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            mine.append(run(ROOT)["warm"]["ask"]["mean_ms"])
            theirs.append(run(other)["warm"]["ask"]["mean_ms"])
    a, b = statistics.fmean(mine), statistics.fmean(theirs)
    return {"ref": ref, "rounds": rounds, "repeat": repeat, "this_ask_mean_ms": [round(x, 2) for x in mine],
            "ref_ask_mean_ms": [round(x, 2) for x in theirs], "ratio_this_vs_ref": round(a / b, 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", type=Path, default=None, help="index directory (default: build one of sample_corpus/)")
    p.add_argument("--questions", type=Path, default=ROOT / "eval" / "answer_questions.jsonl")
    p.add_argument("--limit", type=int, default=0, help="use only the first N questions (0: all)")
    p.add_argument("--repeat", type=int, default=3, help="timed passes over the questions (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as `qa serve`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--against", metavar="REF", default=None,
                   help="compare this tree's ask with the ask of git commit REF (needs --index)")
    p.add_argument("--rounds", type=int, default=3, help="with --against: alternating runs of each tree (default 3)")
    args = p.parse_args(argv)
    if args.against:
        if args.index is None:
            p.error("--against needs --index (both trees must read the same index)")
        result = against(args.against, args.index.resolve(), args.questions.resolve(), args.rounds, args.repeat,
                         args.limit, args.threads)
        print(json.dumps(result))
        return result
    import torch

    torch.set_num_threads(args.threads)
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    if args.limit:
        questions = questions[:args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index
        if index is None:
            from index import build_index

            index = Path(tmp) / "qa-index"
            build_index([ROOT / "sample_corpus"], index, show_progress=False)
        result = measure(Engine.open(index), questions, args.repeat)
    result["threads"] = args.threads
    print(json.dumps(result) if args.json else table(result))
    return result


if __name__ == "__main__":
    main()
