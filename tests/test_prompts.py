"""Query/passage prompts (issue 13: the E5 family's "query: " / "passage: "): detected from the
model, recorded in the manifest, and applied to every passage, query and question of the index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index import QAError, build_index
from index.embedding import SentenceTransformerEmbedder, resolve_model
from index.errors import IndexFormatError
from index.prompts import Prompts, model_prompts
from index.store import IndexStore
from qa import Engine
from qa.cli import main

from conftest import SAMPLE_CORPUS

E5 = Prompts("query: ", "passage: ")


@pytest.mark.parametrize("name,want", [
    ("intfloat/e5-small-v2", E5),
    ("intfloat/multilingual-e5-large", E5),
    ("/models/e5-base-v2", E5),
    ("BAAI/bge-small-en-v1.5", Prompts("Represent this sentence for searching relevant passages: ", "")),
    ("sentence-transformers/all-MiniLM-L6-v2", Prompts()),
    ("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", Prompts()),
    ("my-e5ish-model", Prompts()),
])
def test_model_prompts_by_family(name: str, want: Prompts) -> None:
    assert model_prompts(name) == want


def test_prompts_declared_by_the_model_folder_win(tmp_path: Path) -> None:
    (tmp_path / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "q> ", "document": "d> "}}))
    assert model_prompts("intfloat/e5-small-v2", tmp_path) == Prompts("q> ", "d> ")
    (tmp_path / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "", "document": ""}}))
    assert model_prompts("intfloat/e5-small-v2", tmp_path) == E5  # empty declarations: the family's
    assert model_prompts(str(tmp_path), tmp_path) == Prompts()
    # the bundled model declares none
    assert SentenceTransformerEmbedder().prompts == Prompts()


def test_prompts_validation() -> None:
    assert Prompts.from_dict({}) == Prompts() and Prompts().to_dict() == {}
    assert Prompts.from_dict(E5.to_dict()) == E5
    for bad in ({"query": 3}, {"queries": "x"}, ["query: "], {"query": "x" * 500}, {"passage": "a\nb"}):
        with pytest.raises(QAError):
            Prompts.from_dict(bad)


@pytest.fixture(scope="module")
def e5_like_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model's files, plus a sentence-transformers config declaring E5's prompts."""
    src = Path(resolve_model(None)[1])
    dst = tmp_path_factory.mktemp("model") / "prompted-minilm"
    dst.mkdir()
    for f in src.iterdir():
        if f.name != "config_sentence_transformers.json":
            (dst / f.name).symlink_to(f)
    (dst / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": "query"}))
    return dst


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_prompts_are_recorded_and_applied_to_passages_queries_and_questions(e5_like_model: Path, tmp_path: Path) -> None:
    directory = tmp_path / "idx"
    build_index([SAMPLE_CORPUS], directory, model=str(e5_like_model), backend="torch")
    store = IndexStore.load(directory)
    assert store.settings.prompts == {"query": "query: ", "passage": "passage: "}
    assert json.loads((directory / "manifest.json").read_text())["settings"]["prompts"] == store.settings.prompts

    emb = SentenceTransformerEmbedder(str(e5_like_model), backend="torch")
    # the folder's default_prompt_name is ignored: sentence-transformers would otherwise add a
    # second prompt to everything the torch backend embeds (the ONNX backend never does)
    assert emb.model.default_prompt_name is None
    assert np.allclose(emb.encode(["a text"])[0], emb.model.encode(["a text"], prompt="", normalize_embeddings=True)[0], atol=1e-6)
    text = store.passages[0].index_text(store.settings.title_in_passage)
    with_prompt, without = emb.encode(["passage: " + text, text])
    stored = np.asarray(store.embeddings[0])
    assert _cos(stored, with_prompt) > 0.9999 and _cos(stored, without) < 0.999  # the passage prompt, once

    engine = Engine.open(directory)
    question = "Why did Russia withdraw from Karabakh?"
    q_with, q_without, q_twice = emb.encode(["query: " + question, question, "query: query: " + question])
    got = engine.embed_queries([question])[0]
    assert _cos(got, q_with) > 0.9999 and _cos(got, q_without) < 0.999 and _cos(got, q_twice) < 0.9999
    top = engine.search(question, k=1, mode="dense")[0]  # exact search over the prompted vectors
    assert top.score == pytest.approx(float(np.max(np.asarray(store.embeddings) @ q_with)), abs=1e-4)
    answer = engine.ask(question)
    assert answer.citations or answer.related
    # what was embedded: the question once, with the query prompt (kept by the engine, reused by the
    # answerer), and the answer's sentences with the passage prompt
    assert list(engine._query_vectors) == ["query: " + question]
    embedded = list(engine._current()[1]._cache)
    assert embedded and all(t.startswith("passage: ") for t in embedded)

    # an existing index keeps its prompts: asking for others is an error, not a silent mix
    with pytest.raises(IndexFormatError, match="prompts"):
        build_index([SAMPLE_CORPUS], directory, prompts=Prompts("search: ", ""))


def test_cli_prompt_flags_are_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "idx"
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.txt").write_text("Armenia and Azerbaijan\n\nArmenia boycotted the CSTO summit in Moscow.\n", encoding="utf-8")
    assert main(["index", str(one), "--index", str(directory), "--query-prompt", "search_query: ", "--quiet"]) == 0
    assert IndexStore.load(directory).settings.prompts == {"query": "search_query: "}
    assert main(["index", str(one), "--index", str(directory), "--query-prompt", "x\ny", "--quiet", "--rebuild"]) != 0
    assert "prompt" in capsys.readouterr().err
    assert IndexStore.load(directory).settings.prompts == {"query": "search_query: "}  # the index was left as it was
