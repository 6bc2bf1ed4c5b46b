"""Article metadata at ingest: headline, publication date (ISO 8601), publisher and author.

Pure functions over the raw input; nothing is guessed: a field with no evidence stays ``""``.

* **Text** (``.txt``/``.md``, news pasted or scraped): only the *head* of the file (the lines
  before the article body that :func:`index.clean.body_span` finds) and a few footer lines
  are read.

  - headline: a line the template repeats in the head (scraped pages print the headline
    twice), else the first line; a site masthead (``"Alwaght | News & Analysis Website"``) is
    never a headline; a section label glued to it (``"NewsPutin loses…"``) and a timestamp
    glued to its end (``"… – 2024-04-22 03:16:42"``) are cut off (the timestamp becomes the
    date).
  - date: the glued timestamp, else the first short head line that is a whole date
    (``"5:56 AM EDT, October 13, 2023"``, ``"Monday 11 September 2023"``), parsed by
    `dateparser <https://dateparser.readthedocs.io>`_ into ISO 8601 (``2023-10-13T05:56:00-04:00``,
    ``2023-09-11``): a time only when the text has one, an offset only when it names a zone.
  - publisher: a masthead's name (``Alwaght``), a ``"Headline | Publisher"`` first line, a
    footer ``"Read all articles by X on Google News"`` or ``"© 2024 X. All rights reserved"``,
    else a bare domain line in the head (``alwaght.net``).
  - author: a ``"By Jane Doe"`` head line.
* **HTML**: trafilatura's metadata (title, date, sitename, author, url), with the URL's domain
  as publisher when the page names no site. The date comes from the page's markup only
  (:func:`html_date_params`: htmldate's extensive search would read "© 2024" as 2024-01-01).
* **JSON lines**: explicit fields win (``title``, ``date``, ``source``, ``author``, ``url``);
  ``date`` goes through :func:`iso_date` like the other formats' dates (ISO 8601, or ``""``:
  "yesterday", "2024-13-45" or ``20240101`` are never stored as given), an ``author`` list is
  joined with ", ", and a missing ``source`` falls back to the URL's domain.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from .clean import body_span, is_furniture

#: Lines of a text file read as its head / footer.
HEAD_LINES = 80
FOOT_LINES = 25
#: A date line is short: "Monday 11 September 2023", "5:56 AM EDT, October 13, 2023".
MAX_DATE_WORDS = 10
MAX_DATE_CHARS = 60

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_HAS_TIME = re.compile(r"\d{1,2}:\d{2}")
_DATE_LABEL = re.compile(r"^(published|updated|posted|last updated|date|first published)\s*(on|at)?\s*[:\-–—]?\s*", re.I)
_SITE_WORDS = re.compile(r"\b(news|analysis|website|web ?site|online|portal|magazine|daily|journal|media|times|post|"
                         r"agency|network|tv|radio|press|herald|tribune|gazette|official site)\b", re.I)
_PIPE = re.compile(r"^(?P<left>.+?)\s+\|\s+(?P<right>[^|]+)$")
_GLUED_DATE = re.compile(r"^(?P<head>.*\S)\s+[–—|-]\s+(?P<date>[^–—|]{6,40})$")
_SECTION_PREFIX = re.compile(r"^(Breaking News|News|Breaking|Opinion|Analysis|Exclusive|Editorial)(?=[A-Z][a-z])")
_DOMAIN_LINE = re.compile(r"^(?:www\.)?(?P<d>[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,12})/?$")
_READ_ALL = re.compile(r"^read all (?:articles|stories|news) (?:by|from) (?P<name>.{2,60}?)\s+on\s+google news\b", re.I)
_COPYRIGHT = re.compile(r"^(?:copyright\s*)?(?:©|\(c\)|copyright)\s*(?:(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)\d\d)?\s*)?"
                        r"(?P<name>[^.|©]{2,50}?)\.?\s*all rights reserved\.?$", re.I)
_BYLINE = re.compile(r"^(?i:by|written by|author:)\s+(?P<name>[A-Z][\w.'’-]+(?:\s+(?:[A-Z][\w.'’-]+|de|van|von|al|bin|and))"
                     r"{0,5})\s*(?:[,|–—-].*)?$")


@dataclass(frozen=True)
class ArticleMeta:
    """What ingest knows about an article besides its text; ``""`` means unknown."""

    title: str = ""
    date: str = ""
    source: str = ""
    author: str = ""
    url: str = ""


# --------------------------------------------------------------------------- dates
@lru_cache(maxsize=4096)
def iso_date(text: str) -> str:
    """``text`` (one date, in any common English form) as ISO 8601, or ``""`` when it is not a
    whole date with day, month and year. Keeps a time only when ``text`` has one and an offset
    only when it names a zone."""
    s = _DATE_LABEL.sub("", " ".join(str(text).split())).strip(" ,.;|–—-")
    year = _YEAR.search(s) if len(s) <= MAX_DATE_CHARS else None
    if year is None or not re.search(r"\d", s[: year.start()] + s[year.end():]):  # a day besides the year
        return ""
    import dateparser  # noqa: PLC0415 - only when a candidate date line is found

    settings = {"STRICT_PARSING": True, "REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DATES_FROM": "past"}
    try:
        parsed = dateparser.parse(s, languages=["en"], settings=settings)
    except (ValueError, OverflowError, TypeError):
        return ""
    if parsed is None:
        return ""
    if not _HAS_TIME.search(s):
        return parsed.date().isoformat()
    return parsed.replace(microsecond=0).isoformat()


def is_date_line(line: str) -> bool:
    return len(line.split()) <= MAX_DATE_WORDS and bool(iso_date(line))


# --------------------------------------------------------------------------- publishers
def domain_of(url: str) -> str:
    """``https://www.alwaght.net/en/News/1`` -> ``alwaght.net``; ``""`` when ``url`` has no host."""
    try:
        host = urlparse(url.strip()).hostname or ""
    except ValueError:
        return ""
    host = host.lower()
    return host[4:] if host.startswith("www.") else host


