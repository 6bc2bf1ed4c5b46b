"""Fusing a dense and a lexical ranking. Pure functions plus one small validated component."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from index.errors import QueryError

Ranking = Sequence[tuple[int, float]]  # (row, score), best first


class Mode(str, Enum):
    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"

    @classmethod
    def parse(cls, value: "str | Mode") -> "Mode":
        try:
            return cls(value if isinstance(value, Mode) else str(value).strip().lower())
        except ValueError:
            raise QueryError(f"unknown mode {value!r}; use one of: {', '.join(m.value for m in cls)}") from None


class FusionMethod(str, Enum):
    RRF = "rrf"  # reciprocal rank fusion
    WEIGHTED = "weighted"  # weighted sum of min-max normalised scores


def rrf(rankings: Mapping[str, Ranking], k: int = 60, weights: Mapping[str, float] | None = None) -> dict[int, float]:
    """Reciprocal rank fusion: ``sum_r w_r / (k + rank_r(d))`` with ranks starting at 1."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        w = 1.0 if weights is None else weights.get(name, 0.0)
        for rank, (row, _score) in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + w / (k + rank)
    return fused


def minmax(scores: Sequence[float]) -> np.ndarray:
    """Scale to [0, 1]; a constant list maps to all ones (every candidate equally good)."""
    a = np.asarray(scores, dtype=np.float64)
    if a.size == 0:
        return a
    lo, hi = a.min(), a.max()
    if hi - lo <= 1e-12:
        return np.ones_like(a)
    return (a - lo) / (hi - lo)


def weighted_sum(rankings: Mapping[str, Ranking], weights: Mapping[str, float]) -> dict[int, float]:
    """``sum_r w_r * minmax(score_r(d))``; a document a retriever did not return scores 0 there."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        w = weights.get(name, 0.0)
        if not ranking:
            continue
        norm = minmax([s for _, s in ranking])
        for (row, _), s in zip(ranking, norm):
            fused[row] = fused.get(row, 0.0) + w * float(s)
    return fused


@dataclass(frozen=True)
class Fusion:
    """Hybrid fusion settings, validated at construction.

    ``dense_weight`` is the share of the dense retriever (the BM25 share is ``1 - dense_weight``);
    it applies to both methods. ``depth`` is how many candidates each retriever contributes.
    """

    method: FusionMethod = FusionMethod.RRF
    rrf_k: int = 60
    dense_weight: float = 0.5
    depth: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", FusionMethod(self.method))
        if not 1 <= self.rrf_k <= 10_000:
            raise ValueError(f"rrf_k must be in [1, 10000], got {self.rrf_k}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be in [0, 1], got {self.dense_weight}")
        if not 1 <= self.depth <= 10_000:
            raise ValueError(f"depth must be in [1, 10000], got {self.depth}")

    @property
    def weights(self) -> dict[str, float]:
        return {"dense": self.dense_weight, "bm25": 1.0 - self.dense_weight}

    def fuse(self, rankings: Mapping[str, Ranking], k: int) -> list[tuple[int, float]]:
        """Top-``k`` ``(row, fused score)`` pairs, best first; ties broken by row for determinism."""
        if self.method is FusionMethod.RRF:
            # weights of 0.5/0.5 reproduce plain RRF up to a constant factor of 2
            fused = rrf(rankings, self.rrf_k, {n: 2 * w for n, w in self.weights.items()})
        else:
            fused = weighted_sum(rankings, self.weights)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
