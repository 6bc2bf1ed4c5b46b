"""A memory-mapped index answers exactly like one loaded into memory, and loads lazily."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from index.store import ARTICLES, ArticleTable, IndexStore, PassageTable
from qa import Searcher

QUERIES = ["why did Russia withdraw peacekeepers?", "CSTO summit in Minsk", "Zangezur corridor", "strategic mistake"]


def test_mmap_index_answers_identically(sample_index: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    eager = Searcher(IndexStore.load(sample_index, mmap=False), embedder=embedder)
    mapped = Searcher(IndexStore.load(sample_index, mmap=True), embedder=embedder)
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
    written = [json.loads(line)["doc_id"] for line in (sample_index / ARTICLES).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(written) == 5 and list(store.articles) == sorted(written)
    assert all(store.articles[doc_id].doc_id == doc_id for doc_id in store.articles)
    assert {p.doc_id for p in passages} == set(written)


def test_index_without_lookup_tables_still_loads(sample_index: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Indexes written before the offset tables existed are scanned on load."""
    copy = tmp_path / "old"
    shutil.copytree(sample_index, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for name in ("passages.offsets.npy", "articles.keys.npy", "articles.lines.npy", "articles.offsets.npy"):
        (copy / name).unlink()
        manifest["files"].pop(name)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    old = Searcher(IndexStore.load(copy, mmap=True), embedder=embedder)
    new = Searcher(IndexStore.load(sample_index), embedder=embedder)
    for q in QUERIES:
        assert [h.to_dict() for h in old.search(q, k=5)] == [h.to_dict() for h in new.search(q, k=5)]
