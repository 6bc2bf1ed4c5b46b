"""The on-disk index: idempotent re-ingest, incremental add, validation, and crash safety."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import index.store as store_mod
from index import IndexFormatError, IndexMissingError, IndexStore, QAError, build_index
from index.ingest import load_articles
from index.manifest import FORMAT_VERSION
from qa import Engine

from conftest import SAMPLE_CORPUS

NEW_ARTICLE = """Armenia and Azerbaijan sign border delimitation protocol

Armenia and Azerbaijan signed a protocol on the delimitation of a section of their shared border on Friday, officials in Yerevan said, returning four villages to Azerbaijani control.

The agreement was reached without Russian mediation, a sign of Moscow's waning role in the South Caucasus since its peacekeepers left Karabakh.
"""


class CountingEmbedder:
    """Wraps the real embedder and records how many texts were embedded."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.embedded = 0

    @property
    def dim(self):
        return self.inner.dim

    def encode(self, texts, **kw):
        self.embedded += len(texts)
        return self.inner.encode(texts, **kw)

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_manifest_records_settings(sample_index):
    m = json.loads((sample_index / "manifest.json").read_text())
    assert m["format"] == "qa-index" and m["format_version"] == FORMAT_VERSION
    assert m["settings"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert m["settings"]["dim"] == 384
    assert m["settings"]["bm25"]["k1"] > 0 and m["settings"]["chunking"]["max_tokens"] > 0
    assert m["counts"]["articles"] == 5 and m["counts"]["passages"] > 20
    assert all(len(f["sha256"]) == 64 for f in m["files"].values())
    # format 2: rows live in immutable segments; a generation number and a self-checksum
    seg = m["segments"][0]["name"]
    assert {f"segments/{seg}/passages.jsonl", f"segments/{seg}/articles.jsonl", f"segments/{seg}/embeddings.npy",
            "live.npy", "dense.faiss"} <= set(m["files"])
    assert m["generation"] >= 1 and len(m["checksum"]) == 64 and m["counts"]["rows"] >= m["counts"]["passages"]


def test_reingest_unchanged_is_a_noop(index_copy, embedder):
    before = snapshot(index_copy)
    counting = CountingEmbedder(embedder)
    report = build_index([SAMPLE_CORPUS], index_copy, embedder=counting)
    assert not report.written and report.articles_unchanged == 5
    assert counting.embedded == 0
    assert snapshot(index_copy) == before


def test_incremental_add_embeds_only_new_passages(index_copy, embedder, tmp_path):
    n_before = IndexStore.load(index_copy).manifest["counts"]["passages"]
    f = tmp_path / "new" / "border.txt"
    f.parent.mkdir()
    f.write_text(NEW_ARTICLE)
    counting = CountingEmbedder(embedder)
    report = build_index([f], index_copy, embedder=counting)
    assert report.articles_added == 1 and report.articles_total == 6
    assert counting.embedded == report.passages_embedded == report.passages_total - n_before
    hits = Engine.open(index_copy, embedder=embedder).search("border delimitation protocol villages", k=1)
    assert hits[0].passage.doc_id == "border"
    # an edited article replaces its passages, re-embedding only the changed one(s)
    f.write_text(NEW_ARTICLE + "\nThe protocol still needs parliament's approval in both countries.\n")
    counting.embedded = 0
    report = build_index([f], index_copy, embedder=counting)
    assert report.articles_updated == 1 and counting.embedded == 1
    store = IndexStore.load(index_copy)
    # the replaced row stays as a tombstone (rows are never renumbered); only live rows count
    assert len([row for row, p in enumerate(store.passages) if p.doc_id == "border" and store.live[row]]) == 1
    assert "parliament's approval" in store.articles["border"].text


def test_other_model_is_refused(index_copy, embedder):
    with pytest.raises(IndexFormatError, match="built with model"):
        build_index([SAMPLE_CORPUS], index_copy, model="/some/other/model")
    other = CountingEmbedder(embedder)
    other.name = "someone/else"
    with pytest.raises(IndexFormatError, match="built with model"):
        Engine.open(index_copy, embedder=other)


def test_format_version_mismatch(index_copy):
    m = json.loads((index_copy / "manifest.json").read_text())
    m["format_version"] = 999
    (index_copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match="format version 999"):
        IndexStore.load(index_copy)


@pytest.mark.parametrize("damage", ["truncate_passages", "edit_articles", "delete_faiss", "garble_manifest"])
def test_corrupt_index_is_a_clear_error(index_copy, damage):
    if damage == "truncate_passages":
        p = next(index_copy.glob("segments/*/passages.jsonl"))
        p.write_bytes(p.read_bytes()[:-100])
    elif damage == "edit_articles":
        p = next(index_copy.glob("segments/*/articles.jsonl"))
        p.write_text(p.read_text().replace("Putin", "Nixon"))
    elif damage == "delete_faiss":
        next(index_copy.glob("*.faiss")).unlink()
    else:
        (index_copy / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError) as exc:
        IndexStore.load(index_copy)
    assert "\n" not in str(exc.value) and str(index_copy) in str(exc.value)


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissingError, match="no index at"):
        IndexStore.load(tmp_path / "nothing")


