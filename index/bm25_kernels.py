"""Compiled inner loops of BM25 search (numba): each posting's impact, the score accumulator,
the top k.

Pure functions over plain arrays, no state; :class:`index.lexical.LexicalIndex` owns the
buffers and the caches. Every contribution is computed with the same float32 operations as
:func:`index.lexical._tfc_norm` (then times the float32 idf) and summed per row in query-term
order in float64, so scores are bit-identical to the NumPy path (``LexicalIndex.scores``) that
the tests check against bm25s and rank_bm25. ``method`` 0 is Lucene/Robertson's
``tf / (tf + k1 * norm)``, 1 is ATIRE's ``tf * (k1 + 1) / (tf + k1 * norm)``. ``live`` of length
0 means every row is live.

Compiled on first use and cached on disk next to this file when that is writable
(``cache=True``); ``nogil=True`` lets concurrent queries and the query embedding run in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: ``method`` codes (``index.lexical._COMPILED``)
LUCENE, ATIRE = 0, 1


@njit(nogil=True, cache=True, inline="always")
def _value(t: np.float32, nrm: np.float32, k1: np.float32, k1p1: np.float32, method: int) -> np.float32:
    if method == LUCENE:
        den = nrm * k1
        den = den + t
        return t / den
    num = t * k1p1
    den = k1 * nrm
    den = t + den
    return num / den


@njit(nogil=True, cache=True)
def impacts(rows, tf, start, live, norm, k1, k1p1, method):  # type: ignore[no-untyped-def]
    """Each posting's term-frequency component (float32; 0 for a row not in ``live``): what the
    posting adds to its row's score, divided by the term's idf. Fixed while the live set and the
    average length are, so long lists keep theirs (:class:`index.lexical.LexicalIndex`)."""
    check = live.shape[0] > 0
    out = np.empty(rows.shape[0], np.float32)
    for i in range(rows.shape[0]):
        r = np.int64(rows[i]) + start
        if check and not live[r]:
            out[i] = 0.0
        else:
            out[i] = _value(np.float32(tf[i]), norm[r], k1, k1p1, method)
    return out


@njit(nogil=True, cache=True)
def accumulate(rows, imp, start, idf, acc, touched, n, track):  # type: ignore[no-untyped-def]
    """``acc[row] += imp * idf`` (the product in float32, the sum in float64) for every posting of
    one list slice; a zero product (a dead row, an idf of 0) is skipped. ``track``: rows seen for
    the first time are appended to ``touched[n:]``. Returns the new ``n``."""
    for i in range(rows.shape[0]):
        v = imp[i] * idf
        if v == 0.0:
            continue
        r = np.int64(rows[i]) + start
        if track and acc[r] == 0.0:
            touched[n] = r
            n += 1
        acc[r] += np.float64(v)
    return n


@njit(nogil=True, cache=True)
def top_k(acc, touched, n, dense, allowed, k, out_rows, out_scores):  # type: ignore[no-untyped-def]
    """The best ``k`` rows with a positive score in ``acc`` (rows outside ``allowed`` skipped;
    length 0 = all allowed), by float32 score, ties by lower row, into ``out_*[:m]`` in no
    particular order; returns ``m``. Reads the ``n`` rows of ``touched``, or with ``dense`` every
    row of ``acc`` in order (cheaper once many rows were hit); resets ``acc`` to 0. A binary
    min-heap whose root is the worst kept row (lowest score, then highest row); once it is full,
    a row whose float64 sum is below the root's score is passed over at once (rounding to
    float32 is monotonic, so such a row cannot beat or tie the root)."""
    check = allowed.shape[0] > 0
    m = 0
    floor = 0.0  # 0 until the heap is full, then the root's score
    for j in range(acc.shape[0] if dense else n):
        r = j if dense else touched[j]
        a = acc[r]
        acc[r] = 0.0
        if a < floor or not a > 0.0:
            continue
        if check and not allowed[r]:
            continue
        s = np.float32(a)
        if m < k:
            i = m
            m += 1
            while i > 0:  # sift up
                p = (i - 1) >> 1
                ps = out_scores[p]
                pr = out_rows[p]
                if ps < s or (ps == s and pr > r):
                    break
                out_scores[i] = ps
                out_rows[i] = pr
                i = p
            out_scores[i] = s
            out_rows[i] = r
            if m == k:
                floor = np.float64(out_scores[0])
            continue
        if s < out_scores[0] or (s == out_scores[0] and r > out_rows[0]):
            continue
        i = 0
        while True:  # replace the root, sift down
            c = 2 * i + 1
            if c >= m:
                break
            if c + 1 < m and (out_scores[c + 1] < out_scores[c]
                              or (out_scores[c + 1] == out_scores[c] and out_rows[c + 1] > out_rows[c])):
                c += 1
            if s < out_scores[c] or (s == out_scores[c] and r > out_rows[c]):
                break
            out_scores[i] = out_scores[c]
            out_rows[i] = out_rows[c]
            i = c
        out_scores[i] = s
        out_rows[i] = r
        floor = np.float64(out_scores[0])
    return m
