"""Arguments shared by several commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from index.defaults import default_index_dir


def add_index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=None, metavar="DIR",
                   help="index directory (default: $QA_INDEX or ./qa-index)")


def index_dir(args: argparse.Namespace) -> Path:
    return args.index or default_index_dir()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value
