"""Checking a query before it reaches a retriever: one rule for every surface."""

from __future__ import annotations

import unicodedata
from typing import Any

from index.defaults import MAX_K, MAX_QUERY_CHARS
from index.errors import QueryError


def is_blank(text: str) -> bool:
    """Nothing but whitespace and invisible format characters (zero-width space, joiners, BOM:
    Unicode category Cf): no query at all, on every surface."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def validate_query(query: Any, k: Any, max_k: int = MAX_K) -> tuple[str, int]:
    """Collapse whitespace and check a query and ``k``; raises :class:`QueryError` (one line)."""
    if not isinstance(query, str):
        raise QueryError("query must be a string")
    q = " ".join(query.split())
    if is_blank(q):
        raise QueryError("query is empty")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}")
    try:
        q.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError("query is not valid Unicode text (it holds a lone surrogate)") from None
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise QueryError(f"k must be an integer between 1 and {max_k}, got {k!r}")
    return q, k
