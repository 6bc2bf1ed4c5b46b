"""Passages: sentence-aligned, sized for the model, overlapping, and quoting the source exactly."""

from __future__ import annotations

import pytest

from index.chunking import ChunkSettings, chunk_article, split_sentences
from index.ingest import load_articles
from index.records import Article

from conftest import SAMPLE_CORPUS


@pytest.fixture(scope="module")
def articles():
    return load_articles([SAMPLE_CORPUS])


def test_offsets_quote_the_source_exactly(articles, embedder):
    settings = ChunkSettings()
    for art in articles:
        passages = chunk_article(art, settings, embedder.count_tokens)
        assert passages
        for p in passages:
            assert art.text[p.start : p.end] == p.text
            assert p.text == p.text.strip()
        # every sentence of the article is in some passage
        covered = set()
        for p in passages:
            covered.update(range(p.start, p.end))
        for s, e in split_sentences(art.text):
            assert s in covered and e - 1 in covered


def test_passages_fit_the_model(articles, embedder):
    settings = ChunkSettings(max_tokens=120)
    for art in articles:
        for p in chunk_article(art, settings, embedder.count_tokens):
            # word pieces of the passage (with [CLS]/[SEP]) stay within budget plus a sentence's special tokens
            assert embedder.count_tokens([p.text])[0] <= settings.max_tokens + 2 * len(split_sentences(p.text))


def test_sentence_overlap(articles):
    art = articles[0]
    one = chunk_article(art, ChunkSettings(max_tokens=60, overlap_sentences=1))
    none = chunk_article(art, ChunkSettings(max_tokens=60, overlap_sentences=0))
    assert len(one) > len(none) > 1
    for a, b in zip(none, none[1:]):
        assert a.end <= b.start  # no overlap
    overlaps = [a.end > b.start for a, b in zip(one, one[1:])]
    assert sum(overlaps) >= len(one) // 2


def test_stable_content_ids(articles):
    art = articles[1]
    first = chunk_article(art, ChunkSettings())
    again = chunk_article(art, ChunkSettings())
    assert [p.passage_id for p in first] == [p.passage_id for p in again]
    assert len({p.passage_id for p in first}) == len(first)
    edited = Article(art.doc_id, art.title, art.text + "\n\nA new closing paragraph was added later.")
    changed = chunk_article(edited, ChunkSettings())
    assert changed[0].passage_id == first[0].passage_id  # unchanged passages keep their id
    assert changed[-1].passage_id != first[-1].passage_id


def test_overlong_sentence_is_split():
    art = Article("d", "t", " ".join(["word"] * 600) + ".")
    passages = chunk_article(art, ChunkSettings(max_tokens=100, overlap_sentences=0))
    assert len(passages) >= 7
    assert all(art.text[p.start : p.end] == p.text for p in passages)


def test_unicode_offsets():
    text = "Ayşegül Ketenci said “no.” Then Türkiye — a partner — agreed.\n\nA new paragraph starts here."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Ayşegül Ketenci said “no.”", "Then Türkiye — a partner — agreed.", "A new paragraph starts here."]


def test_settings_validated():
    with pytest.raises(ValueError):
        ChunkSettings(max_tokens=4)
    with pytest.raises(ValueError):
        ChunkSettings(overlap_sentences=-1)
