"""Our BM25 (bm25s + our tokenizer) against the reference implementation rank_bm25.BM25Okapi."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.chunking import ChunkSettings, chunk_article
from index.ingest import load_articles
from index.lexical import BM25Settings, LexicalIndex, tokenize

from conftest import SAMPLE_CORPUS

QUERIES = [
    "why did Russia withdraw peacekeepers?",
    "Armenia CSTO summit boycott",
    "International Criminal Court Putin arrest warrant",
    "Zangezur corridor Turkey Nakhichevan",
    "US military exercises Eagle Partner",
    "Azerbaijan oil transit routes Caspian",
    "Pashinyan strategic mistake security",
]


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    passages = [p for a in load_articles([SAMPLE_CORPUS]) for p in chunk_article(a, ChunkSettings())]
    return [p.index_text(True) for p in passages]


def test_tokenizer_stems_and_drops_stop_words():
    assert tokenize("The peacekeepers were withdrawing from the region") == ["peacekeep", "were", "withdraw", "from", "region"]


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (0.9, 0.4), (1.2, 0.0)])
def test_scores_equal_bm25okapi(corpus_texts, k1, b):
    """bm25s's Robertson variant is Okapi BM25 divided by (k1 + 1): same scores, same ranking,
    wherever every query term has a positive idf (Okapi floors negative idf with epsilon)."""
    settings = BM25Settings(k1=k1, b=b, method="robertson")
    ours = LexicalIndex.build(corpus_texts, settings)
    tokenized = [tokenize(t, settings) for t in corpus_texts]
    ref = BM25Okapi(tokenized, k1=k1, b=b)
    df = Counter(t for doc in tokenized for t in set(doc))
    checked = 0
    for q in QUERIES:
        toks = tokenize(q, settings)
        if any(df[t] > len(tokenized) / 2 for t in toks):  # Okapi's raw idf < 0: floored
            continue
        checked += 1
        expected = ref.get_scores(toks)
        got = ours.scores(q) * (k1 + 1)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
        rows, _ = ours.search(q, 10)
        # same ranking (ties may come in either order): the reference scores of our top rows are its top scores
        np.testing.assert_allclose(expected[rows], np.sort(expected)[::-1][: len(rows)], rtol=1e-4)
    assert checked >= 4


def test_default_lucene_ranks_like_bm25okapi(corpus_texts):
    """The product default (Lucene idf, which never goes negative) agrees with Okapi on the top hit
    and orders the corpus nearly the same."""
    settings = BM25Settings()
    ours = LexicalIndex.build(corpus_texts, settings)
    ref = BM25Okapi([tokenize(t, settings) for t in corpus_texts], k1=settings.k1, b=settings.b)
    for q in QUERIES:
        a, r = ours.scores(q), ref.get_scores(tokenize(q, settings))
        # Okapi's top passage is ours too, or ties with it (two passages of one article can
        # score within 0.1% of each other, and the two idf formulas may order them differently)
        assert a[int(np.argmax(r))] >= 0.999 * a.max(), q
        rank_a, rank_r = np.argsort(np.argsort(-a)), np.argsort(np.argsort(-r))
        assert np.corrcoef(rank_a, rank_r)[0, 1] > 0.85, q


def test_unknown_terms_score_zero(corpus_texts):
    ours = LexicalIndex.build(corpus_texts)
    assert not ours.scores("zxqv blorf").any()
    rows, scores = ours.search("zxqv blorf", 5)
    assert len(rows) == len(scores) == 0


def test_settings_validated():
    with pytest.raises(ValueError):
        BM25Settings(k1=-1)
    with pytest.raises(ValueError):
        BM25Settings(b=2)
    with pytest.raises(ValueError):
        BM25Settings(method="tfidf")


# --- compiled search: the same top k as the NumPy formula over every row, on a real collection ---

@pytest.fixture(scope="module")
def scifact_lexical():  # noqa: ANN201
    import json

    from conftest import shared_dataset

    path = shared_dataset("scifact")
    docs = [json.loads(line) for line in (path / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line)["text"] for line in (path / "queries.jsonl").open(encoding="utf-8")][:150]
    texts = [f"{d.get('title', '')}\n{d['text']}" for d in docs]
    live = np.ones(len(texts), bool)
    live[::7] = False  # tombstones: left out of the statistics and never returned
    return LexicalIndex(BM25Settings(), LexicalIndex.build(texts).parts, live=live), queries


def _reference_top(lex: LexicalIndex, query: str, k: int, allowed=None):  # noqa: ANN001, ANN202
    """Top k from :meth:`LexicalIndex.scores` (NumPy, every row scored), ties by row."""
    s = lex.scores(query).astype(np.float64)
    ok = s > 0
    if allowed is not None:
        ok &= allowed
    cand = np.flatnonzero(ok)
    return LexicalIndex._top(cand, s[cand], k)


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("k", [1, 10, 100])
def test_compiled_search_returns_exactly_the_reference_top_k(scifact_lexical, monkeypatch, k, dense):
    """The compiled search (impacts, float64 accumulator, heap) gives the same rows, scores and tie
    order as the NumPy formula over every row, for every query, with tombstones and with an
    ``allowed`` filter, both when it ranks the rows hit and when it scans every row. Twice over,
    so the kept impacts and the reused working arrays are exercised too."""
    import index.lexical as lexical

    monkeypatch.setattr(lexical, "COMPILED_MIN_ROWS", 0)  # compiled at this size too
    monkeypatch.setattr(lexical, "_DENSE_SCAN", 10**9 if dense else 0)
    monkeypatch.setattr(lexical, "_CACHE_MIN_POSTINGS", 200)  # keep the impacts of this small collection's longer lists
    lex, queries = scifact_lexical
    allowed = np.random.default_rng(0).random(len(lex)) < 0.5
    compared = 0
    for _ in range(2):
        for q in queries:
            for mask in (None, allowed):
                want = _reference_top(lex, q, k, mask)
                got = lex.search(q, k, allowed=mask)
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), q
                assert not np.isin(got[0], np.flatnonzero(~lex._live)).any()  # tombstones never returned
                compared += len(want[0])
    assert compared > 150 * k  # real results were compared, not empty lists
    assert lex._impact_cache  # long lists kept their impacts


@pytest.mark.parametrize("dense", [True, False])
def test_compiled_search_ties_break_by_row(monkeypatch, dense):
    """Rows with equal scores come in row order, and the k-th place goes to the lower row, also
    when the lower row is reached last (the second query term's list)."""
    import index.lexical as lexical

    monkeypatch.setattr(lexical, "COMPILED_MIN_ROWS", 0)
    monkeypatch.setattr(lexical, "_DENSE_SCAN", 10**9 if dense else 0)
    lex = LexicalIndex.build(["apple pie", "banana", "apple pie", "apple pie", "cherry"])
    rows, scores = lex.search("apple", 2)
    assert rows.tolist() == [0, 2] and scores[0] == scores[1]
    rows, _ = lex.search("apple", 2, allowed=np.array([True, True, False, True, True]))
    assert rows.tolist() == [0, 3]
    lex = LexicalIndex.build(["cherry", "apple", "apple", "cherry", "banana"])
    rows, scores = lex.search("apple cherry", 2)  # apple's rows 1, 2 come first, then cherry's 0, 3
    assert rows.tolist() == [0, 1] and scores[0] == scores[1]


def test_small_indexes_are_searched_without_numba() -> None:
    """Below ``COMPILED_MIN_ROWS`` rows the NumPy path serves (same results, see above), so a
    one-shot search on a small index never loads the compiled kernels (~1 s from numba's cache)."""
    import subprocess
    import sys

    code = ("import sys; from index.lexical import LexicalIndex; "
            "lex = LexicalIndex.build(['apple pie', 'banana split', 'cherry pie']); "
            "rows, _ = lex.search('pie', 2); assert rows.tolist() == [0, 2], rows; "
            "assert 'index.bm25_kernels' not in sys.modules, 'kernels loaded'")
    from conftest import ROOT

    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
