"""Score-distribution fusion of rankings, beside :mod:`qa.fusion`'s RRF and min-max sum.

Pure functions over ``{retriever: [(row, score), ...]}`` (best first), returning
``{row: fused score}``; measured by ``benchmarks/ranking.py``. Not wired into the product.

* :func:`zscore_sum`: each retriever's scores standardised over its own candidate list
  (``(s - mean) / std``), then a weighted sum; a candidate a retriever did not return gets that
  list's lowest standardised score (it ranked below everything the retriever returned).
* :func:`dbsf`: distribution-based score fusion (as in Qdrant): scores mapped linearly from
  ``[mean - 3 std, mean + 3 std]`` to ``[0, 1]`` (clipped), then a weighted sum; a missing
  candidate scores 0 there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Ranking = Sequence[tuple[int, float]]


def _stats(ranking: Ranking) -> tuple[np.ndarray, float, float]:
    a = np.asarray([s for _, s in ranking], dtype=np.float64)
    mu = float(a.mean()) if a.size else 0.0
    sd = float(a.std()) if a.size > 1 else 0.0
    return a, mu, sd


def zscore_sum(rankings: Mapping[str, Ranking], weights: Mapping[str, float]) -> dict[int, float]:
    """``sum_r w_r * z_r(d)`` with ``z_r`` standardised over retriever ``r``'s list (missing: its minimum)."""
    rows = {row for ranking in rankings.values() for row, _ in ranking}
    fused = dict.fromkeys(rows, 0.0)
    for name, ranking in rankings.items():
        w = weights.get(name, 0.0)
        if not ranking or w == 0.0:
            continue
        a, mu, sd = _stats(ranking)
        z = (a - mu) / sd if sd > 1e-12 else np.zeros_like(a)
        floor = float(z.min())
        got = {row: float(v) for (row, _), v in zip(ranking, z)}
        for row in rows:
            fused[row] += w * got.get(row, floor)
    return fused


def dbsf(rankings: Mapping[str, Ranking], weights: Mapping[str, float]) -> dict[int, float]:
    """Distribution-based score fusion: ``sum_r w_r * clip((s - (mu - 3 sd)) / (6 sd), 0, 1)``."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        w = weights.get(name, 0.0)
        if not ranking:
            continue
        a, mu, sd = _stats(ranking)
        norm = np.clip((a - (mu - 3 * sd)) / (6 * sd), 0.0, 1.0) if sd > 1e-12 else np.ones_like(a)
        for (row, _), v in zip(ranking, norm):
            fused[row] = fused.get(row, 0.0) + w * float(v)
    for name in rankings:  # rows only some retrievers returned still appear
        for row, _ in rankings[name]:
            fused.setdefault(row, 0.0)
    return fused


def top(fused: Mapping[int, float], k: int) -> list[tuple[int, float]]:
    """Best ``k`` of a fused mapping, ties broken by row (as :meth:`qa.fusion.Fusion.fuse`)."""
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
