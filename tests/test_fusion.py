"""Fusion maths on hand-made rankings whose fused values are known."""

from __future__ import annotations

import math

import pytest

from qa.fusion import Fusion, FusionMethod, Mode, minmax, rrf, weighted_sum
from index.errors import QueryError

DENSE = [(1, 0.9), (2, 0.8), (3, 0.5)]
BM25 = [(3, 12.0), (4, 6.0), (1, 3.0)]


def test_rrf_values():
    fused = rrf({"dense": DENSE, "bm25": BM25}, k=60)
    assert math.isclose(fused[1], 1 / 61 + 1 / 63)
    assert math.isclose(fused[3], 1 / 63 + 1 / 61)
    assert math.isclose(fused[2], 1 / 62)
    assert math.isclose(fused[4], 1 / 62)


def test_rrf_weights():
    fused = rrf({"dense": DENSE, "bm25": BM25}, k=10, weights={"dense": 2.0, "bm25": 0.0})
    assert math.isclose(fused[1], 2 / 11) and fused[4] == 0.0


def test_minmax():
    assert list(minmax([5.0, 3.0, 1.0])) == [1.0, 0.5, 0.0]
    assert list(minmax([2.0, 2.0])) == [1.0, 1.0]
    assert len(minmax([])) == 0


def test_weighted_sum_values():
    fused = weighted_sum({"dense": DENSE, "bm25": BM25}, {"dense": 0.7, "bm25": 0.3})
    # dense minmax: 1 -> 1.0, 2 -> 0.75, 3 -> 0.0 ; bm25 minmax: 3 -> 1.0, 4 -> 1/3, 1 -> 0.0
    assert math.isclose(fused[1], 0.7)
    assert math.isclose(fused[2], 0.7 * 0.75)
    assert math.isclose(fused[3], 0.3)
    assert math.isclose(fused[4], 0.3 / 3)


def test_fuse_orders_and_cuts():
    f = Fusion(method=FusionMethod.WEIGHTED, dense_weight=0.7)
    assert f.fuse({"dense": DENSE, "bm25": BM25}, k=3) == [(1, pytest.approx(0.7)), (2, pytest.approx(0.525)), (3, pytest.approx(0.3))]
    # RRF with equal weights is plain RRF (times 2); ties broken by row id
    top = Fusion(method="rrf", rrf_k=60, dense_weight=0.5).fuse({"dense": DENSE, "bm25": BM25}, k=4)
    assert [row for row, _ in top] == [1, 3, 2, 4]


def test_one_empty_ranking():
    assert Fusion(method="weighted").fuse({"dense": DENSE, "bm25": []}, k=2)[0][0] == 1


@pytest.mark.parametrize("kwargs", [{"rrf_k": 0}, {"dense_weight": 1.5}, {"dense_weight": -0.1}, {"depth": 0}, {"method": "max"}])
def test_validated_at_construction(kwargs):
    with pytest.raises(ValueError):
        Fusion(**kwargs)


def test_mode_parse():
    assert Mode.parse("HYBRID") is Mode.HYBRID
    with pytest.raises(QueryError, match="use one of: hybrid, dense, bm25"):
        Mode.parse("sparse")
