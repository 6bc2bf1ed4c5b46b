"""Search filters: publication-date range, publishers, and the sort order of results.

A :class:`SearchFilter` is validated at construction and applied *inside* retrieval (before the
top-k is cut), so a filtered search never returns fewer hits than exist. The same field names are
used by the Python API, ``qa search/ask --since/--until/--source/--sort`` and the JSON API.

>>> f = SearchFilter.parse(since="2024-01-01", sources=["Alwaght"])
>>> f.matches(article)          # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from index.errors import QueryError
from index.records import Article

#: Most publishers one filter may name.
MAX_SOURCES = 50


class Sort(str, Enum):
    RELEVANCE = "relevance"
    NEWEST = "newest"

    @classmethod
    def parse(cls, value: "str | Sort | None") -> "Sort":
        if value is None or value == "":
            return cls.RELEVANCE
        try:
            return cls(value if isinstance(value, Sort) else str(value).strip().lower())
        except ValueError:
            raise QueryError(f"unknown sort {value!r}; use one of: {', '.join(s.value for s in cls)}") from None


#: A day as the filters take it: exactly ``YYYY-MM-DD`` (no time, no trailing text).
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(value: Any, name: str) -> _dt.date | None:
    """``YYYY-MM-DD`` exactly (surrounding spaces aside) -> date; anything else (``2024-01-01xyz``,
    a timestamp, ``2024-1-1``) raises :class:`QueryError`. ``date``/``datetime`` objects pass as days."""
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if not isinstance(value, str):
        raise QueryError(f"{name} must be a date like 2024-01-31, got {value!r}")
    text = value.strip()
    try:
        if _DAY.fullmatch(text):
            return _dt.date.fromisoformat(text)
    except ValueError:  # 2024-13-01, 2023-02-30
        pass
    raise QueryError(f"{name} must be a date like 2024-01-31 (YYYY-MM-DD), got {value!r}")


def day_of(date: str) -> _dt.date | None:
    """The day of an ISO 8601 date or timestamp string, or None when empty or unparsable."""
    if not date:
        return None
    try:
        return _dt.date.fromisoformat(date.strip()[:10])
    except ValueError:
        return None


def article_day(article: Article) -> _dt.date | None:
    """The article's publication day, or None when unknown or unparsable."""
    return day_of(article.date)


def _norm_source(s: str) -> str:
    return " ".join(s.split()).casefold()


@dataclass(frozen=True)
class SearchFilter:
    """``since``/``until`` are inclusive days; ``sources`` matches publishers case-insensitively.

    An article with no known date never matches a date bound; with no ``sources`` every
    publisher matches. ``sort`` orders the final hits (``newest``: by date, undated last, then
    by relevance)."""

    since: _dt.date | None = None
    until: _dt.date | None = None
    sources: tuple[str, ...] = ()
    sort: Sort = Sort.RELEVANCE

    def __post_init__(self) -> None:
        object.__setattr__(self, "sort", Sort.parse(self.sort))
        if self.since and self.until and self.since > self.until:
            raise QueryError(f"since ({self.since}) is after until ({self.until})")
        if len(self.sources) > MAX_SOURCES:
            raise QueryError(f"at most {MAX_SOURCES} sources may be named, got {len(self.sources)}")

    @classmethod
    def parse(cls, since: Any = None, until: Any = None, sources: Any = None, sort: Any = None) -> "SearchFilter":
        """Build from user input (strings, lists or None); raises :class:`QueryError` when bad."""
        if sources is None or sources == "":
            srcs: tuple[str, ...] = ()
        elif isinstance(sources, str):
            srcs = tuple(s.strip() for s in sources.split(",") if s.strip())
        elif isinstance(sources, Iterable):
            items = list(sources)
            if not all(isinstance(s, str) for s in items):
                raise QueryError("source must be a list of publisher names")
            srcs = tuple(s.strip() for s in items if s.strip())
        else:
            raise QueryError("source must be a publisher name or a list of them")
        return cls(parse_day(since, "since"), parse_day(until, "until"), srcs, Sort.parse(sort))

    @property
    def active(self) -> bool:
        """True when the filter can exclude an article (sorting alone excludes nothing)."""
        return bool(self.since or self.until or self.sources)

    def matches(self, article: Article) -> bool:
        if self.sources:
            wanted = {_norm_source(s) for s in self.sources}
            if _norm_source(article.source) not in wanted:
                return False
        if self.since or self.until:
            day = article_day(article)
            if day is None:
                return False
            if self.since and day < self.since:
                return False
            if self.until and day > self.until:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "source": list(self.sources),
            "sort": self.sort.value,
        }


NO_FILTER = SearchFilter()
