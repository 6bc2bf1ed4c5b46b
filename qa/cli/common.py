"""Arguments shared by several commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from index.defaults import default_index_dir

if TYPE_CHECKING:
    from ..fusion import Fusion


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


def add_fusion_args(p: argparse.ArgumentParser, what: str) -> None:
    """``--fusion``, ``--rrf-k``, ``--dense-weight``: hybrid fusion (see :class:`qa.fusion.Fusion`)."""
    from ..fusion import FusionMethod

    p.add_argument("--fusion", choices=[m.value for m in FusionMethod], default=None,
                   help=f"hybrid fusion method: dbsf (distribution-based score fusion, the default of new indexes), "
                        f"rrf (reciprocal rank fusion) or weighted (min-max weighted sum); {what}")
    p.add_argument("--rrf-k", type=positive_int, default=None, help="RRF's k (default 60)")
    p.add_argument("--dense-weight", type=float, default=None, help="the dense retriever's share in [0, 1] (default 0.5)")


def fusion_from_args(args: argparse.Namespace, base: "Fusion") -> "Fusion | None":
    """The fusion the flags ask for, unset flags taken from ``base``; None when no flag is given.
    A bad value is a one-line :class:`QAError`."""
    from dataclasses import replace

    from index import QAError

    if args.fusion is None and args.rrf_k is None and args.dense_weight is None:
        return None
    changes = {k: v for k, v in (("method", args.fusion), ("rrf_k", args.rrf_k), ("dense_weight", args.dense_weight)) if v is not None}
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise QAError(str(exc)) from exc
