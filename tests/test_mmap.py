"""A memory-mapped index answers exactly like one loaded into memory, and loads lazily."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from index.store import ArticleTable, IndexStore, PassageTable
from qa import Engine

QUERIES = ["why did Russia withdraw peacekeepers?", "CSTO summit in Minsk", "Zangezur corridor", "strategic mistake"]


def test_mmap_index_answers_identically(sample_index: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    eager = Engine.over(IndexStore.load(sample_index, mmap=False), embedder=embedder)
    mapped = Engine.over(IndexStore.load(sample_index, mmap=True), embedder=embedder)
    for q in QUERIES:
        for mode in ("bm25", "dense", "hybrid"):
            a, b = eager.search(q, k=5, mode=mode), mapped.search(q, k=5, mode=mode)
            assert [h.passage.passage_id for h in a] == [h.passage.passage_id for h in b]
            assert np.allclose([h.score for h in a], [h.score for h in b])
            assert [h.to_dict() for h in a] == [h.to_dict() for h in b]


def test_loaded_records_are_lazy_and_complete(sample_index: Path) -> None:
    store = IndexStore.load(sample_index, mmap=True)
    assert isinstance(store.passages, PassageTable) and isinstance(store.articles, ArticleTable)
    assert isinstance(store.embeddings, np.memmap)
    passages = list(store.passages)
    assert len(passages) == len(store.passages) and passages[-1] == store.passages[-1]
    for p in passages:
        assert store.articles[p.doc_id].text[p.start : p.end] == p.text
    assert "no-such-doc" not in store.articles and store.articles.get("no-such-doc") is None
    assert list(store.articles) == [a for a in dict(store.articles)]
