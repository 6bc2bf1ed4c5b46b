"""Plumbing to ranx: metric names, runs, per-query scores and paired significance tests.

Every number comes from ranx (https://amenra.github.io/ranx/); this module only converts our
dictionaries to ranx objects and back. ``hit@k`` is accepted as an alias of ranx's
``hit_rate@k`` (1 when a relevant item is in the top k).
"""

from __future__ import annotations

import math

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .datasets import DatasetError

RunDict = dict[str, dict[str, float]]  # query id -> {doc or passage id: score}
QrelsDict = Mapping[str, Mapping[str, int]]

_ALIASES = {"hit": "hit_rate", "hits_rate": "hit_rate", "recall": "recall", "r": "recall", "p": "precision",
            "rr": "mrr", "ap": "map"}
_KNOWN = {"ndcg", "ndcg_burges", "recall", "precision", "mrr", "map", "hit_rate", "hits", "r-precision", "bpref",
          "f1", "rbp"}
_METRIC = re.compile(r"^([a-z_\-]+)(?:@(\d+))?$")

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@100")
QUESTION_METRICS = ("hit@5", "mrr@10")


def ranx_metric(name: str) -> str:
    """The ranx name of a metric written as ``ndcg@10``, ``recall@100``, ``hit@5``..."""
    m = _METRIC.match(name.strip().lower())
    if not m:
        raise DatasetError(f"cannot read metric {name!r}; write e.g. ndcg@10, recall@100, mrr@10, map@100, hit@5")
    base, cut = m.group(1), m.group(2)
    base = _ALIASES.get(base, base)
    if base not in _KNOWN:
        raise DatasetError(f"unknown metric {name!r}; known: {', '.join(sorted(_KNOWN | {'hit'}))}")
    return f"{base}@{cut}" if cut else base


def parse_metrics(metrics: str | Sequence[str] | None, default: Sequence[str] = DEFAULT_METRICS) -> list[str]:
    if metrics is None:
        return list(default)
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [m.strip().lower() for m in items if m.strip()]
    if not names:
        raise DatasetError("no metrics given")
    for n in names:
        ranx_metric(n)
    return list(dict.fromkeys(names))


@contextmanager
def _quiet() -> Iterator[None]:
    """ranx's numba kernels warn about a harmless uint64 -> int64 cast on their first calls."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unsafe cast.*")
        yield


def _qrels(qrels: QrelsDict):  # type: ignore[no-untyped-def]
    from ranx import Qrels

    return Qrels({q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items()})


def _run(run: Mapping[str, Mapping[str, float]], qrels: QrelsDict, name: str):  # type: ignore[no-untyped-def]
    from ranx import Run

    # queries without results would be dropped by ranx; a placeholder scores 0 on every metric
    d = {q: ({k: float(v) for k, v in run[q].items()} if run.get(q) else {"__no_result__": 0.0}) for q in qrels}
    return Run(d, name=name)


def per_query(qrels: QrelsDict, run: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{metric: {query id: score}}`` for every query in ``qrels`` (a query the run misses scores 0)."""
    from ranx import evaluate

    r = _run(run, qrels, "run")
    names = [ranx_metric(m) for m in metrics]
    with _quiet():
        evaluate(_qrels(qrels), r, names, return_mean=False, make_comparable=True)
    return {m: {q: float(r.scores[n][q]) for q in qrels} for m, n in zip(metrics, names)}


def mean_scores(qrels: QrelsDict, run: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> dict[str, float]:
    from ranx import evaluate

    names = [ranx_metric(m) for m in metrics]
    with _quiet():
        out = evaluate(_qrels(qrels), _run(run, qrels, "run"), names, make_comparable=True)
    if len(names) == 1:
        out = {names[0]: out}
    return {m: float(out[n]) for m, n in zip(metrics, names)}


@dataclass(frozen=True)
class Comparison:
    """One system against the baseline on one metric."""

    p_value: float
    improved: int
    hurt: int


def compare(qrels: QrelsDict, runs: Mapping[str, Mapping[str, Mapping[str, float]]], metrics: Sequence[str],
            baseline: str, stat_test: str = "student") -> tuple[dict[str, dict[str, float]], dict[str, dict[str, Comparison]]]:
    """Mean scores of every run, and each run against ``baseline`` (paired test, wins and losses).

    ``stat_test`` is ranx's: ``student`` (two-sided paired t-test) or ``fisher`` (randomisation).
    """
    from ranx import compare as ranx_compare

    names = [ranx_metric(m) for m in metrics]
    q = _qrels(qrels)
    ranx_runs = [_run(run, qrels, name) for name, run in runs.items()]
    with _quiet():
        report = ranx_compare(q, ranx_runs, names, stat_test=stat_test, make_comparable=True, rounding_digits=4)
    d = report.to_dict()
    means = {s: {m: float(d[s]["scores"][n]) for m, n in zip(metrics, names)} for s in runs}
    comps: dict[str, dict[str, Comparison]] = {}
    if baseline in runs:
        for s in runs:
            if s == baseline:
                continue
            comps[s] = {}
            for m, n in zip(metrics, names):
                wtl = d[s]["win_tie_loss"][baseline][n]
                p = float(d[s]["comparisons"][baseline][n])
                # a t-test on per-query differences that are all zero is 0/0 (NaN): the runs score
                # alike on every query, which is no evidence of a difference (p = 1), and NaN is not JSON
                comps[s][m] = Comparison(1.0 if math.isnan(p) else p, int(wtl["W"]), int(wtl["L"]))
    return means, comps
