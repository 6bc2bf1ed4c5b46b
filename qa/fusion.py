"""Fusing a dense and a lexical ranking. Pure functions plus one small validated component.

Three methods (:class:`FusionMethod`), each a pure function over ``{retriever: [(row, score), ...]}``
(best first) returning ``{row: fused score}``:

* :func:`rrf`: reciprocal rank fusion, ``sum_r w_r / (k + rank_r(d))`` (scores ignored).
* :func:`weighted_sum`: scores min-max normalised over each retriever's candidates, weighted sum.
* :func:`dbsf`: distribution-based score fusion (as in Qdrant): each retriever's scores mapped
  linearly from ``[mean - 3 std, mean + 3 std]`` of its candidates to ``[0, 1]`` (clipped), then a
  weighted sum; a candidate a retriever did not return scores 0 there. Outliers no longer set
  the scale as in min-max, and a retriever whose scores are bunched together (no clear winner)
  contributes little spread. The default of new indexes since issue 13 (measured in
  ``benchmarks/ranking.py``, see benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from numbers import Integral, Real

import numpy as np

from index.defaults import LEGACY_FUSION_METHOD, NEW_INDEX_FUSION, Mode

Ranking = Sequence[tuple[int, float]]  # (row, score), best first


class FusionMethod(str, Enum):
    RRF = "rrf"  # reciprocal rank fusion
    WEIGHTED = "weighted"  # weighted sum of min-max normalised scores
    DBSF = "dbsf"  # distribution-based score fusion: weighted sum of mean +/- 3 std normalised scores


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


def dbsf(rankings: Mapping[str, Ranking], weights: Mapping[str, float]) -> dict[int, float]:
    """Distribution-based score fusion: ``sum_r w_r * clip((s - (mu_r - 3 sd_r)) / (6 sd_r), 0, 1)``,
    ``mu_r`` and ``sd_r`` (population) over retriever ``r``'s candidates; a candidate ``r`` did not
    return scores 0 there; a retriever whose candidates all score the same gives each 1 (as
    :func:`minmax`)."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        w = weights.get(name, 0.0)
        a = np.asarray([s for _, s in ranking], dtype=np.float64)
        mu, sd = float(a.mean()), float(a.std())
        norm = np.clip((a - (mu - 3 * sd)) / (6 * sd), 0.0, 1.0) if sd > 1e-12 else np.ones_like(a)
        for (row, _), v in zip(ranking, norm):
            fused[row] = fused.get(row, 0.0) + w * float(v)
    return fused


@dataclass(frozen=True)
class Fusion:
    """Hybrid fusion settings, validated at construction.

    ``dense_weight`` is the share of the dense retriever (the BM25 share is ``1 - dense_weight``);
    it applies to every method (``rrf_k`` only to RRF). ``depth`` is how many candidates each
    retriever contributes.

    ``Fusion()`` is what a new index records in its manifest (:data:`index.defaults.NEW_INDEX_FUSION`:
    DBSF, equal weights); :meth:`from_dict` of a manifest entry that names no method is RRF, the
    fusion every index built before DBSF became the default ranked with, so they rank as before.
    """

    method: FusionMethod = FusionMethod(NEW_INDEX_FUSION["method"])
    rrf_k: int = int(NEW_INDEX_FUSION["rrf_k"])
    dense_weight: float = float(NEW_INDEX_FUSION["dense_weight"])
    depth: int = int(NEW_INDEX_FUSION["depth"])

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "method", FusionMethod(self.method))
        except ValueError:
            raise ValueError(f"unknown fusion method {self.method!r}; use one of: "
                             f"{', '.join(m.value for m in FusionMethod)}") from None
        for name, kind in (("rrf_k", Integral), ("depth", Integral), ("dense_weight", Real)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValueError(f"{name} must be {'an integer' if kind is Integral else 'a number'}, got {value!r}")
            object.__setattr__(self, name, int(value) if kind is Integral else float(value))
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
        """Read a manifest's ``"fusion"`` entry. No method recorded (an index built before issue 13,
        or an empty entry) means RRF, what such indexes always ranked with; other missing keys
        take the defaults."""
        d = dict(d or {})
        unknown = set(d) - {"method", "rrf_k", "dense_weight", "depth"}
        if unknown:
            raise ValueError(f"unknown fusion settings {sorted(unknown)}")
        d.setdefault("method", LEGACY_FUSION_METHOD)
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
        elif self.method is FusionMethod.DBSF:
            fused = dbsf(rankings, self.weights)
        else:
            fused = weighted_sum(rankings, self.weights)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
