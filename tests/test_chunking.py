"""Passages: sentence-aligned, sized for the model, overlapping, and quoting the source exactly."""

from __future__ import annotations

import pytest

from index.chunking import ChunkSettings, approx_token_counts, chunk_article, split_sentences
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


def _as_counted(text: str) -> str:
    """``text`` with every word cut into 100-character pieces: what the budget measures (the model's
    WordPiece reads a longer word as one [UNK], which says nothing of its length)."""
    return " ".join(w[i : i + 100] for w in text.split() for i in range(0, len(w), 100))


@pytest.mark.parametrize("length, model", [(5_000, True), (300_000, False)])  # the model's tokenizer takes 2 s a 300k word
def test_a_word_longer_than_the_budget_is_cut(embedder, length, model):
    import random
    import string

    rng = random.Random(length)
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
    text = f"The leaked file began with a long key. {word} Officials declined to comment on Friday."
    art = Article(doc_id="d", title="Leak", text=text)
    settings = ChunkSettings(max_tokens=200)
    for count in [embedder.count_tokens, approx_token_counts][0 if model else 1 :]:  # the model's tokenizer, the estimate
        passages = chunk_article(art, settings, count)
        assert all(text[p.start : p.end] == p.text for p in passages)
        assert max(len(p.text) for p in passages) < 1_000  # was one passage of the whole word
        assert max(count([_as_counted(p.text) for p in passages])) <= settings.max_tokens
        covered = {i for p in passages for i in range(p.start, p.end)}  # every character is in some passage
        assert all(i in covered for i in range(len(text)) if not text[i].isspace())


def test_a_long_word_in_a_small_budget(embedder):
    art = Article(doc_id="d", title="T", text="Short intro. " + "ab" * 3_000 + " and the end.")
    settings = ChunkSettings(max_tokens=16)
    passages = chunk_article(art, settings, embedder.count_tokens)
    assert max(embedder.count_tokens([_as_counted(p.text) for p in passages])) <= settings.max_tokens


def test_ordinary_words_count_as_before():
    text = "Russia has begun withdrawing https://twitter.com/301arm/status/1762902687517901030 troops."
    assert approx_token_counts([text]) == [int(len(text.split()) * 1.3) + 1]
    assert approx_token_counts(["x" * 400]) == [101]


def test_qa_index_warns_when_passages_outgrow_the_model(tmp_path, caplog):
    from qa.cli import main

    f = tmp_path / "note.txt"
    f.write_text("Harbour reopens\n\nThe harbour reopened on Monday after two weeks of repairs to the main pier.\n")
    with caplog.at_level("WARNING"):
        assert main(["index", str(f), "--index", str(tmp_path / "a"), "--max-tokens", "256", "--quiet"]) == 0
        assert not caplog.records
        assert main(["index", str(f), "--index", str(tmp_path / "b"), "--max-tokens", "100000", "--quiet"]) == 0
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith("--max-tokens 100000 is over the 256 word pieces the embedding model reads")
