"""The index lifecycle: headline edits, deletes, incremental updates with tombstones, row masks,
generations, compaction, a self-protecting manifest and symlink-safe locking."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import index.store as store_mod
from index import IndexFormatError, IndexStore, QAError, add_articles
from index.builder import compact_index, delete_articles, list_articles
from index.generations import write_lock
from index.ingest import load_articles
from index.lexical import BM25Settings, LexicalIndex, TermCounts, tokenize
from index.manifest import current_generation
from index.records import Article
from qa.fusion import Fusion

from conftest import ROOT, SAMPLE_CORPUS, shared_dataset

QUERIES = ["why did Russia withdraw peacekeepers?", "Armenia CSTO summit boycott", "Zangezur corridor Turkey",
           "International Criminal Court arrest warrant"]


class HashEmbedder:
    """Deterministic, model-free vectors (a seeded Gaussian per text): fast tests of bookkeeping."""

    name = "test/hash-embedder"
    dim = 32
    backend = "torch"

    def encode(self, texts, **kw):  # type: ignore[no-untyped-def]
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            rng = np.random.default_rng(int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little"))
            v = rng.standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def _articles(n: int, prefix: str = "a") -> list[Article]:
    topics = ["harbour strike", "grain exports", "border talks", "power grid", "river flood", "budget vote"]
    return [Article(doc_id=f"{prefix}{i}", title=f"Report {i} on {topics[i % len(topics)]}",
                    text=f"Officials discussed the {topics[i % len(topics)]} on day {i}. "
                         f"Observers in city{i} expect more news about {topics[(i + 1) % len(topics)]}.")
            for i in range(n)]


@pytest.fixture
def small_index(tmp_path: Path) -> Path:
    directory = tmp_path / "small"
    add_articles(_articles(30), directory, embedder=HashEmbedder())
    return directory


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _rows_of(store: IndexStore, doc_id: str) -> set[int]:
    return {row for row, p in enumerate(store.passages) if p.doc_id == doc_id}


def _all_modes(store: IndexStore, query: str, qvec: np.ndarray) -> dict[str, list[int]]:
    """Rows returned at full depth by BM25, dense and their fusion (the engine's hybrid)."""
    depth = len(store.passages)
    bm25 = store.lexical.ranking(query, depth)
    dense = store.dense.rankings(qvec, depth)[0]
    hybrid = Fusion().fuse({"bm25": bm25, "dense": dense}, depth)
    return {"bm25": [r for r, _ in bm25], "dense": [r for r, _ in dense], "hybrid": [r for r, _ in hybrid]}


# ------------------------------------------------------------------ headline edits
def test_headline_only_edit_reembeds_and_reindexes(index_copy, embedder):
    store = IndexStore.load(index_copy)
    doc_id = next(iter(store.articles))
    art = store.articles[doc_id]
    add_articles([Article(doc_id, "Quokkafest summit headline", art.text, art.url, art.date, art.source)], index_copy,
                 embedder=embedder)
    add_articles([Article(doc_id, "Wombatgala summit headline", art.text, art.url, art.date, art.source)], index_copy,
                 embedder=embedder)
    store = IndexStore.load(index_copy)
    live = [(row, p) for row, p in store.live_passages() if p.doc_id == doc_id]
    assert live and all(p.title == "Wombatgala summit headline" for _, p in live)
    expected = embedder.encode([f"Wombatgala summit headline\n{p.text}" for _, p in live])
    np.testing.assert_allclose(np.asarray(store.embeddings[[r for r, _ in live]]), expected, atol=1e-5)
    assert {r for r, _ in store.lexical.ranking("wombatgala", 100)} == {r for r, _ in live}
    assert store.lexical.ranking("quokkafest", 100) == []  # the old headline is gone from BM25
    old_vec = embedder.encode([f"Quokkafest summit headline\n{live[0][1].text}"])
    top = store.dense.rankings(old_vec, 5)[0]
    assert all(store.live[r] for r, _ in top)
    assert all(not np.allclose(store.embeddings[r], old_vec[0], atol=1e-4) for r, _ in top)


# ----------------------------------------------------------------------- deletes
def test_deleted_article_never_comes_back_in_any_mode(index_copy, embedder):
    before = IndexStore.load(index_copy)
    doc_id = "russia-peacekeepers-withdrawal" if "russia-peacekeepers-withdrawal" in before.articles else next(iter(before.articles))
    query = before.articles[doc_id].title
    qvec = embedder.encode([query])
    found = _all_modes(before, query, qvec)
    rows = _rows_of(before, doc_id)
    assert all(set(r[:3]) & rows for r in found.values())  # it was found in every mode
    report = delete_articles([doc_id], index_copy)
    assert report.articles_deleted == 1 and report.articles_total == len(before.articles) - 1
    after = IndexStore.load(index_copy)
    assert doc_id not in after.articles and after.num_live == before.num_live - len(rows)
    for mode, got in _all_modes(after, query, qvec).items():
        assert got and not set(got) & rows, mode
    assert all(info.doc_id != doc_id for info in list_articles(index_copy))


def test_delete_unknown_id_is_one_line_and_writes_nothing(small_index):
    before = snapshot(small_index)
    with pytest.raises(QAError) as exc:
        delete_articles(["a1", "no-such-article"], small_index)
    assert "no-such-article" in str(exc.value) and "\n" not in str(exc.value)
    assert snapshot(small_index) == before


def test_replaced_text_never_comes_back(small_index):
    emb = HashEmbedder()
    store = IndexStore.load(small_index)
    old_rows = _rows_of(store, "a3")
    add_articles([Article("a3", "Report 3 on harbour strike", "Nothing about the earlier topic. Only shipbuilding now.")],
                 small_index, embedder=emb)
    store = IndexStore.load(small_index)
    assert not store.live[list(old_rows)].any()
    assert not {r for r, _ in store.lexical.ranking("city3", 100)}  # a word only the old text had
    old_vec = np.asarray(store.embeddings[sorted(old_rows)])
    for mode, got in _all_modes(store, "city3", old_vec[:1]).items():
        assert not set(got) & old_rows, mode
    assert {store.passages[r].doc_id for r, _ in store.lexical.ranking("shipbuilding", 10)} == {"a3"}


# ------------------------------------------------------- incremental BM25 == rebuild
def _check_bm25_equals_rebuild(lex: LexicalIndex, live_texts: list[str], live_rows: np.ndarray, queries: list[str],
                               settings: BM25Settings) -> int:
    import bm25s

    ref = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method)
    ref.index([tokenize(t, settings) for t in live_texts], show_progress=False)
    checked = 0
    for q in queries:
        toks = [t for t in tokenize(q, settings) if t in ref.vocab_dict]
        expected = np.asarray(ref.get_scores(toks)) if toks else np.zeros(len(live_texts))
        got = lex.scores(q)
        np.testing.assert_allclose(got[live_rows], expected, rtol=1e-5, atol=1e-5)
        assert not got[np.setdiff1d(np.arange(len(lex)), live_rows)].any()
        checked += bool(toks)
    return checked


