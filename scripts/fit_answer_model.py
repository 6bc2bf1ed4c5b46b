"""Fit the answer model (learned ranker + answerability, qa/learned.py) on a question set.

    python scripts/fit_answer_model.py --index qa-index                  # writes qa/answer_model.json
    python scripts/fit_answer_model.py --index DIR --splits tune --out /tmp/model.json --c 0.5
    python scripts/fit_answer_model.py --index DIR --cv                 # held-out estimates; writes nothing
    python scripts/fit_answer_model.py --index DIR --decisions          # keep the ranker and answerability model,
                                                                         # refit the two decisions of graded answers
    python scripts/fit_answer_model.py --index SAMPLE --to-index MYINDEX  # another embedding model: fit on the
                                                                         # sample corpus, record it in MYINDEX

The questions (default eval/answer_questions.jsonl) are asked over ``--index`` (build it from
sample_corpus/ with ``qa index sample_corpus --index DIR``); only the ``--splits`` named are used
(default tune, tune2, fresh and fresh2: never heldout, fresh3, fresh4 or fresh5, which are reported as unseen). The
model is fitted for the index's embedding model: refit it when you index with another one. Prints one
JSON line (questions, units, the training top-1 rate) and writes the model atomically.

With another embedding model, index sample_corpus/ with it (``qa index sample_corpus --index SAMPLE
--model M``), fit there and record the model in your own index of that model with ``--to-index``:
its manifest then carries the model and its threshold, and ``qa ask``, ``qa serve`` and every other
surface answer with it (``Engine.set_answer_model``); the bundled file is left alone.

``--decisions`` keeps the bundled ranker and answerability model and fits only what graded answers
decide with (``qa.answer_fit.fit_decisions``): the answerability threshold for ``answered`` (the
lowest one whose answers quote the evidence first 95% of the time on the training splits) and
the topicality model that tells ``evidence`` from ``none``; it prints the leave-one-split-out
estimate of both before writing.

``--cv`` writes no model: it refits on part of the questions and scores the rest, 5-fold and then
leaving out one split at a time (each split was written by another person or round, so that row is
the estimate for questions worded by someone new), and prints a Markdown table
(``qa.answer_fit.cross_validate``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.errors import QAError  # noqa: E402
from qa.answer_eval import SPLITS, load_answer_cases  # noqa: E402
from qa.answer_fit import (cross_validate, decision_rows, examine_cases, fit_answer_model, fit_decisions,  # noqa: E402
                           with_decisions)
from qa.learned import default_answer_model  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.learned import DEFAULT_PATH  # noqa: E402

DEFAULT_SPLITS = "tune,tune2,fresh,fresh2"


def cv_table(rows) -> str:  # type: ignore[no-untyped-def]
    lines = ["| held out | questions | best unit holds the evidence | answered, quoting it first | answered "
             "| unanswerable refused | off-topic refused |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.scheme} | {r.questions} | {r.top1:.3f} | {r.right:.3f} | {r.answered:.3f} | "
              f"{r.refused_unanswerable:.3f} | {r.refused_offtopic:.3f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="index folder (qa index sample_corpus --index DIR)")
    ap.add_argument("--questions", default=str(ROOT / "eval" / "answer_questions.jsonl"))
    ap.add_argument("--splits", default=DEFAULT_SPLITS, help=f"comma-separated splits to fit on (default {DEFAULT_SPLITS})")
    ap.add_argument("--out", default=None,
                    help="model file to write (default: the bundled qa/answer_model.json, unless --to-index is given)")
    ap.add_argument("--to-index", default=None, metavar="DIR",
                    help="record the fitted model in this index's manifest (an index of the same embedding model)")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 regularisation strength (default 1.0)")
    ap.add_argument("--threshold", type=float, default=None,
                    help="answerability probability to answer (default: the one that maximises balanced accuracy "
                         "in 5-fold cross-validation)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N questions of each kind (a quick run)")
    ap.add_argument("--cv", action="store_true", help="print cross-validated results instead of writing a model")
    ap.add_argument("--decisions", action="store_true",
                    help="keep the bundled ranker and answerability model; fit the answered threshold and topicality")
    args = ap.parse_args(argv)
    splits = [s for s in args.splits.split(",") if s]
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        print(f"fit_answer_model: unknown split(s) {', '.join(bad) or '(none)'}; choose from {', '.join(SPLITS)}", file=sys.stderr)
        return 2
    if not args.c > 0 or (args.threshold is not None and not 0.0 <= args.threshold <= 1.0):
        print("fit_answer_model: --c must be > 0 and --threshold between 0 and 1", file=sys.stderr)
        return 2
    try:
        cases = [c for c in load_answer_cases(args.questions) if c.split in splits]
        if args.limit:
            per_kind: dict[str, int] = {}
            kept = []
            for c in cases:
                per_kind[c.kind] = per_kind.get(c.kind, 0) + 1
                if per_kind[c.kind] <= args.limit:
                    kept.append(c)
            cases = kept
        engine = Engine.open(args.index)
        if args.cv:
            print(cv_table(cross_validate(examine_cases(engine, cases, engine.reranker), c=args.c)))
            return 0
        if args.decisions:
            return fit_only_decisions(engine, cases, splits, args)
        trained_on = f"{Path(args.questions).name}: {', '.join(splits)} ({len(cases)} questions)"
        target = Engine.open(args.to_index) if args.to_index else None
        if target is not None and target.model_name != engine.model_name:
            raise QAError(f"--to-index {args.to_index} embeds with {target.model_name!r}, "
                          f"--index {args.index} with {engine.model_name!r}: fit on an index of the same model")
        report = fit_answer_model(engine, cases, c=args.c, threshold=args.threshold, trained_on=trained_on,
                                  embedding_model=engine.model_name, reranker=engine.reranker)
        if target is not None:
            target.set_answer_model(report.model)
    except (QAError, ValueError) as exc:  # a missing or corrupt index or question file, too few questions
        print(f"fit_answer_model: {exc}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None or target is not None else str(DEFAULT_PATH)
    if out is not None:
        report.model.save(out)
    print(json.dumps({"out": out, "to_index": args.to_index, "questions": report.questions, "units": report.units,
                      "train_top1": round(report.train_top1, 4), "trained_on": trained_on}))
    return 0


def fit_only_decisions(engine, cases, splits, args) -> int:  # type: ignore[no-untyped-def]
    """``--decisions``: leave-one-split-out estimates, then the decisions fitted on every split."""
    examined = examine_cases(engine, cases, engine.reranker)
    base = default_answer_model()
    print("| left out | questions | answered | answered right | unanswerable answered | off-topic none | on-topic none |")
    print("|---|---|---|---|---|---|---|")
    for held in splits:
        train = [e for e in examined if e.case.split != held]
        test = [e for e in examined if e.case.split == held]
        if not test or len(splits) < 2:
            continue
        d = fit_decisions(train, base)
        probs, right, rows = decision_rows(test, base)
        answered = probs >= d.threshold
        topical = d.topic.logit(rows) > d.topic_threshold
        kinds = [e.case.kind for e in test]
        off = [k == "offtopic" for k in kinds]
        unans = [k == "unanswerable" for k in kinds]

        def share(mask, of):  # type: ignore[no-untyped-def]
            n = sum(of)
            return f"{sum(m and o for m, o in zip(mask, of))}/{n}"
        print(f"| {held} | {len(test)} | {int(answered.sum())} | {int((answered & right).sum())} | "
              f"{share(answered, unans)} | {share(~topical & ~answered, off)} | "
              f"{share(~topical & ~answered, [not o for o in off])} |")
    trained_on = f"{Path(args.questions).name}: {', '.join(splits)} ({len(examined)} questions)"
    model = with_decisions(base, fit_decisions(examined, base), trained_on)
    out = args.out or str(DEFAULT_PATH)
    model.save(out)
    print(json.dumps({"out": out, "threshold": model.threshold, "topic_threshold": model.topic_threshold,
                      "questions": len(examined)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
