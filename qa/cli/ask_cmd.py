"""``qa ask "QUESTION" [--index DIR] [-k 10] [--mode hybrid|dense|bm25] [--since DATE] [--until DATE]
[--source NAME]... [--sort relevance|newest] [--json] [--reranker PATH]``."""

from __future__ import annotations

import argparse
import json
import textwrap

from index.defaults import ASK_K, Mode

from ..answer import Answer, timeline_hint
from ..engine import Engine
from ..rerank import load_reranker
from .common import add_index_arg, index_dir, positive_int
from .search_cmd import add_filter_args, byline, filters_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="answer a question with cited sentences from the articles")
    p.add_argument("question", metavar="QUESTION")
    add_index_arg(p)
    p.add_argument("-k", type=positive_int, default=ASK_K, help=f"passages to read the answer from (default {ASK_K})")
    p.add_argument("--mode", default="hybrid", choices=[m.value for m in Mode], help="retriever (default hybrid)")
    add_filter_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--reranker", default=None, metavar="PATH",
                   help="local sentence-transformers CrossEncoder folder to rerank answer sentences ($QA_RERANKER)")
    p.set_defaults(handler=run)


def format_answer(answer: Answer, width: int = 100) -> str:
    lines = [answer.label] if answer.status == "evidence" and answer.label else []
    lines.append(textwrap.fill(answer.answer, width=width))
    if answer.status == "evidence":
        lines.append(f"(not a direct answer: {answer.reason or 'no sentence is judged to answer the question'})")
    elif answer.status == "none":
        lines.append(f"({answer.reason or 'nothing retrieved is about the question'})")
    if answer.timeline:
        lines.append(f"({timeline_hint(answer.timeline)} Try: qa timeline \"{answer.timeline}\")")
    if answer.citations:
        lines.append("")
    for c in answer.citations:  # one per quote, numbered 1, 2, ... in answer order
        lines.append(f"[{c.n}] {byline(c.title, c.source, c.date, c.doc_id)}")
        lines.append(f"    {c.doc_id} chars {c.start}-{c.end}  passage {c.passage_id}" + (f"  {c.url}" if c.url else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    filters = filters_from(args)
    engine = Engine.open(index_dir(args), reranker=load_reranker(args.reranker))
    answer = engine.ask(args.question, k=args.k, mode=args.mode, filters=filters)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0
