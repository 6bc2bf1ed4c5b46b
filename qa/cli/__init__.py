"""The ``qa`` console script: a thin layer over the library objects.

One module per command, each exposing ``register(subparsers)``; the handler it sets receives the
parsed arguments and returns an exit code. User errors (:class:`QAError`) become one line on
stderr and exit code 2, and so does every other failure (disk full, input nested too deeply,
text that is not Unicode): one line, exit 2, the traceback only with ``-v``.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Sequence

from index import QAError, __version__
from index.errors import printable

from . import articles_cmd, ask_cmd, eval_cmd, index_cmd, search_cmd, serve_cmd, timeline_cmd

COMMANDS = [index_cmd, search_cmd, ask_cmd, timeline_cmd, articles_cmd, eval_cmd, serve_cmd]
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


def _bad_argument(argv: Sequence[str]) -> str | None:
    """Python decodes a non-UTF-8 argument with surrogate escapes; name the first such argument."""
    for i, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return f"argument {i} is not valid UTF-8 text; re-encode it (e.g. with iconv) and try again"
    return None


class _PrintableFormatter(logging.Formatter):
    """Log lines with control characters escaped (:func:`index.errors.printable`), line breaks kept."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().format(record).split("\n"))


def _one_line(exc: BaseException) -> str:
    """A failure that is not a :class:`QAError`, as one line (see :func:`main`)."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "the disk is full; free some space and run the command again (the index was not changed)"
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, RecursionError):
        return "input is nested too deeply to process"
    if isinstance(exc, MemoryError):
        return "out of memory; index fewer or smaller files at a time"
    if isinstance(exc, UnicodeError):
        return f"text that is not valid Unicode: {exc.reason if hasattr(exc, 'reason') else exc}"
    return f"internal error ({type(exc).__name__}: {exc}); run with -v for details"


def main(argv: Sequence[str] | None = None) -> int:
    bad = _bad_argument(sys.argv[1:] if argv is None else argv)
    if bad:
        print(f"qa: error: {bad}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="qa: %(levelname)s: %(message)s")
    for handler in logging.getLogger().handlers:  # warnings name files: no control character reaches the terminal
        handler.setFormatter(_PrintableFormatter(handler.formatter._fmt if handler.formatter else None))
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
    except Exception as exc:  # noqa: BLE001 - every failure: one line on stderr, exit 2 (docs/security.md)
        if args.verbose:
            logging.getLogger("qa").exception("details")
        print(printable(" ".join(f"qa: error: {_one_line(exc)}".split())), file=sys.stderr)
        return EXIT_USAGE


def run() -> None:
    sys.exit(main())
