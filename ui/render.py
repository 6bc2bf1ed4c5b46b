"""HTML fragments for the Gradio UI: the cited answer, source cards and index stats.

A source card is one *article*: headline (linked when its URL is known) · publisher · date,
then its passages, the cited ones numbered with the quoted sentences highlighted. Retrieval
scores and ids sit behind a "Retrieval details" toggle, never on the card itself.

Pure functions of library records; every piece of article text goes through :func:`html.escape`
(article content is untrusted), and only ``http(s)`` URLs become links.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from index.records import Article, Hit
from qa.answer import Answer, Citation
from qa.engine import IndexStats

MARKER = re.compile(r"\[(\d+)\]")
PARAGRAPH = re.compile(r"\n\s*\n")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def safe_url(url: str) -> str | None:
    try:
        parsed = urlparse(url.strip())
    except ValueError:
        return None
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else None


def card_id(n: int) -> str:
    return f"qa-card-{n}"


def passage_targets(citations: Sequence[Citation]) -> dict[str, int]:
    """The number that names each cited passage's card: that of its first quote (a passage
    quoted twice is one card showing both numbers)."""
    out: dict[str, int] = {}
    for c in citations:
        out.setdefault(c.passage_id, c.n)
    return out


def _spans(text: str, base: int, citations: Sequence[Citation]) -> tuple[list[tuple[int, int]], list[str]]:
    """Where each cited quote sits in a passage ``text`` that starts at article offset ``base``
    (overlapping quotes merged), and each span's citation numbers ("2", or "2 3" when merged)."""
    spans = []
    for c in citations:
        s, e = c.start - base, c.end - base
        if not (0 <= s < e <= len(text) and text[s:e] == c.quote):
            found = text.find(c.quote)
            if found < 0:
                continue
            s, e = found, found + len(c.quote)
        spans.append((s, e, c.n))
    spans.sort()
    merged: list[tuple[int, int]] = []
    numbers: list[list[int]] = []
    for s, e, n in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
            numbers[-1].append(n)
        else:
            merged.append((s, e))
            numbers.append([n])
    return merged, [" ".join(map(str, ns)) for ns in numbers]


def highlight(text: str, spans: Sequence[tuple[int, int]], labels: Sequence[str] = ()) -> str:
    """``text`` escaped, with each ``[start, end)`` span wrapped in ``<mark>``, preceded by its
    label (a citation number) when ``labels`` gives one."""
    out, pos = [], 0
    for i, (s, e) in enumerate(spans):
        out.append(esc(text[pos:s]))
        if i < len(labels) and labels[i]:
            out.append(f'<span class="qa-mark__n" aria-label="quote {esc(labels[i])}">{esc(labels[i])}</span>')
        out.append(f"<mark>{esc(text[s:e])}</mark>")
        pos = e
    out.append(esc(text[pos:]))
    return "".join(out)


#: Characters of context kept around the highlighted quotes of a long cited passage.
CONTEXT_CHARS = 260


def _cut_left(text: str, pos: int) -> int:
    """A start at or before ``pos`` that begins a word (prefer a paragraph or sentence start)."""
    if pos <= 0:
        return 0
    for sep in ("\n", ". ", " "):
        i = text.rfind(sep, max(0, pos - 80), pos)
        if i >= 0:
            return i + len(sep)
    return pos


def _cut_right(text: str, pos: int) -> int:
    if pos >= len(text):
        return len(text)
    for sep in ("\n", ". ", " "):
        i = text.find(sep, pos, pos + 80)
        if i >= 0:
            return i + (1 if sep == ". " else 0)
    return pos


def in_context(text: str, spans: Sequence[tuple[int, int]], context: int = CONTEXT_CHARS,
               labels: Sequence[str] = ()) -> str:
    """The quotes highlighted (and labelled, see :func:`highlight`) with up to ``context``
    characters around them; cut text becomes "…"."""
    if not spans:
        return highlight(text, spans)
    lo = _cut_left(text, spans[0][0] - context)
    hi = _cut_right(text, spans[-1][1] + context)
    shifted = [(s - lo, e - lo) for s, e in spans]
    body = highlight(text[lo:hi], shifted, labels)
    head = '<span class="qa-elided" title="passage continues">… </span>' if lo > 0 else ""
    tail = '<span class="qa-elided" title="passage continues"> …</span>' if hi < len(text) else ""
    return head + body + tail


def display_date(iso: str) -> str:
    """``2023-10-13T05:56:00-04:00`` -> ``13 Oct 2023``; other text is shown as given."""
    try:
        day = _dt.date.fromisoformat(iso.strip()[:10])
    except ValueError:
        return iso.strip()
    return f"{day.day} {day.strftime('%b %Y')}"


def byline(article: Article) -> str:
    """``publisher · date`` as HTML (unknown parts left out; ``""`` when both are unknown)."""
    bits = []
    if article.source:
        bits.append(f'<span class="qa-card__source">{esc(article.source)}</span>')
    if article.date:
        bits.append(f'<time class="qa-card__date" datetime="{esc(article.date)}">{esc(display_date(article.date))}</time>')
    if article.author:
        bits.append(f'<span class="qa-card__author">{esc(article.author)}</span>')
    return " · ".join(bits)


