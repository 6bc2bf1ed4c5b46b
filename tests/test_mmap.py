"""A memory-mapped index answers exactly like one loaded into memory, and loads lazily."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from index.store import IndexStore
from index.tables import ArticleTable, PassageTable
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
    # iteration yields every article id exactly once, each key decoding to its own article,
    # checked against the records file read independently of the lazy table
    files = sorted(sample_index.glob("segments/*/articles.jsonl"))  # format 2: records live in segments
    written = [json.loads(line)["doc_id"] for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(written) == 5 and list(store.articles) == sorted(written)
    assert all(store.articles[doc_id].doc_id == doc_id for doc_id in store.articles)
    assert {p.doc_id for p in passages} == set(written)

