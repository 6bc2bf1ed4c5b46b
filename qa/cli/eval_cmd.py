"""``qa eval DATASET [--modes ...] [--metrics ...] [--baseline bm25] [--save DIR] [--json] [--sweep]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from index import ChunkSettings, QAError

from index.defaults import default_index_dir

from ..fusion import Fusion
from .common import add_fusion_args, fusion_from_args, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="measure retrieval on labelled queries (BEIR folder, TREC qrels + topics, or a question set)",
        description="Run every retrieval mode on labelled queries and print one table, one row per system, with a paired "
                    "significance test against the baseline and the number of queries each system improved or hurt. "
                    "A BEIR folder or TREC corpus is indexed once into $QA_CACHE/eval (default ~/.cache/newsqa/eval) "
                    "and reused. A question set (.jsonl with id, question, evidence) is scored on passages of --index.")
    p.add_argument("dataset", nargs="?", metavar="DATASET",
                   help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) or question-set .jsonl")
    p.add_argument("--modes", default="bm25,dense,hybrid", help="comma-separated (default bm25,dense,hybrid)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated ranx metrics (default ndcg@10,recall@100,mrr@10,map@100; question sets hit@5,mrr@10)")
    p.add_argument("--baseline", default="bm25", help="system the others are tested against (default bm25; 'none' for no tests)")
    p.add_argument("--test", dest="stat_test", default="student", choices=["student", "fisher"],
                   help="paired test: student (t-test, default) or fisher (randomisation)")
    p.add_argument("--save", type=Path, default=None, metavar="DIR",
                   help="write TREC runs, per-query scores, results.csv/.json/.txt and metrics.png")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--sweep", action="store_true", help="also try a grid of fusion settings and report the best")
    p.add_argument("--apply", action="store_true",
                   help="with --sweep: write the best fusion setting into the manifest of --index (default $QA_INDEX), "
                        "so qa serve/search/ask use it")
    p.add_argument("--split", default="test", help="BEIR qrels split (default test)")
    p.add_argument("--qrels", type=Path, default=None, help="TREC qrels file (qid iter docid rel)")
    p.add_argument("--topics", type=Path, default=None, help="TREC topics (<top> blocks or qid<TAB>text lines)")
    p.add_argument("--corpus", type=Path, default=None, help="corpus.jsonl for TREC input (else --index is used)")
    p.add_argument("--index", type=Path, default=None, metavar="DIR",
                   help="existing index for question sets and TREC input without --corpus (default $QA_INDEX or ./qa-index)")
    p.add_argument("--cache", type=Path, default=None, metavar="DIR", help="index directory for the dataset (default: the cache)")
    p.add_argument("--model", default=None, help="embedding model (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--max-tokens", type=positive_int, default=None, help="passage size in word pieces (default 200)")
    add_fusion_args(p, "default: a new index's (dbsf) for a dataset, the manifest's for --index")
    p.add_argument("--depth", type=positive_int, default=1000, help="passages retrieved per query and retriever (default 1000)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate

    fusion = fusion_from_args(args, Fusion())  # None: a new index's fusion, or the --index manifest's
    try:
        chunking = ChunkSettings(max_tokens=args.max_tokens) if args.max_tokens else None
    except ValueError as exc:
        raise QAError(str(exc)) from exc
    if args.apply and not args.sweep:
        raise QAError("--apply writes the sweep's best fusion setting; add --sweep")
    if args.dataset is None and args.qrels is None:
        raise QAError("give a DATASET (BEIR folder or question-set .jsonl) or --qrels and --topics")
    from index import progress

    with progress.heartbeat(enabled=not args.quiet and not sys.stderr.isatty()):  # a line every few seconds in logs
        result = evaluate(
            args.dataset, modes=args.modes, metrics=args.metrics,
            baseline=None if str(args.baseline).lower() == "none" else args.baseline,
            save=args.save, sweep=args.sweep, split=args.split, qrels=args.qrels, topics=args.topics, corpus=args.corpus,
            index=args.index, cache_dir=args.cache, model=args.model, fusion=fusion, chunking=chunking, depth=args.depth,
            stat_test=args.stat_test, show_progress=not args.quiet and sys.stderr.isatty(),
        )
        # -- answer metrics for a question set (qa/answer_eval.py; issue 9): a separate block
        answers = None
        if args.dataset and args.qrels is None and _is_question_set(args.dataset):
            from ..answer_eval import evaluate_index

            answers = evaluate_index(args.dataset, args.index, save=args.save)
        # -- end of answer metrics
    if args.json:
        out = result.to_dict()
        if answers is not None:
            out["answers"] = answers.to_dict()
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(result.table())
        if answers is not None:
            print("\n" + answers.table())
        print(f"({result.seconds['total']:.0f}s: index {result.seconds['index']:.0f}s, queries {result.seconds['query']:.0f}s)")
        if args.save:
            print(f"saved runs, per-query scores, results.csv/.json and metrics.png to {args.save}"
                  + (" (answers: answers.csv/.json)" if answers is not None else ""))
    if args.apply:
        from ..engine import Engine

        assert result.sweep is not None
        target = args.index or default_index_dir()
        best = result.sweep.best_fusion()
        Engine(target).set_fusion(best)
        print(f"applied fusion {best.to_dict()} to {target} (found on {result.dataset}: {result.sweep.metric} "
              f"{result.sweep.best[result.sweep.metric]})", file=sys.stderr)
    return 0


def _is_question_set(dataset: str) -> bool:
    from ..datasets import is_question_set

    return is_question_set(Path(dataset))