def _plain_byline(title: str, source: str, date: str) -> str:
    return " · ".join(x for x in (title, source, display_date(date) if date else "") if x)


def answer_html(answer: Answer) -> str:
    """The answer with each ``[n]`` as a link to the source card of its passage; hovering or
    focusing it shows a preview (headline · publisher · date and the quoted sentence) without
    leaving the answer. Each marker names one citation (``citations[n - 1]``); two quotes of one
    passage link to the same card."""
    if answer.status == "none" or not answer.citations:  # nothing retrieved is about it: no quotes
        return (
            '<div class="qa-answer qa-answer--none" role="status">'
            f'<p class="qa-answer__text">{esc(answer.answer)}</p>'
            '<p class="qa-answer__hint">Try rephrasing, widening the filters, or add articles that cover the question.</p>'
            "</div>"
        )
    by_n = {c.n: c for c in answer.citations}
    target = passage_targets(answer.citations)

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        c = by_n.get(n)
        if c is None:
            return m.group(0)
        label = _plain_byline(c.title or c.doc_id, c.source, c.date)
        card = card_id(target[c.passage_id])
        return (f'<span class="qa-cite-wrap"><a class="qa-cite" href="#{card}" data-card="{card}" '
                f'aria-describedby="qa-preview-{n}" aria-label="source {n}: {esc(label)}">{n}</a>'
                f'<span class="qa-preview" id="qa-preview-{n}" role="tooltip">'
                f'<span class="qa-preview__head">{esc(label)}</span>'
                f'<q class="qa-preview__quote">{esc(c.quote)}</q></span></span>')

    # every [n] in the answer text is a marker: the answerer leaves the articles' own bracketed
    # numbers out of it (qa.answer.answer_quote), and a number without a citation stays text
    body = MARKER.sub(link, esc(answer.answer))
    if answer.status == "evidence":  # the closest sentences, quoted and cited, under an honest label
        return (f'<div class="qa-answer qa-answer--evidence" role="status">'
                f'<div class="qa-answer__label">{esc(answer.label or "Closest passages")}</div>'
                f'<p class="qa-answer__text">{body}</p>{_timeline_offer(answer)}</div>')
    return (f'<div class="qa-answer" role="status"><div class="qa-answer__label">Answer</div>'
            f'<p class="qa-answer__text">{body}</p>{_timeline_offer(answer)}</div>')


def _timeline_offer(answer: Answer) -> str:
    """For a question that asks how a story developed: a pointer to the Timeline button."""
    if not answer.timeline:
        return ""
    return (f'<p class="qa-answer__hint qa-tl__offer">This asks how a story developed: press <b>Timeline</b> for '
            f"the dated events of “{esc(answer.timeline)}”, oldest first.</p>")


def _details(hits: Sequence[Hit]) -> str:
    """Retrieval details (scores, ranks, ids) behind a toggle: for the curious, not the reader."""
    rows = []
    for h in hits:
        parts = [f"rank {h.rank}", f"fused score {h.score:.4f}"]
        parts += [f"{name} {value:.4f}" for name, value in sorted(h.components.items())]
        rows.append(f"<li><code>{esc(h.passage.passage_id)}</code> chars {h.passage.start}-{h.passage.end}: "
                    f"{esc(', '.join(parts))}</li>")
    doc_id = hits[0].passage.doc_id if hits else ""
    return (f'<details class="qa-card__details"><summary>Retrieval details</summary>'
            f'<p>article <code>{esc(doc_id)}</code></p><ul>{"".join(rows)}</ul></details>')


def _article_card(hits: Sequence[Hit], numbers: dict[str, int], cites: dict[str, list[Citation]]) -> str:
    """One card per article: headline (a link when the URL is known), publisher · date, then its
    passages, each cited one with the numbers of its quotes and the quotes highlighted;
    ``numbers`` maps a cited passage to the number its card is named by (:func:`passage_targets`)."""
    a = hits[0].article
    title = esc(a.title or hits[0].passage.doc_id)
    url = safe_url(a.url)
    title_html = (f'<a class="qa-card__title" href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
                  if url else f'<span class="qa-card__title">{title}</span>')
    ns = [numbers[h.passage.passage_id] for h in hits if h.passage.passage_id in numbers]
    passages = []
    for h in hits:
        pid = h.passage.passage_id
        n = numbers.get(pid)
        spans, labels = _spans(h.passage.text, h.passage.start, cites.get(pid, ()))
        if len(cites.get(pid, ())) < 2:  # one quote: the passage's badge is its number
            labels = []
        text = in_context(h.passage.text, spans, labels=labels)
        text = PARAGRAPH.sub('<span class="qa-para"></span>', text)
        if n is not None:
            quoted = [c.n for c in cites.get(pid, ())] or [n]  # one number per quote of this passage
            badges = "".join(f'<span class="qa-card__n">{q}</span>' for q in quoted)
            passages.append(f'<div class="qa-card__passage qa-card__passage--cited" id="{card_id(n)}" tabindex="-1" '
                            f'aria-label="source {" and ".join(map(str, quoted))}">'
                            f'<span class="qa-card__ns" aria-hidden="true">{badges}</span>'
                            f'<p class="qa-card__text">{text}</p></div>')
        else:
            passages.append(f'<div class="qa-card__passage"><p class="qa-card__text">{text}</p></div>')
    meta = byline(a)
    cls = "qa-card qa-card--cited" if ns else "qa-card"
    label = f"{a.title or hits[0].passage.doc_id}" + (f", {a.source}" if a.source else "") + (
        f", {display_date(a.date)}" if a.date else "")
    return (
        f'<article class="{cls}" aria-label="{esc(label)}">'
        f'<header class="qa-card__head">{title_html}</header>'
        + (f'<div class="qa-card__meta">{meta}</div>' if meta else "")
        + "".join(passages) + _details(hits) + "</article>"
    )


