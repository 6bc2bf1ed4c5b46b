"""Dense index type switch: exact below the threshold, HNSW above, an inverted file at the largest
sizes; overridable, recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.dense import DenseIndex, choose_kind
from index.records import Article, Passage
from index.settings import IndexSettings
from index.store import IndexStore


def _vectors(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_auto_is_flat_below_threshold_and_hnsw_above() -> None:
    v = _vectors(300)
    small = DenseIndex.build(v, kind="auto", threshold=301)
    big = DenseIndex.build(v, kind="auto", threshold=300)
    assert small.kind == "flat" and small.settings["requested"] == "auto"
    assert big.kind == "hnsw" and big.settings["M"] > 0 and big.settings["ef_search"] >= 10
    assert small.settings["threshold"] == 301


def test_choose_kind_has_three_regimes() -> None:
    assert [choose_kind(n, "auto", 100, 1000) for n in (99, 100, 999, 1000)] == ["flat", "hnsw", "hnsw", "ivf"]
    assert choose_kind(10**7, "flat", 100, 1000) == "flat" and choose_kind(5, "IVF") == "ivf"
    assert [choose_kind(n, "auto", 100, 50) for n in (99, 150)] == ["flat", "ivf"]  # exact stays exact
    with pytest.raises(ValueError):
        choose_kind(5, "annoy")


def test_auto_builds_an_fp16_inverted_file_at_the_largest_sizes(tmp_path: Path) -> None:
    # 2,000 vectors in tight groups of 20 (near-duplicates, as reprints are): the regime where
    # the benchmark found HNSW losing recall and the inverted file keeping it.
    rng = np.random.default_rng(3)
    centres = _vectors(100, seed=4)
    v = centres[np.arange(2000) % 100] + 0.02 * rng.standard_normal((2000, 32)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = DenseIndex.build(v, kind="auto", threshold=100, ivf_threshold=1000)
    assert index.kind == "ivf" and index.settings["storage"] == "fp16"
    assert index.settings["ivf_threshold"] == 1000 and index.settings["nprobe"] >= 1
    q = centres[:40] + 0.02 * rng.standard_normal((40, 32)).astype(np.float32)
    rows, _ = index.search(q, 10)
    ref, _ = DenseIndex.build(v, kind="flat").search(q, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, ref)]) >= 0.95
    index.save(tmp_path / "d.faiss")
    loaded = DenseIndex.load(tmp_path / "d.faiss", mmap=True, settings=index.settings)
    assert loaded.kind == "ivf" and loaded.settings["storage"] == "fp16"
    assert np.array_equal(loaded.search(q, 10)[0], rows)
    loaded.live = np.arange(2000) % 2 == 0  # tombstones apply inside the inverted file too
    assert np.all(loaded.search(q, 10)[0] % 2 == 0)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_forced_kind_finds_the_exact_neighbours(kind: str) -> None:
    v = _vectors(500)
    index = DenseIndex.build(v, kind=kind, threshold=10**9)
    assert index.kind == kind and len(index) == 500 and index.dim == 32
    rows, scores = index.search(v[:20], 10)
    assert rows.shape == (20, 10) and np.all(np.diff(scores, axis=1) <= 1e-6)
    assert np.mean(rows[:, 0] == np.arange(20)) >= 0.95  # each vector is its own nearest neighbour
    exact = DenseIndex.build(v, kind="flat")
    ref, _ = exact.search(v[:20], 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, ref)])
    assert recall >= 0.8


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError):
        DenseIndex.build(_vectors(5), kind="annoy")


def test_hnsw_returns_k_results_even_beyond_ef_search() -> None:
    v = _vectors(400)
    index = DenseIndex.build(v, kind="hnsw", ef_search=16)
    rows, _ = index.search(v[:1], 50)
    assert (rows[0] >= 0).sum() == 50


def _records(n: int) -> tuple[list[Article], list[Passage]]:
    arts = [Article(doc_id=f"d{i}", title=f"title {i}", text=f"text number {i} about topic {i % 7}") for i in range(n)]
    ps = [Passage(passage_id=f"p{i}", doc_id=a.doc_id, text=a.text, start=0, end=len(a.text), title=a.title) for i, a in enumerate(arts)]
    return arts, ps


def test_store_records_and_reloads_the_dense_settings(tmp_path: Path) -> None:
    arts, ps = _records(60)
    v = _vectors(60)
    settings = IndexSettings(model="m", dim=32, dense={"kind": "auto", "threshold": 50})
    store = IndexStore.write(tmp_path / "idx", settings, arts, ps, v)
    assert store.dense.kind == "hnsw"
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["dense"]["type"] == "hnsw" and manifest["dense"]["ef_search"] == store.dense.settings["ef_search"]
    assert manifest["settings"]["dense"] == {"kind": "auto", "threshold": 50}
    loaded = IndexStore.load(tmp_path / "idx")
    assert loaded.dense.kind == "hnsw" and loaded.dense.settings["ef_search"] == manifest["dense"]["ef_search"]

    IndexStore.write(tmp_path / "idx", loaded.settings, arts, ps, v, dense_index="flat")  # `qa index --dense-index flat`
    again = IndexStore.load(tmp_path / "idx")
    assert again.dense.kind == "flat" and again.settings.dense["kind"] == "flat"


def test_cli_dense_index_flag(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from qa.cli import main

    corpus = tmp_path / "a.jsonl"
    corpus.write_text("\n".join(json.dumps({"id": f"a{i}", "title": f"T{i}", "text": f"Sentence {i} about elections."}) for i in range(3)))
    rc = main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--dense-index", "hnsw", "--quiet"])
    assert rc == 0
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["dense"]["type"] == "hnsw" and manifest["settings"]["dense"]["kind"] == "hnsw"


def test_search_knob_changes_in_place_and_bad_values_leave_the_manifest(tmp_path: Path) -> None:
    from index.errors import QAError
    from index.generations import update_settings

    arts, ps = _records(60)
    settings = IndexSettings(model="m", dim=32, dense={"kind": "ivf"})
    IndexStore.write(tmp_path / "idx", settings, arts, ps, _vectors(60))
    m = update_settings(tmp_path / "idx", dense_search={"nprobe": 2})
    assert m["dense"]["nprobe"] == 2 and IndexStore.load(tmp_path / "idx").dense.settings["nprobe"] == 2
    before = (tmp_path / "idx" / "manifest.json").read_bytes()
    for bad in ({"ef_search": 64}, {"nprobe": 0}, {"nprobe": "8"}, {"nprobe": True}):
        with pytest.raises(QAError):
            update_settings(tmp_path / "idx", dense_search=bad)
    assert (tmp_path / "idx" / "manifest.json").read_bytes() == before


def test_the_dense_kinds_are_declared_once() -> None:
    """Issue 25: the kinds were typed out in three places (an enum, the dense module, the CLI's
    choices); the enum in index.defaults is now the one list every other place reads."""
    import argparse

    import index.defaults
    import index.dense
    from qa.cli import index_cmd

    assert index.dense.KINDS is index.defaults.DENSE_KINDS
    assert index.defaults.DENSE_KINDS == tuple(k.value for k in index.defaults.DenseKind)
    sub = argparse.ArgumentParser().add_subparsers()
    index_cmd.register(sub)
    (action,) = [a for p in sub.choices.values() for a in p._actions if "--dense-index" in a.option_strings]
    assert action.choices is index.defaults.DENSE_KINDS


def _rss_file_mb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("RssFile:"):
            return int(line.split()[1]) // 1024
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_building_from_a_mapped_file_lets_its_pages_go_and_builds_the_same_index(tmp_path: Path, kind: str) -> None:
    """Issue 27, row 6: a build's dense index is made from the memory-mapped vectors; added in parts
    with each part's pages let go, so 40 MB of vectors do not stay resident beside FAISS's own copy
    (before: +40 MB of file pages at the build's peak). Same index as one ``add`` of the array."""
    import faiss

    vectors = _vectors(27_000, 384)
    np.save(tmp_path / "e.npy", vectors)
    mapped = np.load(tmp_path / "e.npy", mmap_mode="r")
    before = _rss_file_mb()
    built = DenseIndex.build(mapped, kind=kind)
    assert _rss_file_mb() - before < 15  # 40 MB of vectors read
    same = DenseIndex.build(vectors, kind=kind)
    assert (faiss.serialize_index(built._index) == faiss.serialize_index(same._index)).all()
