"""``qa search "QUESTION" [--index DIR] [-k 10] [--mode hybrid|dense|bm25] [--since DATE] [--until DATE]
[--source NAME]... [--sort relevance|newest] [--json]``."""

from __future__ import annotations

import argparse
import json
import textwrap

from index.records import Hit

from index.defaults import SEARCH_K, Mode

from ..engine import Engine
from ..filters import SearchFilter, Sort
from .common import add_index_arg, index_dir, positive_int


def add_filter_args(p: argparse.ArgumentParser) -> None:
    """``--since/--until/--source/--sort``, shared by ``qa search`` and ``qa ask``."""
    g = p.add_argument_group("filters (applied before the top k is cut)")
    g.add_argument("--since", metavar="DATE", help="only articles published on or after DATE (YYYY-MM-DD)")
    g.add_argument("--until", metavar="DATE", help="only articles published on or before DATE (YYYY-MM-DD)")
    g.add_argument("--source", action="append", metavar="NAME",
                   help="only this publisher, as results show it (repeat, or give a comma list, for several)")
    g.add_argument("--sort", default=Sort.RELEVANCE.value, choices=[s.value for s in Sort],
                   help="order of results: relevance (default) or newest first")


def filters_from(args: argparse.Namespace) -> SearchFilter:
    """The :class:`SearchFilter` of the parsed flags; a bad date is a one-line error (exit 2)."""
    return SearchFilter.parse(since=args.since, until=args.until, sources=",".join(args.source or []), sort=args.sort)


def byline(title: str, source: str, date: str, fallback: str) -> str:
    """``headline · publisher · date`` with the unknown parts left out."""
    return " · ".join(x for x in (title or fallback, source, date[:10]) if x)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="rank passages for a question")
    p.add_argument("query", metavar="QUESTION")
    add_index_arg(p)
    p.add_argument("-k", type=positive_int, default=SEARCH_K, help=f"number of passages (default {SEARCH_K})")
    p.add_argument("--mode", default="hybrid", choices=[m.value for m in Mode], help="retriever (default hybrid)")
    add_filter_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    from ..cluster.cli import add_args as add_cluster_args  # --ray ADDRESS --shards N

    add_cluster_args(p, shards=True)
    p.set_defaults(handler=run)

    s = sub.add_parser("stats", help="show what an index holds")
    add_index_arg(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=run_stats)


def format_hit(hit: Hit, width: int = 100) -> str:
    a = hit.article
    head = f"{hit.rank:>2}. [{hit.score:.4f}] {byline(a.title, a.source, a.date, hit.passage.doc_id)}"
    meta = f"    {hit.passage.doc_id}  chars {hit.passage.start}-{hit.passage.end}  id {hit.passage.passage_id}"
    if a.url:
        meta += f"  {a.url}"
    body = textwrap.fill(" ".join(hit.passage.text.split()), width=width, initial_indent="    ", subsequent_indent="    ",
                         max_lines=4, placeholder=" …")
    return "\n".join([head, meta, body])


def run(args: argparse.Namespace) -> int:
    from ..cluster.cli import search_engine

    filters = filters_from(args)
    engine = search_engine(args, index_dir(args)) or Engine.open(index_dir(args))  # sharded with --ray
    hits = engine.search(args.query, k=args.k, mode=args.mode, filters=filters)
    if args.json:
        print(json.dumps({"query": args.query, "mode": args.mode, "filters": filters.to_dict(),
                          "results": [h.to_dict() for h in hits]}, ensure_ascii=False))
    elif not hits:
        print("no matching passages")
    else:
        print("\n\n".join(format_hit(h) for h in hits))
    return 0


def run_stats(args: argparse.Namespace) -> int:
    stats = Engine.open(index_dir(args)).stats()
    if args.json:
        print(json.dumps(stats.to_dict()))
    else:
        for key, value in stats.to_dict().items():
            if isinstance(value, dict):  # the fusion settings: "dbsf, dense_weight 0.5, depth 100"
                value = ", ".join(f"{k} {v}" if k != "method" else str(v) for k, v in value.items())
            print(f"{key:>16}: {value}")
    return 0