def _by_article(hits: Sequence[Hit]) -> list[list[Hit]]:
    groups: dict[str, list[Hit]] = {}
    for h in hits:
        groups.setdefault(h.passage.doc_id, []).append(h)
    return list(groups.values())


def cards_html(answer: Answer | None = None, hits: Sequence[Hit] | None = None) -> str:
    """Source cards, one per article: first the cited articles (in citation order, each cited
    passage numbered with its quotes highlighted), then the other retrieved articles, folded."""
    hits = list(answer.results if answer is not None else hits or [])
    if not hits or (answer is not None and answer.status == "none"):  # off-topic: no article is shown as a match
        return ""
    citations = answer.citations if answer is not None else []
    cites: dict[str, list[Citation]] = {}
    for c in citations:
        cites.setdefault(c.passage_id, []).append(c)
    number = passage_targets(citations)
    cited_docs = {h.passage.doc_id for h in hits if h.passage.passage_id in number}
    cited = [sorted(g, key=lambda h: number.get(h.passage.passage_id, 10**6))
             for g in _by_article([h for h in hits if h.passage.passage_id in number])]
    cited.sort(key=lambda g: number[g[0].passage.passage_id])
    rest = _by_article([h for h in hits if h.passage.doc_id not in cited_docs])
    parts = []
    if cited:
        parts.append(f'<h3 class="qa-section">Sources <span class="qa-count">{len(cited)}</span></h3>')
        parts += [_article_card(g, number, cites) for g in cited]
    if rest:
        heading = "More articles that matched" if cited else "Articles that matched"
        inner = "".join(_article_card(g, number, cites) for g in rest)
        parts.append(f'<details class="qa-more"{"" if cited else " open"}><summary class="qa-section">{heading} '
                     f'<span class="qa-count">{len(rest)}</span></summary>{inner}</details>')
    return f'<div class="qa-cards">{"".join(parts)}</div>'


def coverage(articles: Sequence[Any]) -> list[tuple[str, str]]:
    """Stats rows about the articles themselves: their date span and how many publishers."""
    days = sorted(a.date[:10] for a in articles if a.date[:4].isdigit())
    rows = []
    if days:
        span = display_date(days[0]) + (f" – {display_date(days[-1])}" if days[-1] != days[0] else "")
        rows.append(("Published", f"{esc(span)} <span class=\"qa-stats__note\">({len(days):,} dated)</span>"))
    names = {a.source for a in articles if a.source}
    rows.append(("Publishers", f"{len(names):,}"))
    return rows


def stats_html(stats: IndexStats | None, error: str | None = None, extra: Sequence[tuple[str, str]] = ()) -> str:
    """The index panel; ``extra`` rows (label, trusted HTML) follow the article and passage counts.
    "Updated" shows ``stats.updated`` (the manifest's time of the last write: build, add or
    delete), or the creation time when it is not known."""
    if stats is None:
        return f'<div class="qa-stats qa-stats--error" role="alert">{esc(error or "no index loaded")}</div>'
    updated = stats.updated or stats.created
    when = updated
    when = when.replace("T", " ")[:16] if when else "unknown"
    model = stats.model.rsplit("/", 1)[-1]
    rows = [("Articles", f"{stats.articles:,}"), *extra, ("Passages", f"{stats.passages:,}"),
            ("Model", f'<span title="{esc(stats.model)}">{esc(model)}</span> ({stats.dim}-d)'),
            ("Updated", f'<time datetime="{esc(updated)}">{esc(when)}</time>'), ("Index", f'<code>{esc(stats.index_dir)}</code>')]
    cells = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="qa-stats">{cells}</dl>'


def error_html(message: str) -> str:
    return f'<div class="qa-answer qa-answer--error" role="alert"><p class="qa-answer__text">{esc(message)}</p></div>'


EMPTY_ANSWER = ('<div class="qa-answer qa-answer--empty"><p class="qa-answer__text">Ask a question about the indexed '
                "news: the answer quotes the articles, and every sentence links to its source.</p></div>")