def test_refuses_to_overwrite_a_foreign_directory(tmp_path, embedder):
    target = tmp_path / "mydocs"
    target.mkdir()
    (target / "precious.txt").write_text("do not delete")
    with pytest.raises(QAError, match="not a qa index"):
        build_index([SAMPLE_CORPUS], target, embedder=embedder)
    assert (target / "precious.txt").read_text() == "do not delete"


def test_interrupted_build_leaves_old_index_intact(index_copy, embedder, tmp_path, monkeypatch):
    before = snapshot(index_copy)
    f = tmp_path / "late.txt"
    f.write_text(NEW_ARTICLE)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the new index is being written

    # format 2 writes no BM25 index object any more: interrupt while the new segment is written
    monkeypatch.setattr(store_mod, "write_segment", boom)
    with pytest.raises(KeyboardInterrupt):
        build_index([f], index_copy, embedder=embedder)
    assert snapshot(index_copy) == before
    assert not list(index_copy.parent.glob("qa-index.tmp-*"))
    monkeypatch.undo()
    assert len(Engine.open(index_copy, embedder=embedder).search("peacekeepers", k=3)) == 3


def test_crash_between_renames_is_repaired(index_copy, embedder):
    old = index_copy.with_name(f"{index_copy.name}.old-12345")
    os.rename(index_copy, old)  # the state a crash between the two renames leaves
    store = IndexStore.load(index_copy)
    assert store.manifest["counts"]["articles"] == 5 and index_copy.is_dir() and not old.exists()


def test_killed_build_leftovers_are_cleaned(index_copy, embedder, tmp_path):
    stale = index_copy.with_name(f"{index_copy.name}.tmp-99999")
    stale.mkdir()
    (stale / "passages.jsonl").write_text("half")
    f = tmp_path / "late.txt"
    f.write_text(NEW_ARTICLE)
    build_index([f], index_copy, embedder=embedder)
    assert not stale.exists()


def test_bad_input_writes_nothing(index_copy, embedder, tmp_path):
    before = snapshot(index_copy)
    good = tmp_path / "good.txt"
    good.write_text(NEW_ARTICLE)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00\x01binary")
    with pytest.raises(QAError):
        build_index([good, bad], index_copy, embedder=embedder)
    assert snapshot(index_copy) == before


def test_articles_round_trip(sample_index):
    store = IndexStore.load(sample_index)
    fresh = {a.doc_id: a for a in load_articles([SAMPLE_CORPUS])}
    assert store.articles == fresh
    for p in store.passages:
        assert store.articles[p.doc_id].text[p.start : p.end] == p.text


def test_other_embedding_backend_is_refused(index_copy, tmp_path):
    have = IndexStore.load(index_copy).settings.embedding_backend
    other = "torch" if have != "torch" else "onnx"
    f = tmp_path / "late.txt"
    f.write_text(NEW_ARTICLE)
    with pytest.raises(IndexFormatError, match="another embedding backend"):
        build_index([f], index_copy, backend=other)


def test_searcher_queries_with_the_index_backend(sample_index):
    s = Engine.open(sample_index)  # no embedder given: built from the manifest
    assert s.embedder.backend == s.store.settings.embedding_backend


_WRITER = """
import sys
import numpy as np
from index import add_articles, delete_articles
from index.records import Article

class Embedder:  # vectors need no model here: what is raced is the swap of a generation
    name, backend, dim = sys.argv[3], sys.argv[4], 384
    def encode(self, texts, batch_size=64, show_progress=False):
        v = np.random.default_rng(len(texts)).normal(size=(len(texts), 384)).astype("float32")
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

for i in range(int(sys.argv[2])):
    add_articles([Article(doc_id=f"w{i}", title=f"Note {i}", text=f"Ministers met in Baku on day {i}. " * 20)],
                 sys.argv[1], embedder=Embedder())
    if i % 2:
        delete_articles([f"w{i}"], sys.argv[1])
"""


def test_reading_while_a_writer_swaps_generations_never_reports_damage(index_copy):
    """Another process adds and deletes articles (each write swaps a new generation in and removes
    the old folder) while this one loads the index in a loop: every load must succeed. Before the
    retry, about one load in ten saw files of two generations and called a sound index corrupt."""
    import subprocess
    import sys

    from conftest import ROOT

    settings = json.loads((index_copy / "manifest.json").read_text())["settings"]
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(index_copy), "16", settings["model"],
                               settings["embedding_backend"]], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stderr=subprocess.PIPE, text=True)
    loads, errors = 0, []
    while writer.poll() is None:
        try:
            IndexStore.load(index_copy, mmap=None)
            loads += 1
        except QAError as exc:
            errors.append(str(exc))
    assert writer.returncode == 0, writer.stderr.read()[-2000:]
    assert loads > 0 and errors == [], errors[:3]
    assert json.loads((index_copy / "manifest.json").read_text())["generation"] >= 16  # the writer really wrote
