"""Fusing a dense and a lexical ranking. Pure functions plus one small validated component."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from index.defaults import Mode

Ranking = Sequence[tuple[int, float]]  # (row, score), best first


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

    def to_dict(self) -> dict[str, object]:
        """The manifest's ``"fusion"`` entry."""
        return {"method": self.method.value, "rrf_k": self.rrf_k, "dense_weight": self.dense_weight, "depth": self.depth}

    @classmethod
    def from_dict(cls, d: Mapping[str, object] | None) -> "Fusion":
        """Read a manifest's ``"fusion"`` entry (missing keys take the defaults)."""
        d = dict(d or {})
        unknown = set(d) - {"method", "rrf_k", "dense_weight", "depth"}
        if unknown:
            raise ValueError(f"unknown fusion settings {sorted(unknown)}")
        return cls(**d)  # type: ignore[arg-type]

    def rank(self, dense: Ranking, bm25: Ranking, k: int) -> list[tuple[int, float]]:
        """The hybrid ranking of ``k`` rows from each retriever's ranking (best first).

        The head is each retriever's top :attr:`depth` candidates fused (min-max normalisation in
        weighted fusion depends on that depth). When ``k`` asks for more than the head holds and
        the retrievers returned deeper candidates, those follow in the order of a fusion of the
        full rankings, with scores just below the head's. Search, ``search_many`` and evaluation
        all rank hybrid results with this one function, so they agree for every ``k``.
        """
        head = self.fuse({"dense": dense[: self.depth], "bm25": bm25[: self.depth]}, k)
        if len(head) >= k or (len(dense) <= self.depth and len(bm25) <= self.depth):
            return head
        seen = {row for row, _ in head}
        floor = min((score for _, score in head), default=0.0)
        tail = [row for row, _ in self.fuse({"dense": dense, "bm25": bm25}, k + len(head)) if row not in seen]
        return head + [(row, floor - 1e-6 * (i + 1)) for i, row in enumerate(tail[: k - len(head)])]

    def fuse(self, rankings: Mapping[str, Ranking], k: int) -> list[tuple[int, float]]:
        """Top-``k`` ``(row, fused score)`` pairs, best first; ties broken by row for determinism."""
        if self.method is FusionMethod.RRF:
            # weights of 0.5/0.5 reproduce plain RRF up to a constant factor of 2
            fused = rrf(rankings, self.rrf_k, {n: 2 * w for n, w in self.weights.items()})
        else:
            fused = weighted_sum(rankings, self.weights)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
