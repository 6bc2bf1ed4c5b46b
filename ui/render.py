"""HTML fragments for the Gradio UI: the cited answer, passage cards and index stats.

Pure functions of library records; every piece of article text goes through :func:`html.escape`
(article content is untrusted), and only ``http(s)`` URLs become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import urlparse

from index.records import Hit
from qa.answer import Answer, Citation
from qa.engine import IndexStats

MARKER = re.compile(r"\[(\d+)\]")


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


def _spans(text: str, base: int, citations: Sequence[Citation]) -> list[tuple[int, int]]:
    """Where each cited quote sits in a passage ``text`` that starts at article offset ``base``."""
    spans = []
    for c in citations:
        s, e = c.start - base, c.end - base
        if not (0 <= s < e <= len(text) and text[s:e] == c.quote):
            found = text.find(c.quote)
            if found < 0:
                continue
            s, e = found, found + len(c.quote)
        spans.append((s, e))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` escaped, with each ``[start, end)`` span wrapped in ``<mark>``."""
    out, pos = [], 0
    for s, e in spans:
        out.append(esc(text[pos:s]))
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


def in_context(text: str, spans: Sequence[tuple[int, int]], context: int = CONTEXT_CHARS) -> str:
    """The quotes highlighted with up to ``context`` characters around them; cut text becomes "…"."""
    if not spans:
        return highlight(text, spans)
    lo = _cut_left(text, spans[0][0] - context)
    hi = _cut_right(text, spans[-1][1] + context)
    shifted = [(s - lo, e - lo) for s, e in spans]
    body = highlight(text[lo:hi], shifted)
    head = '<span class="qa-elided" title="passage continues">… </span>' if lo > 0 else ""
    tail = '<span class="qa-elided" title="passage continues"> …</span>' if hi < len(text) else ""
    return head + body + tail


def answer_html(answer: Answer) -> str:
    """The answer with each ``[n]`` as a link that jumps to (and highlights) passage card ``n``."""
    if not answer.confident:
        return (
            '<div class="qa-answer qa-answer--unsure" role="status">'
            f'<p class="qa-answer__text">{esc(answer.answer)}</p>'
            '<p class="qa-answer__hint">The closest passages are listed below; try rephrasing, or add articles '
            "that cover the question.</p></div>"
        )
    titles = {c.n: c.title or c.doc_id for c in answer.citations}

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in titles:
            return m.group(0)
        return (f'<a class="qa-cite" href="#{card_id(n)}" data-card="{card_id(n)}" '
                f'title="{esc(titles[n])}" aria-label="source {n}: {esc(titles[n])}">{n}</a>')

    body = MARKER.sub(link, esc(answer.answer))
    return (f'<div class="qa-answer" role="status"><div class="qa-answer__label">Answer</div>'
            f'<p class="qa-answer__text">{body}</p></div>')


def _card(hit: Hit, n: int | None, cites: Sequence[Citation]) -> str:
    a, p = hit.article, hit.passage
    title = esc(a.title or p.doc_id)
    url = safe_url(a.url)
    title_html = (f'<a class="qa-card__title" href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
                  if url else f'<span class="qa-card__title">{title}</span>')
    meta = [f'<span class="qa-card__source">{esc(a.source or p.doc_id)}</span>']
    if a.date:
        meta.append(f'<time class="qa-card__date">{esc(a.date)}</time>')
    meta.append(f'<span class="qa-card__score" title="retrieval score, rank {hit.rank}">score {hit.score:.4f}</span>')
    meta.append(f'<span class="qa-card__rank">#{hit.rank}</span>')
    badge = f'<span class="qa-card__badge" aria-hidden="true">{n}</span>' if n is not None else ""
    ident = f' id="{card_id(n)}"' if n is not None else ""
    cls = "qa-card qa-card--cited" if n is not None else "qa-card"
    label = f"source {n}: " if n is not None else ""
    return (
        f'<article class="{cls}"{ident} tabindex="-1" aria-label="{esc(label)}{title}">'
        f'<header class="qa-card__head">{badge}{title_html}</header>'
        f'<div class="qa-card__meta">{" · ".join(meta)}</div>'
        f'<p class="qa-card__text">{in_context(p.text, _spans(p.text, p.start, cites))}</p>'
        "</article>"
    )


def cards_html(answer: Answer | None = None, hits: Sequence[Hit] | None = None) -> str:
    """Cards for the cited passages (numbered, quotes highlighted), then the other retrieved ones."""
    hits = list(answer.results if answer is not None else hits or [])
    if not hits:
        return ""
    by_passage: dict[str, list[Citation]] = {}
    number: dict[str, int] = {}
    for c in answer.citations if answer is not None else []:
        by_passage.setdefault(c.passage_id, []).append(c)
        number.setdefault(c.passage_id, c.n)
    cited = sorted((h for h in hits if h.passage.passage_id in number), key=lambda h: number[h.passage.passage_id])
    rest = [h for h in hits if h.passage.passage_id not in number]
    parts = []
    if cited:
        parts.append(f'<h3 class="qa-section">Sources <span class="qa-count">{len(cited)}</span></h3>')
        parts += [_card(h, number[h.passage.passage_id], by_passage[h.passage.passage_id]) for h in cited]
    if rest:
        heading = "Other retrieved passages" if cited else "Retrieved passages"
        inner = "".join(_card(h, None, ()) for h in rest)
        parts.append(f'<details class="qa-more"{"" if cited else " open"}><summary class="qa-section">{heading} '
                     f'<span class="qa-count">{len(rest)}</span></summary>{inner}</details>')
    return f'<div class="qa-cards">{"".join(parts)}</div>'


def stats_html(stats: IndexStats | None, error: str | None = None) -> str:
    if stats is None:
        return f'<div class="qa-stats qa-stats--error" role="alert">{esc(error or "no index loaded")}</div>'
    created = stats.created.replace("T", " ")[:16] if stats.created else "unknown"
    model = stats.model.rsplit("/", 1)[-1]
    rows = [("Articles", f"{stats.articles:,}"), ("Passages", f"{stats.passages:,}"),
            ("Model", f'<span title="{esc(stats.model)}">{esc(model)}</span> ({stats.dim}-d)'),
            ("Updated", esc(created)), ("Index", f'<code>{esc(stats.index_dir)}</code>')]
    cells = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="qa-stats">{cells}</dl>'


def error_html(message: str) -> str:
    return f'<div class="qa-answer qa-answer--error" role="alert"><p class="qa-answer__text">{esc(message)}</p></div>'


EMPTY_ANSWER = ('<div class="qa-answer qa-answer--empty"><p class="qa-answer__text">Ask a question about the indexed '
                "news: the answer quotes the articles, and every sentence links to its source.</p></div>")
