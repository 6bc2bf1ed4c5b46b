"""An answer model fitted for an index's embedding model travels in its manifest (issue 13:
"thresholds recalibrated per model and stored in the manifest"): every surface answers with it."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from index.embedding import SentenceTransformerEmbedder
from index.errors import IndexFormatError, QAError, QueryError
from qa.engine import update_query_settings as update_settings  # the store with the reader's check
from qa import Engine
from qa.learned import default_answer_model, load_answer_model
from tests.conftest import ROOT, hand_edit_settings

QUESTION = "How much have the US and Europe spent equipping Ukraine with weapons?"


@pytest.fixture()
def index(index_copy: Path) -> Path:
    return index_copy


def test_an_installed_answer_model_is_what_every_answer_uses(index: Path, embedder: SentenceTransformerEmbedder) -> None:
    update_settings(index, answer={"threshold": 0.5})  # an override set for the bundled model
    engine = Engine.open(index, embedder=embedder)
    assert engine.ask(QUESTION).confident  # the bundled model answers it
    strict = replace(default_answer_model(), threshold=0.999999)  # a model that answers nothing
    engine.set_answer_model(strict)
    refused = engine.ask(QUESTION)
    assert not refused.confident and "0.999999" not in refused.reason and "< 1.00" in refused.reason
    reopened = Engine.open(index, embedder=embedder)  # read from the manifest, by a new process's engine
    assert not reopened.ask(QUESTION).confident
    assert json.loads((index / "manifest.json").read_text())["settings"]["answer"]["model"]["threshold"] == 0.999999
    assert Engine.open(index, embedder=embedder, threshold=0.5).ask(QUESTION).confident  # an explicit threshold wins
    assert "threshold" not in json.loads((index / "manifest.json").read_text())["settings"]["answer"]  # dropped with its model
    engine.set_answer_model(None)  # back to the bundled model
    assert engine.ask(QUESTION).confident and json.loads((index / "manifest.json").read_text())["settings"]["answer"] == {}


def test_a_model_for_another_embedding_model_is_refused(index: Path, embedder: SentenceTransformerEmbedder) -> None:
    engine = Engine.open(index, embedder=embedder)
    before = (index / "manifest.json").read_bytes()
    with pytest.raises(QueryError, match="fitted for 'intfloat/e5-small-v2'"):
        engine.set_answer_model(replace(default_answer_model(), embedding_model="intfloat/e5-small-v2"))
    assert (index / "manifest.json").read_bytes() == before


def test_bad_answer_settings_in_a_manifest(index: Path, embedder: SentenceTransformerEmbedder,
                                           caplog: pytest.LogCaptureFixture) -> None:
    for bad, why in (({"threshold": 2.0}, "invalid answer threshold 2.0"), ({"threshold": True}, "invalid answer threshold True"),
                     ({"model": {"version": 1, "ranker": {}}}, "invalid answer model")):
        before = (index / "manifest.json").read_bytes()
        with pytest.raises(QAError, match=f"not written: an {why}"):  # refused before it is written
            update_settings(index, answer=bad)
        assert (index / "manifest.json").read_bytes() == before
        hand_edit_settings(index, answer=bad)  # written past the check: the index refuses to serve it
        with pytest.raises(IndexFormatError, match=why):
            Engine.open(index, embedder=embedder)
    update_settings(index, answer={"verbless_min": 0.525})  # a setting of the rules before the learned model
    with caplog.at_level(logging.WARNING, logger="qa.engine"):
        engine = Engine.open(index, embedder=embedder)
    assert "verbless_min not used" in caplog.text and engine.ask(QUESTION).confident


def test_fit_script_records_the_model_in_another_index(sample_index: Path, index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "scripts"))
    import fit_answer_model

    bundled = (ROOT / "qa" / "answer_model.json").read_bytes()
    assert fit_answer_model.main(["--index", str(sample_index), "--splits", "tune", "--limit", "3",
                                  "--to-index", str(index)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["to_index"] == str(index) and report["out"] is None
    assert (ROOT / "qa" / "answer_model.json").read_bytes() == bundled  # the bundled model is left alone
    stored = json.loads((index / "manifest.json").read_text())["settings"]["answer"]["model"]
    assert "tune (15 questions)" in stored["trained_on"]
    assert stored != json.loads(bundled)  # fitted on 15 questions, not the bundled 240
    out = index.parent / "m.json"
    assert fit_answer_model.main(["--index", str(sample_index), "--splits", "tune", "--limit", "3",
                                  "--out", str(out)]) == 0
    assert load_answer_model(out).to_dict() == stored  # the same fit, written to a file
