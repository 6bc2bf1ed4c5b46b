"""Story timelines: the dated events that a set of articles reports, one entry per event.

Pipeline (docs/timeline.md):

1. :func:`article_sentences` cuts an article into sentences (``index.chunking.split_sentences``, so
   a quote is ``article.text[start:end]`` exactly) and numbers their paragraphs;
2. :func:`date_mentions` finds each sentence's date phrases: spaCy's DATE entities (through
   :mod:`qa.tagger`, loaded once), joined where spaCy splits one date ("February 24" + "2022"),
   plus explicit month-and-day dates spaCy missed ("Between September 11-20");
3. :func:`extract_reports` resolves each phrase with :func:`qa.dates.resolve` against the article's
   publication day or the date stated earlier in the paragraph, and keeps the sentences that report
   something happening (:func:`is_event_sentence`); an unresolvable phrase is left out, never guessed;
4. :func:`merge_reports` joins reports of one event: dates that overlap (a day inside a month, two
   ranges that meet) and sentences close in meaning (embedding cosine >= :data:`MERGE_SIMILARITY`
   with every report already in the entry); an entry takes the narrowest date of its reports;
5. :func:`build_timeline` orders the entries by date (first day, then last day).

Steps 1, 3-5 are pure functions of their inputs; the tagger and the embedder are passed in
(``Engine.timeline`` passes the project's own, loaded once).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index.chunking import PARA_BREAK, split_sentences
from index.records import Article

from .dates import PRECISIONS, UNRESOLVED, When, resolve
from .filters import NO_FILTER, SearchFilter, article_day
from .tagger import Tagged, tag_many

#: Passages the topic search reads by default; the timeline reads every article among them.
TIMELINE_K = 30
#: Mean cosine similarity (sentence embeddings) a report needs with the reports of an entry to join
#: it, by the coarsest precision of the two dates: a day holds few events, a year many, so a
#: year-precision report needs sentences that say nearly the same (tuned on the tune split of
#: eval/timeline_events.jsonl; docs/timeline.md).
MERGE_SIMILARITY = {"day": 0.55, "range": 0.55, "month": 0.55, "year": 0.75}
#: Sentences shorter than this many words (headings, captions, datelines) report nothing.
MIN_WORDS = 5
#: Longest sentence read (a longer "sentence" is a table or a run-on page dump).
MAX_SENTENCE_CHARS = 1500

#: Cheap test for a sentence that may hold a date phrase; only these go through the tagger.
_DATE_CUE = re.compile(r"\d|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
                       r"|\b(?:today|yesterday|tomorrow|ago|later|earlier|week|month|year|day|spring|summer|fall|autumn|winter)s?\b",
                       re.IGNORECASE)
_MONTH_DATE = re.compile(r"\b(?:\d{1,2}(?:st|nd|rd|th)?\s*(?:-|–|to|and)\s*)?(?:\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?)?"
                         r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
                         r"(?:\s+\d{1,2}(?:st|nd|rd|th)?(?:\s*(?:-|–|to|and)\s*\d{1,2}(?:st|nd|rd|th)?)?)?(?:,?\s+\d{4})?\b")
_FINITE = {"VBD", "VBZ", "VBP"}
_NON_FINITE = {"VB", "VBN", "VBG"}

#: Finest first: day 0, range 1, month 2, year 3.
PRECISION_RANK = {p: n for n, p in enumerate(PRECISIONS)}

Tagger = Callable[[Sequence[str]], list[Tagged]]
Embed = Callable[[Sequence[str]], np.ndarray]


# ---------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class TimelineCitation:
    """One article's report of an event: the sentence ``quote`` = ``article.text[start:end]``, and the
    date phrase in it (``mention`` at ``mention_start:mention_end`` of the article text) resolved to
    ``when``. ``date`` is the article's publication date (as in search results)."""

    doc_id: str
    title: str
    source: str
    date: str
    quote: str
    start: int
    end: int
    mention: str
    mention_start: int
    mention_end: int
    when: When
    basis: str  # absolute | publication | paragraph: what the date phrase was resolved against

    def to_dict(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "title": self.title, "source": self.source, "date": self.date,
                "quote": self.quote, "start": self.start, "end": self.end,
                "mention": {"text": self.mention, "start": self.mention_start, "end": self.mention_end,
                            "date": self.when.date, "precision": self.when.precision, "end_date": self.when.until,
                            "basis": self.basis}}