def test_incremental_bm25_equals_bm25s_rebuild_on_the_sample(small_index):
    emb = HashEmbedder()
    add_articles(_articles(8, prefix="b"), small_index, embedder=emb)
    add_articles([Article("a2", "Report 2 rewritten", "A different grain exports story about harbour strike.")], small_index,
                 embedder=emb)
    delete_articles(["a5", "b1"], small_index)
    store = IndexStore.load(small_index)
    assert len(store.segments) >= 1 and (~store.live).sum() >= 3
    rows = np.flatnonzero(store.live)
    texts = [store.passages[int(r)].index_text() for r in rows]
    assert _check_bm25_equals_rebuild(store.lexical, texts, rows, ["harbour strike", "grain exports day", "city2 city5 news",
                                                                    "budget vote budget", "rewritten story"], store.settings.bm25) >= 4


@pytest.mark.parametrize("method", ["lucene", "robertson", "bm25+"])
def test_segmented_bm25_with_tombstones_equals_bm25s_on_a_shared_collection(method):
    data = shared_dataset("cranfield")
    docs = [json.loads(line) for line in (data / "corpus.jsonl").read_text().splitlines() if line.strip()]
    texts = [f"{d.get('title', '')}\n{d['text']}" for d in docs]
    queries = [json.loads(line)["text"] for line in (data / "queries.jsonl").read_text().splitlines()[:40]]
    settings = BM25Settings(method=method)
    cut = [0, 700, 1100, len(texts)]
    parts = [TermCounts.from_texts(texts[a:b], settings) for a, b in zip(cut, cut[1:])]
    live = np.ones(len(texts), bool)
    live[np.random.default_rng(0).choice(len(texts), 150, replace=False)] = False
    lex = LexicalIndex(settings, parts, live)
    rows = np.flatnonzero(live)
    assert _check_bm25_equals_rebuild(lex, [texts[r] for r in rows], rows, queries, settings) >= 30
    merged = LexicalIndex(settings, [TermCounts.concat(parts)], live)  # merging segments changes nothing
    for q in queries[:10]:
        np.testing.assert_allclose(merged.scores(q), lex.scores(q), rtol=1e-6)


