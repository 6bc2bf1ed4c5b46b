"""The UI's source cards (ui/render.py), model-free: one card per article with headline ·
publisher · date, numbered cited passages, no raw scores outside the details toggle, and the
[n] preview."""

from __future__ import annotations

import re

from index.records import Article, Hit, Passage
from qa.answer import Answer, Citation
from ui import render

A = Article("a", "Russia-Armenia Relations Hit by Differences over Karabakh Dispute", "First passage. Second one.\n\nThird.",
            url="https://alwaght.net/en/1", date="2023-09-11", source="Alwaght")
B = Article("b", "Putin loses another ally", "Other text here.", date="2023-10-13T05:56:00-04:00")


def _answer() -> Answer:
    pa1 = Passage("pa1", "a", "First passage.", 0, 14, A.title)
    pa2 = Passage("pa2", "a", "Second one.\n\nThird.", 15, len(A.text), A.title)
    pb = Passage("pb", "b", "Other text here.", 0, 16, B.title)
    hits = [Hit(1, 0.0327, pa1, A, {"bm25": 0.5, "dense": 0.6}), Hit(2, 0.0311, pb, B, {"dense": 0.4}),
            Hit(3, 0.0299, pa2, A, {"bm25": 0.2})]
    cites = [Citation(1, "pa1", "a", A.title, A.source, A.date, A.url, pa1.text, "First passage.", 0, 14, 0.8),
             Citation(2, "pa2", "a", A.title, A.source, A.date, A.url, pa2.text, "Second one.", 15, 26, 0.7)]
    return Answer("q?", "First passage. [1] Second one. [2]", True, cites, hits)


def test_one_card_per_article_with_byline_and_numbered_passages():
    html = render.cards_html(_answer())
    cards = re.findall(r"<article\b.*?</article>", html, flags=re.S)
    assert len(cards) == 2  # article a's two cited passages share one card
    first = cards[0]
    assert f'href="{A.url}"' in first and A.title in first
    assert '<span class="qa-card__source">Alwaght</span> · <time class="qa-card__date" datetime="2023-09-11">11 Sep 2023</time>' in first
    assert 'id="qa-card-1"' in first and 'id="qa-card-2"' in first
    assert "<mark>First passage.</mark>" in first and "<mark>Second one.</mark>" in first
    assert 'class="qa-card__source"' not in cards[1]  # no publisher known: none shown, none invented
    assert "13 Oct 2023" in cards[1]
    visible = re.sub(r"<details class=\"qa-card__details\">.*?</details>", "", html, flags=re.S)
    assert "0.03" not in visible and "score" not in visible.lower() and "#1" not in visible
    assert "fused score 0.0327" in html and "bm25 0.5000" in html  # behind the toggle


def test_cite_marker_previews_source_and_quote():
    html = render.answer_html(_answer())
    m = re.search(r'<span class="qa-preview" id="qa-preview-1" role="tooltip">(.*?)</span></span>', html, flags=re.S)
    assert m and "Alwaght · 11 Sep 2023" in m.group(1) and "First passage." in m.group(1)
    assert 'aria-describedby="qa-preview-1"' in html and 'href="#qa-card-2"' in html


def test_display_date_and_coverage():
    assert render.display_date("2023-10-13T05:56:00-04:00") == "13 Oct 2023"
    assert render.display_date("sometime last spring") == "sometime last spring"
    rows = dict(render.coverage([A, B, Article("c", "t", "x")]))
    assert rows["Publishers"] == "1" and rows["Published"].startswith("11 Sep 2023 – 13 Oct 2023")


def test_two_quotes_of_one_passage_each_have_a_number_and_link_to_its_card():
    """Markers are one per quote ([n] is citations[n - 1]); the passage quoted twice is one card
    showing both numbers, and both markers lead to it (every href names an existing card)."""
    base = _answer()
    pa2 = base.results[2].passage
    third = Citation(3, "pa2", "a", A.title, A.source, A.date, A.url, pa2.text, "Third.", 28, 34, 0.6)
    ans = Answer("q?", "First passage. [1] Second one. [2] Third. [3]", True, [*base.citations, third], base.results)
    html = render.answer_html(ans)
    assert re.findall(r'<a class="qa-cite" href="#(qa-card-\d)"[^>]*>(\d)</a>', html) == [
        ("qa-card-1", "1"), ("qa-card-2", "2"), ("qa-card-2", "3")]
    assert 'id="qa-preview-3"' in html and '<q class="qa-preview__quote">Third.</q></span>' in html
    cards = render.cards_html(ans)
    assert re.findall(r'id="(qa-card-\d)"', cards) == ["qa-card-1", "qa-card-2"]
    passage = re.search(r'id="qa-card-2".*?</div>', cards, flags=re.S).group(0)
    assert re.findall(r'<span class="qa-card__n">(\d)</span>', passage) == ["2", "3"]
    assert re.findall(r'<span class="qa-mark__n"[^>]*>(\d)</span><mark>([^<]*)</mark>', passage) == [
        ("2", "Second one."), ("3", "Third.")]  # each quote carries its own number
    assert "qa-mark__n" not in re.search(r'id="qa-card-1".*?</div>', cards, flags=re.S).group(0)  # one quote: the badge


def test_index_panel_shows_when_the_index_was_last_updated():
    from dataclasses import replace

    from qa.engine import IndexStats

    stats = IndexStats("/x/qa-index", 5, 45, "sentence-transformers/all-MiniLM-L6-v2", 384, "2024-01-02T03:04:05+00:00", "1")
    html = render.stats_html(replace(stats, updated="2025-06-07T08:09:10+00:00"))
    assert "2025-06-07 08:09" in html and "2024-01-02" not in html
    assert "2024-01-02 03:04" in render.stats_html(stats)  # nothing written since it was built
