"""HTML for the web UI's Timeline view: a vertical timeline of a story's events with year markers.

Each event is a card: its date (at its precision: "3 Oct 2023", "Sep 2023", "2018", "11–20 Sep 2023"),
"reported by N articles" when several report it, and each report's sentence highlighted (``<mark>``)
with its date phrase in bold, under the article's headline · publisher · date. Pure functions of
:class:`qa.timeline.Timeline`; every piece of article text is escaped (:func:`ui.render.esc`) and
only ``http(s)`` URLs become links.
"""

from __future__ import annotations

from itertools import groupby

from qa.timeline import Timeline, TimelineCitation, TimelineEvent

from .render import display_date, esc


def when_text(event: TimelineEvent) -> str:
    """The event's date as a reader says it, at its precision."""
    w = event.when
    if w.precision == "year":
        return str(w.start.year)
    if w.precision == "month":
        return w.start.strftime("%b %Y")
    if w.precision == "day":
        return f"{w.start.day} {w.start.strftime('%b %Y')}"
    if (w.start.year, w.start.month) == (w.end.year, w.end.month):
        return f"{w.start.day}–{w.end.day} {w.end.strftime('%b %Y')}"
    if w.start.year == w.end.year:
        return f"{w.start.day} {w.start.strftime('%b')} – {w.end.day} {w.end.strftime('%b %Y')}"
    return f"{w.start.day} {w.start.strftime('%b %Y')} – {w.end.day} {w.end.strftime('%b %Y')}"


def _quote(c: TimelineCitation) -> str:
    """The sentence, escaped and highlighted, its date phrase in bold."""
    s, e = c.mention_start - c.start, c.mention_end - c.start
    if not (0 <= s < e <= len(c.quote) and c.quote[s:e] == c.mention):
        return f"<mark>{esc(c.quote)}</mark>"
    return (f"<mark>{esc(c.quote[:s])}<strong class=\"qa-tl__mention\">{esc(c.quote[s:e])}</strong>"
            f"{esc(c.quote[e:])}</mark>")


def _source(c: TimelineCitation) -> str:
    bits = [f'<span class="qa-tl__title">{esc(c.title or c.doc_id)}</span>']
    if c.source:
        bits.append(f'<span class="qa-card__source">{esc(c.source)}</span>')
    if c.date:
        bits.append(f'<time class="qa-card__date" datetime="{esc(c.date)}">{esc(display_date(c.date))}</time>')
    return " · ".join(bits)


def event_html(event: TimelineEvent) -> str:
    w = event.when
    n = event.articles
    badge = f'<span class="qa-tl__badge">reported by {n} articles</span>' if n > 1 else ""
    reports = "".join(f'<li class="qa-tl__report"><p class="qa-tl__quote">{_quote(c)}</p>'
                      f'<p class="qa-card__meta qa-tl__source">{_source(c)}</p></li>' for c in event.citations)
    return (f'<li class="qa-tl__event qa-tl__event--{esc(w.precision)}">'
            f'<div class="qa-tl__when"><time datetime="{esc(w.start.isoformat())}">{esc(when_text(event))}</time>'
            f'<span class="qa-tl__precision">{esc(w.precision)}</span></div>'
            f'<div class="qa-card qa-tl__card">{badge}<ul class="qa-tl__reports">{reports}</ul></div></li>')


def timeline_html(timeline: Timeline) -> str:
    """The Timeline view: events grouped under year markers, in date order."""
    if not timeline.events:
        return ('<div class="qa-tl qa-tl--empty" role="status"><p>No dated events found in the articles about '
                f'“{esc(timeline.topic)}”. Try other words, or widen the filters.</p></div>')
    years = []
    for year, events in groupby(timeline.events, key=lambda e: e.when.start.year):
        items = "".join(event_html(e) for e in events)
        years.append(f'<section class="qa-tl__year" aria-label="{year}"><h3 class="qa-tl__year-label">{year}</h3>'
                     f'<ol class="qa-tl__events">{items}</ol></section>')
    return f'<div class="qa-tl" role="region" aria-label="Timeline of {esc(timeline.topic)}">{"".join(years)}</div>'


def summary_html(timeline: Timeline) -> str:
    """The line above the timeline (in the answer's place)."""
    several = sum(1 for e in timeline.events if e.articles > 1)
    extra = f", {several} of them reported by several articles" if several else ""
    return (f'<div class="qa-answer qa-tl__summary" role="status"><div class="qa-answer__label">Timeline</div>'
            f'<p class="qa-answer__text">“{esc(timeline.topic)}”: {len(timeline.events)} dated events from '
            f"{timeline.articles} articles{extra}, oldest first. Each date is as precise as the articles make it.</p></div>")