# ------------------------------------------------------------------- row masks
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_allowed_mask_returns_exactly_the_allowed_matches(tmp_path, kind):
    emb = HashEmbedder()
    directory = tmp_path / kind
    add_articles(_articles(300), directory, embedder=emb, dense_index=kind)
    delete_articles(["a7"], directory)
    store = IndexStore.load(directory)
    assert store.dense.kind == kind
    allowed = store.rows_where(lambda a: a.doc_id in {"a1", "a7", "a13", "a250"})  # a7 is a tombstone
    want = {r for r in np.flatnonzero(allowed)}
    assert want and all(store.passages[r].doc_id in {"a1", "a13", "a250"} for r in want)
    raw = np.zeros(len(store.live), bool)
    raw[[r for r, p in enumerate(store.passages) if p.doc_id in {"a1", "a7", "a13", "a250"}]] = True
    for mask in (allowed, raw):  # a mask that names a tombstone still never returns it
        got = store.dense.rankings(emb.encode(["grain exports"]), 10, allowed=mask)[0]
        assert {r for r, _ in got} == want
        lex = {r for r, _ in store.lexical.ranking("report officials discussed", 10, allowed=mask)}
        assert lex == want
        assert {r for r, _ in store.lexical.ranking("grain exports", 10, allowed=mask)} == {
            r for r in want if "grain" in store.passages[r].text}
    # a wide mask: still k results, all allowed and live
    wide = store.rows_where(lambda a: int(a.doc_id[1:]) % 2 == 0)
    got = store.dense.rankings(emb.encode(["budget vote"]), 25, allowed=wide)[0]
    assert len(got) == 25 and all(wide[r] and store.live[r] for r, _ in got)


# ------------------------------------------------- generations, manifest, compaction
def test_every_write_bumps_the_generation(small_index, tmp_path):
    emb = HashEmbedder()
    g1 = current_generation(small_index)
    m1 = IndexStore.load(small_index).manifest
    add_articles(_articles(2, prefix="n"), small_index, embedder=emb)
    g2 = current_generation(small_index)
    delete_articles(["n0"], small_index)
    g3 = current_generation(small_index)
    compact_index(small_index)
    g4 = current_generation(small_index)
    assert g1 is not None and g1 < g2 < g3 < g4
    m4 = IndexStore.load(small_index).manifest
    assert m4["generation"] == g4 and m4["created"] == m1["created"] and m4["updated"] > m1["updated"]
    add_articles(_articles(2, prefix="n"), small_index, embedder=emb)  # n1 unchanged, n0 comes back
    assert current_generation(small_index) == g4 + 1
    add_articles(_articles(2, prefix="n"), small_index, embedder=emb)  # nothing new: no write
    assert current_generation(small_index) == g4 + 1
    assert current_generation(tmp_path / "nothing") is None


@pytest.mark.parametrize("edit", ["dense_type", "backend", "files_empty", "bm25_k1", "counts"])
def test_edited_manifest_is_a_clear_error(small_index, edit):
    path = small_index / "manifest.json"
    m = json.loads(path.read_text())
    if edit == "dense_type":
        m["dense"]["type"] = "flat" if m["dense"]["type"] != "flat" else "hnsw"
    elif edit == "backend":
        m["settings"]["embedding_backend"] = "onnx"
    elif edit == "files_empty":
        m["files"] = {}
    elif edit == "bm25_k1":
        m["settings"]["bm25"]["k1"] = 2.0
    else:
        m["counts"]["passages"] += 1
    path.write_text(json.dumps(m))
    with pytest.raises(IndexFormatError) as exc:
        IndexStore.load(small_index)
    assert "checksum" in str(exc.value) and "\n" not in str(exc.value) and "--rebuild" in str(exc.value)


def test_old_format_is_refused_with_rebuild_hint(small_index):
    path = small_index / "manifest.json"
    m = json.loads(path.read_text())
    m["format_version"] = 1
    path.write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match=r"format version 1.*qa index YOUR_ARTICLES --index .* --rebuild"):
        IndexStore.load(small_index)


def test_compact_drops_tombstones_and_keeps_answers(small_index):
    emb = HashEmbedder()
    add_articles(_articles(5, prefix="c"), small_index, embedder=emb)
    add_articles([Article("a4", "Report 4 again", "Updated words about the river flood and a dam.")], small_index, embedder=emb)
    delete_articles(["a9", "c2"], small_index)
    before = IndexStore.load(small_index)
    assert (~before.live).any() and len(before.segments) >= 1
    q = emb.encode(["river flood dam"])
    want_bm25 = [(before.passages[r].passage_id, round(s, 5)) for r, s in before.lexical.ranking("river flood dam", 20)]
    want_dense = [before.passages[r].passage_id for r, _ in before.dense.rankings(q, 20)[0]]
    report = compact_index(small_index)
    after = IndexStore.load(small_index)
    assert report.written and after.live.all() and len(after.segments) == 1 and len(after.passages) == before.num_live
    assert [(after.passages[r].passage_id, round(s, 5)) for r, s in after.lexical.ranking("river flood dam", 20)] == want_bm25
    assert [after.passages[r].passage_id for r, _ in after.dense.rankings(q, 20)[0]] == want_dense
    assert dict(after.articles) == dict(before.articles)
    assert not compact_index(small_index).written  # nothing left to reclaim


