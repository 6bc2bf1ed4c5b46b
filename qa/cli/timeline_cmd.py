"""``qa timeline "TOPIC" [--index DIR] [-k 30] [--since DATE] [--until DATE] [--source NAME]... [--json]``."""

from __future__ import annotations

import argparse
import json
import textwrap

from ..engine import Engine
from ..filters import SearchFilter
from ..timeline import TIMELINE_K, Timeline, TimelineEvent
from .common import add_index_arg, index_dir, positive_int
from .search_cmd import byline


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("timeline", help="the dated events of a story, one entry per event, in date order")
    p.add_argument("topic", metavar="TOPIC")
    add_index_arg(p)
    p.add_argument("-k", type=positive_int, default=TIMELINE_K,
                   help=f"passages whose articles are read (default {TIMELINE_K})")
    g = p.add_argument_group("filters (choose the articles, as for qa search)")
    g.add_argument("--since", metavar="DATE", help="only articles published on or after DATE (YYYY-MM-DD)")
    g.add_argument("--until", metavar="DATE", help="only articles published on or before DATE (YYYY-MM-DD)")
    g.add_argument("--source", action="append", metavar="NAME",
                   help="only this publisher (repeat, or give a comma list, for several)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def when_label(event: TimelineEvent) -> str:
    """``2023-10-03``, ``2023-09``, ``2018`` or ``2023-09-11 – 2023-09-20``."""
    w = event.when
    return f"{w.date} – {w.until}" if w.until else w.date


def format_timeline(tl: Timeline, width: int = 100) -> str:
    if not tl.events:
        return f"no dated events found for {tl.topic!r} ({tl.articles} articles read)"
    lines: list[str] = []
    year = None
    for e in tl.events:
        if e.when.start.year != year:
            year = e.when.start.year
            lines += ["" if lines else "", f"== {year} =="]
        n = e.articles
        lines.append(f"{when_label(e)}  ({e.when.precision}{', reported by ' + str(n) + ' articles' if n > 1 else ''})")
        lines.append(textwrap.fill(" ".join(e.text.split()), width=width, initial_indent="    ", subsequent_indent="    ",
                                   max_lines=4, placeholder=" …"))
        for c in e.citations:
            lines.append(f"    - {byline(c.title, c.source, c.date, c.doc_id)}  [{c.doc_id} chars {c.start}-{c.end}; "
                         f"“{c.mention}”]")
    return "\n".join(lines).strip("\n")


def run(args: argparse.Namespace) -> int:
    filters = SearchFilter.parse(since=args.since, until=args.until, sources=",".join(args.source or []))
    tl = Engine.open(index_dir(args)).timeline(args.topic, k=args.k, filters=filters)
    if args.json:
        print(json.dumps(tl.to_dict(), ensure_ascii=False))
    else:
        print(format_timeline(tl))
    return 0
