"""The ``qa`` console script: a thin layer over the library objects.

One module per command, each exposing ``register(subparsers)``; the handler it sets receives the
parsed arguments and returns an exit code. User errors (:class:`QAError`) become one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from index import QAError, __version__

from . import articles_cmd, ask_cmd, eval_cmd, index_cmd, search_cmd, serve_cmd

COMMANDS = [index_cmd, search_cmd, ask_cmd, articles_cmd, eval_cmd, serve_cmd]
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"qa: error: {message} (see `qa --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qa", description="Semantic search and cited answers over news articles.")
    parser.add_argument("--version", action="version", version=f"qa {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="qa: %(levelname)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    try:
        return int(args.handler(args) or 0)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qa: interrupted; nothing was changed", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def run() -> None:
    sys.exit(main())