def test_small_updates_keep_few_segments(small_index):
    emb = HashEmbedder()
    for i in range(12):
        add_articles([Article(f"u{i}", f"Update {i}", f"Short update number {i} about the power grid.")], small_index, embedder=emb)
    store = IndexStore.load(small_index)
    assert len(store.segments) <= 5  # merged as they go: O(log n), not one per update
    assert len(store.articles) == 42 and store.num_live == sum(i.passages for i in store.article_infos())
    assert {store.passages[r].doc_id for r, _ in store.lexical.ranking("update number", 100)} == {f"u{i}" for i in range(12)}


def test_list_articles(index_copy):
    infos = list_articles(index_copy)
    fresh = {a.doc_id: a for a in load_articles([SAMPLE_CORPUS])}
    assert {i.doc_id for i in infos} == set(fresh)
    store = IndexStore.load(index_copy)
    assert sum(i.passages for i in infos) == store.num_live and all(i.passages > 0 for i in infos)
    assert all(i.title == fresh[i.doc_id].title and i.date == fresh[i.doc_id].date for i in infos)


# ------------------------------------------------------------ crash safety of updates
def test_interrupted_update_leaves_the_old_index_intact(small_index, monkeypatch):
    before = snapshot(small_index)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the new dense index is written

    monkeypatch.setattr(store_mod.DenseIndex, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        add_articles(_articles(3, prefix="x"), small_index, embedder=HashEmbedder())
    assert snapshot(small_index) == before
    assert not list(small_index.parent.glob("small.tmp-*"))
    monkeypatch.undo()
    assert len(IndexStore.load(small_index).articles) == 30


# ------------------------------------------------------------- symlinks and locks
def test_update_through_a_symlink_updates_the_target(small_index, tmp_path):
    link = tmp_path / "link-to-index"
    link.symlink_to(small_index, target_is_directory=True)
    add_articles(_articles(2, prefix="s"), link, embedder=HashEmbedder())
    assert link.is_symlink() and os.path.realpath(link) == str(small_index)
    assert "s1" in IndexStore.load(small_index).articles
    delete_articles(["s0"], link)
    assert link.is_symlink() and "s0" not in IndexStore.load(small_index).articles


_HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from index.generations import write_lock
    with write_lock({path!r}):
        print("locked", flush=True)
        time.sleep(30)
""")


def test_two_writers_through_a_symlink_contend_for_one_lock(small_index, tmp_path):
    link = tmp_path / "other-spelling"
    link.symlink_to(small_index, target_is_directory=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER.format(root=str(ROOT), path=str(link))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = snapshot(small_index)
        with pytest.raises(QAError, match="another process is writing"):
            add_articles(_articles(1, prefix="late"), small_index, embedder=HashEmbedder())
        with pytest.raises(QAError, match="another process is writing"):
            delete_articles(["a1"], str(small_index) + "/")
        assert snapshot(small_index) == before
    finally:
        holder.kill()
        holder.wait()
    with write_lock(small_index):  # free again once the other writer is gone
        pass


def test_changing_the_dense_kind_rebuilds_only_the_dense_index(small_index):
    emb = HashEmbedder()
    g = current_generation(small_index)
    report = add_articles([], small_index, embedder=emb, dense_index="hnsw")
    store = IndexStore.load(small_index)
    assert report.written and store.dense.kind == "hnsw" and current_generation(small_index) == g + 1
    assert store.manifest["settings"]["dense"]["kind"] == "hnsw" and len(store.dense) == len(store.passages)
    got = store.dense.rankings(emb.encode(["river flood"]), 5)[0]
    assert len(got) == 5 and all(store.live[r] for r, _ in got)


def test_deleting_everything_then_adding_again(small_index):
    emb = HashEmbedder()
    delete_articles([f"a{i}" for i in range(30)], small_index)
    store = IndexStore.load(small_index)
    assert store.num_live == 0 and len(store.articles) == 0 and list_articles(small_index) == []
    assert store.lexical.ranking("harbour strike", 10) == [] and store.dense.rankings(emb.encode(["x"]), 10) == [[]]
    add_articles(_articles(3, prefix="z"), small_index, embedder=emb)
    store = IndexStore.load(small_index)
    assert set(store.articles) == {"z0", "z1", "z2"}
    assert {store.passages[r].doc_id for r, _ in store.lexical.ranking("report officials", 10)} == {"z0", "z1", "z2"}
