"""The index lifecycle: ``qa articles [--json]``, ``qa delete ID... ``, ``qa compact``."""

from __future__ import annotations

import argparse
import json

from index import builder

from ..engine import Engine
from .common import add_index_arg, index_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("articles", help="list the indexed articles (newest first)")
    add_index_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_articles)

    d = sub.add_parser("delete", help="remove articles from the index by id",
                       description="Remove articles (and all their passages) from the index. An unknown id is an "
                                   "error and nothing is changed. Deleted text never comes back from any search mode.")
    d.add_argument("doc_ids", nargs="+", metavar="ID", help="article ids, as `qa articles` lists them")
    add_index_arg(d)
    d.set_defaults(handler=run_delete)

    c = sub.add_parser("compact", help="rewrite the index without the space left by deleted or replaced passages")
    add_index_arg(c)
    c.set_defaults(handler=run_compact)


def run_articles(args: argparse.Namespace) -> int:
    infos = Engine.open(index_dir(args)).articles()
    if args.json:
        print(json.dumps({"articles": [i.to_dict() for i in infos]}, ensure_ascii=False))
        return 0
    for i in infos:
        meta = " · ".join(x for x in (i.source, i.date[:10]) if x)
        print(f"{i.doc_id}\t{i.title or '(no title)'}" + (f"\t{meta}" if meta else "") + f"\t{i.passages} passage{'' if i.passages == 1 else 's'}")
    if not infos:
        print("the index holds no articles")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    report = Engine(index_dir(args)).delete(args.doc_ids)
    print(report.summary())
    return 0


def run_compact(args: argparse.Namespace) -> int:
    report = builder.compact_index(index_dir(args))
    print(report.summary())
    return 0
