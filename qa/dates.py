"""Resolving the date phrases of news sentences to calendar dates with a stated precision.

A phrase comes from spaCy's DATE entities (:mod:`qa.timeline` finds them); this module says what
day, month, year or range of days it names, using ``dateparser`` for the calendar work
(month and weekday names, "four days later", "four years ago") and a few rules around it:

- an explicit date with a year ("February 24, 2022", "January 2023", "2018") is absolute;
- a date without a year ("October 3", "September 11-20", "last September", "on Thursday", "this
  week") is relative: it resolves against the article's publication date, or, in an article
  without one, a year-less day against a date stated earlier in the same paragraph;
- an anaphoric phrase ("four days later", "the very next day") resolves only against a date
  stated earlier in the paragraph (:class:`When` ``anchor``), never against the publication date;
- a duration ("two weeks", "since 2009", "for many years"), an age ("53-year-old") or a vague
  phrase ("in recent days", "more than two years ago") names no point in time.

:func:`resolve` returns a :class:`When`, :data:`UNRESOLVED` (a point in time that cannot be known
from the text: it is left out, never guessed) or ``None`` (not a point in time at all).
Pure functions; no model.

>>> import datetime as dt
>>> resolve("October 3rd", published=dt.date(2023, 10, 13)).date
'2023-10-03'
>>> resolve("Four days later", anchor=When.day(dt.date(2023, 9, 4))).date
'2023-09-08'
>>> resolve("Thursday") is UNRESOLVED      # no publication date: the week is unknown
True
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import threading
from dataclasses import dataclass
from typing import Any, Final

#: Precisions, finest first.
PRECISIONS: Final = ("day", "range", "month", "year")

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS["sept"] = 9
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11), "winter": (12, 2)}
_NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_UNIT = r"(?:day|week|month|year)s?"
_COUNT = r"(?:\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"

#: A word right before the phrase that makes it a bound or a duration, not the time of an event.
#: ("for" and "over" are not here: "for two weeks" and "over the past year" are durations by their own
#: words, while "planned for Friday" names a day.)
NON_POINT_BEFORE: Final = frozenset({"since", "until", "till", "through", "throughout", "by", "before", "after",
                                     "within"})
#: Words that make a phrase too vague to date ("in recent days", "more than two years ago").
_VAGUE = re.compile(r"\b(?:recent|recently|few|several|many|some|more than|less than|nearly|almost|about|around"
                    r"|approximately|at least|decades?|centuries|century|era|times)\b")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_DURATION = re.compile(rf"(?:(?:the\s+)?(?:past|last|next|coming|previous|first)\s+)?(?:{_COUNT}|many|several|few|some)\s+{_UNIT}"
                       rf"|(?:(?:the\s+)?(?:past|last|next|coming)\s+)?(?:days|weeks|months|years|decades)"
                       rf"|(?:the\s+)?(?:past|coming)\s+{_UNIT}")
_RANGE_MD = re.compile(rf"(?P<m>{_MONTH})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:-|–|—|to|and|through)\s*"
                       rf"(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?")
_RANGE_DM = re.compile(rf"(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:-|–|—|to|and|through)\s*(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?"
                       rf"\s+(?:of\s+)?(?P<m>{_MONTH})(?:,?\s+(?P<y>\d{{4}}))?")
_PART = re.compile(r"(?P<part>early|mid|middle|late|the beginning of|the start of|the middle of|the end of"
                   r"|the first half of|the second half of|first half of|second half of|beginning of|end of)[\s-]+(?P<rest>.+)")
_PART_DAYS = {"early": (1, 10), "beginning": (1, 10), "start": (1, 10), "mid": (11, 20), "middle": (11, 20),
              "late": (21, 31), "end": (21, 31), "first half": (1, 15), "second half": (16, 31)}
_SEASON = re.compile(r"(?:(?P<rel>last|this|past)\s+)?(?P<s>spring|summer|fall|autumn|winter)(?:\s+(?:of\s+)?(?P<y>\d{4}))?")
_REL_UNIT = re.compile(rf"(?P<n>{_COUNT})\s+(?P<u>day|week|month|year)s?\s+(?P<dir>later|after|afterwards|earlier|before|ago)")
_NEXT_DAY = re.compile(r"(?:the\s+)?(?:very\s+)?(?:next|following)\s+day|(?:the\s+)?day\s+after")
_PREV_DAY = re.compile(r"(?:the\s+)?(?:previous|preceding)\s+day|(?:the\s+)?day\s+before")
_LEADING = re.compile(r"^(?:(?:on|in|at|during|of|already|as of|the|between|from)\s+)+")
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b")


class _Unresolved:
    """A point in time the text does not pin down (see :data:`UNRESOLVED`)."""

    _instance: "_Unresolved | None" = None

    def __new__(cls) -> "_Unresolved":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNRESOLVED"

    def __bool__(self) -> bool:
        return False


#: What :func:`resolve` returns for a point in time it cannot date without guessing.
UNRESOLVED: Final = _Unresolved()


@dataclass(frozen=True)
class When:
    """A resolved date: the days ``start..end`` (inclusive) at ``precision`` (``day``, ``range``,
    ``month`` or ``year``). :attr:`date` is its ISO form at that precision (``2023-10-03``,
    ``2023-09``, ``2018``; a range's first day) and :attr:`until` a range's last day."""

    start: _dt.date
    end: _dt.date
    precision: str

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.end < self.start:
            raise ValueError(f"a date range ends before it starts: {self.start}..{self.end}")

    @classmethod
    def day(cls, d: _dt.date) -> "When":
        return cls(d, d, "day")

    @classmethod
    def month(cls, year: int, month: int) -> "When":
        return cls(_dt.date(year, month, 1), _dt.date(year, month, calendar.monthrange(year, month)[1]), "month")

    @classmethod
    def year(cls, year: int) -> "When":
        return cls(_dt.date(year, 1, 1), _dt.date(year, 12, 31), "year")

    @classmethod
    def range(cls, start: _dt.date, end: _dt.date) -> "When":
        return cls.day(start) if start == end else cls(start, end, "range")

    @classmethod
    def parse(cls, date: str, precision: str, end: str | None = None) -> "When":
        """The inverse of (:attr:`date`, :attr:`precision`, :attr:`until`)."""
        if precision == "day":
            return cls.day(_dt.date.fromisoformat(date))
        if precision == "month":
            y, m = date.split("-")
            return cls.month(int(y), int(m))
        if precision == "year":
            return cls.year(int(date))
        if precision == "range" and end:
            return cls(_dt.date.fromisoformat(date), _dt.date.fromisoformat(end), "range")
        raise ValueError(f"bad date {date!r} / precision {precision!r} / end {end!r}")

    @property
    def date(self) -> str:
        if self.precision == "month":
            return self.start.isoformat()[:7]
        if self.precision == "year":
            return str(self.start.year)
        return self.start.isoformat()

    @property
    def until(self) -> str | None:
        return self.end.isoformat() if self.precision == "range" else None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def overlaps(self, other: "When") -> bool:
        return self.start <= other.end and other.start <= self.end

    def contains(self, other: "When") -> bool:
        return self.start <= other.start and other.end <= self.end

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "precision": self.precision, "end": self.until}


# ---------------------------------------------------------------------------------- dateparser
_parser_lock = threading.Lock()


def _dateparser(text: str, base: _dt.date) -> tuple[_dt.date, str] | None:
    """``dateparser``'s reading of ``text`` against ``base``: (day, period) or None."""
    from dateparser.date import DateDataParser  # imported lazily: 0.2 s

    settings = {"RELATIVE_BASE": _dt.datetime(base.year, base.month, base.day), "PREFER_DAY_OF_MONTH": "first",
                "RETURN_TIME_AS_PERIOD": True, "PREFER_DATES_FROM": "current_period"}
    with _parser_lock:  # dateparser keeps per-parser state; calls are fast
        data = DateDataParser(languages=["en"], settings=settings).get_date_data(text)
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


def _explicit(text: str, base: _dt.date) -> When | None:
    """An explicit date (with or without a year) read by dateparser against ``base``."""
    parsed = _dateparser(text, base)
    if parsed is None:
        return None
    day, period = parsed
    if period == "day":
        return When.day(day)
    if period == "month":
        return When.month(day.year, day.month)
    if period == "year":
        return When.year(day.year)
    return None


def _past_year(when: When, base: _dt.date) -> When:
    """A year-less date read in ``base``'s year that would lie over a month after ``base`` is taken
    from the year before (news reports the past; a date weeks ahead is an announcement)."""
    if when.start <= base + _dt.timedelta(days=31):
        return when
    y = when.start.year - 1
    try:
        return When(when.start.replace(year=y), when.end.replace(year=y), when.precision)
    except ValueError:  # 29 February
        return when


def _month_part(month: When, part: str) -> When:
    key = part.replace("the ", "").replace(" of", "").strip()
    first, last = _PART_DAYS.get(key, (1, 31))
    last = min(last, month.end.day)
    return When.range(month.start.replace(day=first), month.start.replace(day=last))


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER[word]


# ---------------------------------------------------------------------------------- the rules
def normalise(phrase: str) -> str:
    """Lower case, one space, no leading preposition or article, no ordinal suffixes."""
    text = " ".join(phrase.replace("\u00a0", " ").split()).lower().strip(" ,.;:")
    text = _LEADING.sub("", text)
    return _ORDINAL.sub(r"\1", text)


def is_duration(phrase: str, before: str = "") -> bool:
    """True when the phrase (with the word before it) names a stretch of time or an age, not a point."""
    text = normalise(phrase)
    if before.lower() in NON_POINT_BEFORE:
        return True
    if re.search(r"-old\b|\bold\b", text):
        return True
    return bool(_DURATION.fullmatch(text)) and not re.search(r"\b(ago|later|earlier|after|before)\b", text)


def resolve(phrase: str, before: str = "", *, published: _dt.date | None = None,
            anchor: "When | _Unresolved | None" = None, year_anchor: "When | None" = None) -> "When | _Unresolved | None":
    """The date ``phrase`` names (see the module docstring).

    ``before``: the word right before the phrase in its sentence ("since", "for" make it a bound or a
    duration). ``published``: the article's publication day, or None. ``anchor``: the date stated
    earlier in the paragraph (for "four days later"; :data:`UNRESOLVED` when that date could not be
    resolved). ``year_anchor``: the date that gives a year-less date its year in an article without
    a publication date (the paragraph's earlier date; None when there is none)."""
    if is_duration(phrase, before):
        return None
    text = normalise(phrase)
    if not text or _VAGUE.search(text):
        return UNRESOLVED

    # "the very next day", "four days later": only against a date stated earlier in the paragraph
    rel = _REL_UNIT.fullmatch(text)
    next_day, prev_day = _NEXT_DAY.fullmatch(text), _PREV_DAY.fullmatch(text)
    if next_day or prev_day or (rel and rel["dir"] != "ago"):
        return _from_anchor(anchor, rel, 1 if next_day else -1)

    has_year = bool(_YEAR.search(text))

    # ranges of days: "September 11-20", "from September 11 to 20, 2023", "11–20 September 2023"
    m = _RANGE_MD.fullmatch(text) or _RANGE_DM.fullmatch(text)
    if m:
        base = _base(has_year, published, year_anchor)
        if base is None:
            return UNRESOLVED
        year = f" {m['y']}" if m["y"] else ""
        first, last = _explicit(f"{m['m']} {m['d1']}{year}", base), _explicit(f"{m['m']} {m['d2']}{year}", base)
        if first is None or last is None or first.precision != "day" or last.start < first.start:
            return UNRESOLVED
        span = When.range(first.start, last.start)
        return span if has_year or published is None else _past_year(span, published)

    # two dates joined: "the second half of September and October", "between 1988 and 1989"
    joined = re.fullmatch(r"(?P<a>.+?)\s+(?:and|to|through|until|-|–)\s+(?P<b>.+)", text)
    if joined:
        first = resolve(joined["a"], published=published, anchor=anchor, year_anchor=year_anchor)
        if isinstance(first, When):
            last = resolve(joined["b"], published=published, anchor=first, year_anchor=first)
            if isinstance(last, When) and last.end > first.end and last.start >= first.start:
                return When.range(first.start, last.end)
        return UNRESOLVED

    # seasons: "autumn 2020", "the fall of 2020", "last fall" (year precision: a season is not a month)
    s = _SEASON.fullmatch(text)
    if s:
        if s["y"]:
            return When.year(int(s["y"]))
        if published is None:
            return UNRESOLVED
        return When.year(_season_year(published, s["s"], s["rel"]))

    # weekdays: the last one on or before the publication day
    w = re.fullmatch(rf"(?:(?:last|this|past)\s+)?({'|'.join(_WEEKDAYS)})", text)
    if w:
        if published is None:
            return UNRESOLVED
        back = (published.weekday() - _WEEKDAYS.index(w[1])) % 7
        if text.startswith("last") and back == 0:
            back = 7
        return When.day(published - _dt.timedelta(days=back))

    # relative to the publication day
    pub_rel = _relative_to_publication(text, published)
    if pub_rel is not None:
        return pub_rel

    # "early September", "the end of April", "the second half of September"
    part = _PART.fullmatch(text)
    if part:
        whole = resolve(part["rest"], published=published, year_anchor=year_anchor)
        if isinstance(whole, When) and whole.precision == "month":
            return _month_part(whole, part["part"])
        return whole if isinstance(whole, When) and whole.precision == "year" else UNRESOLVED

    # "February of this year", "September of last year"
    mo = re.fullmatch(rf"({_MONTH})\s+(?:of\s+)?(this|last|next)\s+year", text)
    if mo:
        if published is None:
            return UNRESOLVED
        year = published.year + {"this": 0, "last": -1, "next": 1}[mo[2]]
        return When.month(year, _MONTHS[mo[1].rstrip(".")])
    mo = re.fullmatch(rf"(last|this|past)\s+({_MONTH})", text)
    if mo:
        if published is None:
            return UNRESOLVED
        month = _MONTHS[mo[2].rstrip(".")]
        year = published.year if month < published.month or (mo[1] == "this" and month == published.month) else published.year - 1
        return When.month(year, month)

    if not re.search(rf"\b{_MONTH}|\d", text):
        return UNRESOLVED  # words dateparser might read ("the time", "then"), but no date
    base = _base(has_year, published, year_anchor)
    if base is None:
        return UNRESOLVED
    when = _explicit(text, base)
    if when is None:
        return UNRESOLVED
    if not has_year and published is not None:
        when = _past_year(when, published)
    return when


def _season_year(published: _dt.date, season: str, rel: str | None) -> int:
    """The year of the season meant in an article of ``published``: the latest one that has begun by
    then ("this fall", "fall"), or the latest one that has ended by then ("last fall")."""
    first, last = _SEASONS[season]
    for year in range(published.year, published.year - 3, -1):
        start = _dt.date(year, first, 1)
        end_year = year + 1 if first > last else year
        end = _dt.date(end_year, last, calendar.monthrange(end_year, last)[1])
        if (end < published) if rel in ("last", "past") else (start <= published):
            return year
    return published.year - 1


def _from_anchor(anchor: "When | _Unresolved | None", rel: "re.Match[str] | None", step: int) -> "When | _Unresolved":
    """"four days later", "the very next day" from the date stated earlier in the paragraph; a step
    finer than the anchor's precision ("two days later" after "in September") is unresolvable."""
    if not isinstance(anchor, When):
        return UNRESOLVED
    unit = rel["u"] if rel else "day"
    finest = {"day": ("day",), "week": ("day",), "month": ("day", "month"), "year": ("day", "month", "year")}[unit]
    if anchor.precision not in finest:
        return UNRESOLVED
    if rel is None:
        return When.day(anchor.start + _dt.timedelta(days=step))
    n = _count(rel["n"])
    later = rel["dir"] in ("later", "after", "afterwards")
    parsed = _dateparser(f"in {n} {unit}s" if later else f"{n} {unit}s ago", anchor.start)
    if parsed is None:
        return UNRESOLVED
    day = parsed[0]
    if anchor.precision == "year":
        return When.year(day.year)
    if anchor.precision == "month":
        return When.month(day.year, day.month)
    return When.day(day)


def _base(has_year: bool, published: _dt.date | None, year_anchor: When | None) -> _dt.date | None:
    """What a date is read against: anything for an absolute date (its year is in the text), else
    the publication day, else a date stated earlier in the paragraph, else nothing (unresolvable)."""
    if has_year:
        return published or _dt.date(2000, 1, 1)
    if published is not None:
        return published
    if year_anchor is not None:
        return year_anchor.start
    return None


def _relative_to_publication(text: str, published: _dt.date | None) -> "When | _Unresolved | None":
    """``today``, ``this week``, ``last month``, ``four years ago`` ...; None when ``text`` is none of these."""
    ago = _REL_UNIT.fullmatch(text)
    known = text in {"today", "tonight", "yesterday", "tomorrow", "this week", "last week", "next week",
                     "this month", "last month", "next month", "this year", "last year", "next year", "this weekend",
                     "last weekend"}
    if not known and not (ago and ago["dir"] == "ago"):
        return None
    if published is None:
        return UNRESOLVED
    p = published
    if text in ("today", "tonight"):
        return When.day(p)
    if text == "yesterday":
        return When.day(p - _dt.timedelta(days=1))
    if text == "tomorrow":
        return When.day(p + _dt.timedelta(days=1))
    monday = p - _dt.timedelta(days=p.weekday())
    if text == "this week":  # the seven days up to the publication day (a report looks back)
        return When.range(p - _dt.timedelta(days=6), p)
    if text == "last week":
        return When.range(monday - _dt.timedelta(days=7), monday - _dt.timedelta(days=1))
    if text == "next week":
        return When.range(monday + _dt.timedelta(days=7), monday + _dt.timedelta(days=13))
    if text in ("this weekend", "last weekend"):
        sat = monday + _dt.timedelta(days=5) - (_dt.timedelta(days=7) if text.startswith("last") or p.weekday() < 5 else _dt.timedelta(0))
        return When.range(sat, sat + _dt.timedelta(days=1))
    if text.endswith("month"):
        first = p.replace(day=1)
        if text.startswith("last"):
            first = (first - _dt.timedelta(days=1)).replace(day=1)
        elif text.startswith("next"):
            first = (first + _dt.timedelta(days=32)).replace(day=1)
        return When.month(first.year, first.month)
    if text.endswith("year") and not ago:
        return When.year(p.year + {"this": 0, "last": -1, "next": 1}[text.split()[0]])
    assert ago is not None
    parsed = _dateparser(f"{_count(ago['n'])} {ago['u']}s ago", p)
    if parsed is None:
        return UNRESOLVED
    day, unit = parsed[0], ago["u"]
    if unit == "year":
        return When.year(day.year)
    if unit == "month":
        return When.month(day.year, day.month)
    if unit == "week":
        start = day - _dt.timedelta(days=day.weekday())
        return When.range(start, start + _dt.timedelta(days=6))
    return When.day(day)