@dataclass(frozen=True)
class TimelineEvent:
    """One event: its date (the narrowest its reports give), the sentence that tells it, and every
    report of it (at most one per sentence)."""

    when: When
    text: str
    citations: tuple[TimelineCitation, ...]

    @property
    def articles(self) -> int:
        """How many articles report it."""
        return len({c.doc_id for c in self.citations})

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.when.date, "precision": self.when.precision, "end": self.when.until,
                "text": self.text, "citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True)
class Timeline:
    """The events of ``topic`` in date order; ``filters`` are the search filters that chose the articles."""

    topic: str
    filters: SearchFilter = NO_FILTER
    events: tuple[TimelineEvent, ...] = field(default_factory=tuple)
    articles: int = 0  # articles read

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``qa timeline --json`` and ``POST /api/timeline``."""
        return {"topic": self.topic, "filters": self.filters.to_dict(), "events": [e.to_dict() for e in self.events]}


# ---------------------------------------------------------------------------------- sentences
def article_sentences(text: str) -> list[tuple[int, int, int]]:
    """``(start, end, paragraph)`` of each sentence; paragraphs are numbered from 0."""
    breaks = [m.end() for m in PARA_BREAK.finditer(text)]
    out, para = [], 0
    for s, e in split_sentences(text):
        while para < len(breaks) and breaks[para] <= s:
            para += 1
        out.append((s, e, para))
    return out


def date_mentions(sentence: str, tagged: Tagged) -> list[tuple[int, int]]:
    """Spans of the date phrases in ``sentence``: spaCy's DATE entities, an entity and a year right
    after it joined ("February 24" ", " "2022"; "the fall of" "2020"), two entities joined by "and" or
    "to" (one span of time), and explicit month dates with a number that spaCy missed."""
    spans: list[list[int]] = []
    for e in tagged.entities:
        if e.label != "DATE":
            continue
        gap = sentence[spans[-1][1]:e.start] if spans else ""
        if spans and (re.fullmatch(r",?\s*(?:of\s+)?", gap) and re.fullmatch(r"\d{4}", e.text.strip())
                      or re.fullmatch(r"\s*(?:and|to|through|until|-|–)\s*", gap)):
            spans[-1][1] = e.end  # "February 24" + "2022"; "the second half of September" + "and" + "October"
        else:
            spans.append([e.start, e.end])
    for m in _MONTH_DATE.finditer(sentence):
        if re.search(r"\d", m.group()) and not any(s < m.end() and m.start() < e for s, e in spans):
            spans.append([m.start(), m.end()])
    return sorted((s, e) for s, e in spans)


def is_event_sentence(sentence: str, tagged: Tagged) -> bool:
    """True when the sentence reports something happening: long enough, not a question, with a finite
    lexical verb ("voted", "was summoned", "will be held"), or a copula with a noun after it ("the
    first moment was the election ..."); not a pure state ("things were quite different in 2023",
    "there was an opportunity ...") or a fragment (a caption, a dateline)."""
    words = sentence.split()
    if len(words) < MIN_WORDS or sentence.rstrip().endswith("?"):
        return False
    toks = tagged.tokens
    for i, t in enumerate(toks):
        if t.pos != "VERB":
            continue
        if t.tag in _FINITE:
            return True
        if t.tag in _NON_FINITE:
            j = i - 1
            while j >= 0 and (toks[j].pos == "ADV" or toks[j].lemma in ("not", "n't")):
                j -= 1
            if j >= 0 and toks[j].pos == "AUX":
                return True
    for i, t in enumerate(toks):
        if t.pos == "AUX" and t.lemma == "be" and t.tag in _FINITE:
            if i > 0 and toks[i - 1].text.lower() == "there":
                continue
            j = i + 1
            while j < len(toks) and toks[j].pos in ("ADV", "PART"):
                j += 1
            if j < len(toks) and toks[j].pos in ("DET", "NOUN", "PROPN", "NUM", "PRON"):
                return True
    return False


# ---------------------------------------------------------------------------------- extraction
@dataclass(frozen=True)
class _Sentence:
    start: int
    end: int
    paragraph: int
    text: str


def candidate_sentences(article: Article) -> list[_Sentence]:
    """The sentences of ``article`` that may hold a date phrase (only these are tagged)."""
    text = article.text
    return [_Sentence(s, e, p, text[s:e]) for s, e, p in article_sentences(text)
            if e - s <= MAX_SENTENCE_CHARS and _DATE_CUE.search(text[s:e])]


def extract_reports(article: Article, tagger: Tagger = tag_many) -> list[TimelineCitation]:
    """Every dated event sentence of ``article`` (one report per resolvable date phrase of it).

    A phrase relative to the article ("on Thursday", "this week") resolves against its publication
    day; "four days later" against the first date of the latest earlier sentence of the paragraph
    that states one (the first sentence of a paragraph may use the previous paragraph's); a year-less
    date in an article without a publication day against that same earlier date. No date is guessed."""
    published = article_day(article)
    sentences = candidate_sentences(article)
    tags = tagger([s.text for s in sentences]) if sentences else []
    out: list[TimelineCitation] = []
    anchor: When | object | None = None  # the paragraph's latest stated date (UNRESOLVED: stated, unknown)
    paragraph, carried = -1, None
    for sent, tagged in zip(sentences, tags):
        if sent.paragraph != paragraph:
            # a new paragraph starts without a date of its own; its first sentence may still say
            # "the very next day" of the last date of the paragraph before (when adjacent)
            carried = anchor if sent.paragraph == paragraph + 1 else None
            paragraph, anchor, first_in_para = sent.paragraph, None, True
        else:
            first_in_para = False
        eventful = is_event_sentence(sent.text, tagged)
        own: When | object | None = None  # the first date this sentence states
        for s, e in date_mentions(sent.text, tagged):
            phrase = sent.text[s:e]
            before = re.findall(r"[\w']+", sent.text[:s])
            # "four days later": the first date of this sentence, else of the paragraph so far (else, in
            # a paragraph's first sentence, the last one of the paragraph before); a year-less day in an
            # undated article: a date stated earlier in this paragraph only
            same_paragraph = own if own is not None else anchor
            prev = same_paragraph if same_paragraph is not None else (carried if first_in_para else None)
            year_anchor = same_paragraph if isinstance(same_paragraph, When) else None
            when = resolve(phrase, before[-1] if before else "", published=published, anchor=prev,  # type: ignore[arg-type]
                           year_anchor=year_anchor)
            if when is None:
                continue  # a duration or a bound: no point in time
            if own is None:
                own = when
            if when is UNRESOLVED or not eventful:
                continue
            assert isinstance(when, When)
            out.append(TimelineCitation(
                doc_id=article.doc_id, title=article.title, source=article.source, date=article.date, quote=sent.text,
                start=sent.start, end=sent.end, mention=phrase, mention_start=sent.start + s, mention_end=sent.start + e,
                when=when, basis=_basis(phrase, when, published)))
        if own is not None:
            anchor = own
    return out


def _basis(phrase: str, when: When, published: _dt.date | None) -> str:
    """What a phrase was resolved against: ``absolute`` (its year is written), ``publication`` or ``paragraph``."""
    if re.search(r"\b(1[5-9]\d\d|20\d\d)\b", phrase) and not re.search(r"later|earlier|after|before|next|following", phrase, re.I):
        return "absolute"
    if published is not None and not re.search(r"later|earlier|afterwards|next day|following day|day before|previous day",
                                                phrase, re.I):
        return "publication"
    return "paragraph"


# ---------------------------------------------------------------------------------- merging
def compatible(a: When, b: When) -> bool:
    """Two dates can be of one event: one holds the other (a day in its month, a month in its year)
    or two ranges overlap."""
    return a.contains(b) or b.contains(a) or (a.precision == b.precision == "range" and a.overlaps(b))


def _narrowest(reports: Sequence[TimelineCitation]) -> When:
    return min((r.when for r in reports), key=lambda w: (w.days, w.start))


def _need(a: When, b: When, similarity: dict[str, float]) -> float:
    coarsest = max(PRECISION_RANK[a.precision], PRECISION_RANK[b.precision])
    return similarity[PRECISIONS[coarsest]]


def merge_reports(reports: Sequence[TimelineCitation], embed: Embed | None,
                  similarity: dict[str, float] | None = None) -> list[TimelineEvent]:
    """Group ``reports`` into events. A report joins the entry whose reports all have dates compatible
    with its own (:func:`compatible`) and whose mean cosine with it is highest, if that mean reaches
    :data:`MERGE_SIMILARITY` for the coarsest precision involved; one sentence never appears twice in
    an entry. Narrow dates are placed first, so a month report joins the day it holds. ``embed``
    (texts -> unit vectors) is only called for sentences that have a compatible partner; without it
    nothing merges."""
    need = similarity or MERGE_SIMILARITY
    order = sorted(range(len(reports)), key=lambda i: (reports[i].when.days, reports[i].when.start, reports[i].doc_id,
                                                       reports[i].start))
    partners = {i for i in order for j in order if i != j and reports[i].quote != reports[j].quote
                and compatible(reports[i].when, reports[j].when)}
    vec: dict[int, np.ndarray] = {}
    if partners and embed is not None:
        idx = sorted(partners)
        texts = list(dict.fromkeys(reports[i].quote for i in idx))
        vecs = embed(texts)
        by_text = {t: vecs[n] for n, t in enumerate(texts)}
        vec = {i: by_text[reports[i].quote] for i in idx}
    groups: list[list[int]] = []
    for i in order:
        best, best_margin = None, 0.0
        a = reports[i]
        for g in groups:
            if i not in vec or any(j not in vec or reports[j].quote == a.quote or not compatible(a.when, reports[j].when)
                                   for j in g):
                continue
            mean = float(np.mean([np.dot(vec[i], vec[j]) for j in g]))
            margin = mean - max(_need(a.when, reports[j].when, need) for j in g)
            if margin >= 0 and (best is None or margin > best_margin):
                best, best_margin = g, margin
        if best is None:
            groups.append([i])
        else:
            best.append(i)
    events = []
    for g in groups:
        cites = sorted((reports[i] for i in g), key=lambda c: (c.when.days, c.doc_id, c.start))
        events.append(TimelineEvent(when=_narrowest(cites), text=cites[0].quote, citations=tuple(cites)))
    return events


def order_events(events: Sequence[TimelineEvent]) -> list[TimelineEvent]:
    """Date order: first day, then last day (a month before the year that holds it is impossible:
    a year starts on 1 January), then the number of reporting articles (most first), then the text."""
    return sorted(events, key=lambda e: (e.when.start, e.when.end, -e.articles, e.text))


def build_timeline(topic: str, articles: Sequence[Article], *, filters: SearchFilter = NO_FILTER,
                   tagger: Tagger = tag_many, embed: Embed | None = None) -> Timeline:
    """The timeline of ``articles`` (already chosen for ``topic``): every dated event, merged, in date order."""
    texts = list(dict.fromkeys(x.text for a in articles for x in candidate_sentences(a)))
    tags = dict(zip(texts, tagger(texts))) if texts else {}  # one batch for every article: faster than one each
    reports: list[TimelineCitation] = []
    for a in articles:
        reports.extend(extract_reports(a, lambda batch: [tags[t] for t in batch]))
    events = order_events(merge_reports(reports, embed))
    return Timeline(topic=topic, filters=filters, events=tuple(events), articles=len(articles))
