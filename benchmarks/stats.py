"""Latency summaries shared by the benchmark scripts: one percentile, one scale (0-100)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (``q`` from 0 to 100, linear interpolation between the two nearest
    values, NumPy's default) of ``values``; NaN when there are none."""
    if not 0 <= q <= 100:
        raise ValueError(f"q is a percent from 0 to 100, got {q!r}")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")