def masthead(line: str) -> str:
    """The site name of a masthead line (``"Alwaght | News & Analysis Website"`` -> ``Alwaght``), else ``""``."""
    m = _PIPE.match(line.strip())
    if not m:
        return ""
    left, right = m.group("left").strip(), m.group("right").strip()
    if len(left.split()) <= 3 and _SITE_WORDS.search(right) and not _YEAR.search(line):
        return left
    return ""


def _headline_and_publisher(line: str) -> tuple[str, str]:
    """``"Putin visits Baku | Reuters"`` -> (headline, publisher); other lines -> (line, "")."""
    m = _PIPE.match(line.strip())
    if m and len(m.group("left").split()) >= 4 and 1 <= len(m.group("right").split()) <= 4 and not iso_date(m.group("right")):
        return m.group("left").strip(), m.group("right").strip()
    return line.strip(), ""


def clean_headline(title: str) -> tuple[str, str]:
    """``(headline, iso date)``: a glued section label and a glued trailing timestamp removed."""
    t = " ".join(str(title).split())
    date = ""
    m = _GLUED_DATE.match(t)
    if m and iso_date(m.group("date")):
        t, date = m.group("head").strip(), iso_date(m.group("date"))
    t = _SECTION_PREFIX.sub("", t, count=1)
    return t, date


# --------------------------------------------------------------------------- formats
def from_text(text: str) -> ArticleMeta:
    """Metadata of a plain-text article (see the module docstring for the rules)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ArticleMeta()
    start, _ = body_span(lines)
    head = lines[: max(1, min(start, HEAD_LINES))]
    foot = lines[-FOOT_LINES:]

    mast = next((name for name in map(masthead, head[:3]) if name), "")
    publisher = mast

    # headline: a line repeated in the head, else the first line that is not a masthead
    counts = Counter(head)
    date_at = next((i for i, ln in enumerate(head) if is_date_line(ln)), None)
    repeated = [(i, ln) for i, ln in enumerate(head) if counts[ln] >= 2 and len(ln.split()) >= 4
                and not is_furniture(ln) and not masthead(ln) and i != date_at]
    if date_at is not None:  # menus repeat labels too: the headline is the repeat next to the dateline
        repeated.sort(key=lambda item: abs(item[0] - date_at))
    if repeated:
        raw = repeated[0][1]
    elif mast and date_at and date_at > 0 and len(head[date_at - 1].split()) >= 4:
        raw = head[date_at - 1]  # "Masthead … Headline / Monday 11 September 2023"
    else:
        raw = next((ln for ln in head if not masthead(ln) and not is_furniture(ln)), lines[0])
    first_title, piped = _headline_and_publisher(raw)
    title, glued_date = clean_headline(first_title)
    publisher = publisher or piped

    date = glued_date or (iso_date(head[date_at]) if date_at is not None else "")

    if not publisher:
        for ln in foot:
            m = _READ_ALL.match(ln) or _COPYRIGHT.match(ln)
            if m:
                publisher = m.group("name").strip()
                break
    if not publisher:
        domains = [m.group("d") for m in map(_DOMAIN_LINE.match, head) if m]
        publisher = domains[0] if domains else ""

    author = ""
    for ln in head:
        m = _BYLINE.match(ln)
        if m and len(ln.split()) <= 12:
            author = m.group("name").strip()
            break
    return ArticleMeta(title=title, date=date, source=publisher, author=author)


def html_date_params() -> dict[str, Any]:
    """htmldate settings for trafilatura: the *publication* date from the page's markup only.
    Its default "extensive search" turns a footer's "© 2024" into 2024-01-01, a guess."""
    from trafilatura.settings import set_date_params  # noqa: PLC0415 - heavy, HTML only

    return {**set_date_params(False), "original_date": True}


def from_html(doc: dict[str, Any]) -> ArticleMeta:
    """Metadata from trafilatura's ``bare_extraction(..., with_metadata=True)`` dict."""
    url = str(doc.get("url") or "").strip()
    site = str(doc.get("sitename") or "").strip()
    title, glued_date = clean_headline(str(doc.get("title") or ""))
    headline, piped = _headline_and_publisher(title)
    if piped and (not site or piped.casefold() == site.casefold()):
        title, site = headline, site or piped
    date = iso_date(str(doc.get("date") or "")) or glued_date
    return ArticleMeta(title=title, date=date, source=site or domain_of(url) or str(doc.get("hostname") or ""),
                       author=" ".join(str(doc.get("author") or "").split()), url=url)


def from_fields(obj: dict[str, Any]) -> ArticleMeta:
    """Metadata of a JSON-lines record: its explicit fields, the date through :func:`iso_date`
    like every format's (ISO 8601, or ``""`` when it is not a whole date: never kept as given),
    an author list joined with ", ", and the URL's domain when ``source`` is missing."""
    raw_date = str(obj.get("date") or "").strip()
    url = str(obj.get("url") or "").strip()
    author = obj.get("author") or ""
    if isinstance(author, (list, tuple)):
        author = ", ".join(a for a in (" ".join(str(x).split()) for x in author) if a)
    return ArticleMeta(
        title=str(obj.get("title") or "").strip(),
        date=iso_date(raw_date) if raw_date else "",
        source=str(obj.get("source") or "").strip() or domain_of(url),
        author=" ".join(str(author).split()),
        url=url,
    )
