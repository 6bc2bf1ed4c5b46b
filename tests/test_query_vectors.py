"""A question is embedded once for its search and its answer (issue 13: "reuse the query vector
between search and answer"), and the kept vector is exactly the one a fresh encoding gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedding import SentenceTransformerEmbedder
from qa import Engine

QUESTION = "How much have the US and Europe spent equipping Ukraine with weapons?"


class CountingEmbedder:
    """The bundled model, recording every text it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner, self.texts = inner, []
        self.name, self.backend = inner.name, inner.backend

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts, **kwargs):  # noqa: ANN001, ANN003, ANN201
        self.texts.extend(texts)
        return self.inner.encode(texts, **kwargs)

    def count_tokens(self, texts):  # noqa: ANN001, ANN201
        return self.inner.count_tokens(texts)


def test_a_question_is_embedded_once_for_search_and_answer(sample_index: Path, embedder: SentenceTransformerEmbedder) -> None:
    counting = CountingEmbedder(embedder)
    engine = Engine.open(sample_index, embedder=counting)
    answer = engine.ask(QUESTION)
    assert answer.confident and answer.citations
    assert counting.texts.count(QUESTION) == 1  # the search embedded it; the answer reused that vector
    hits = engine.search(QUESTION, k=5)
    assert counting.texts.count(QUESTION) == 1 and hits  # a repeated query is not embedded again
    assert len(counting.texts) > 1  # the answer's sentences were embedded (through the same model)


def test_kept_query_vectors_change_nothing(sample_index: Path, embedder: SentenceTransformerEmbedder) -> None:
    """The same answer, to every score, with nothing kept (each use embeds afresh)."""
    kept = Engine.open(sample_index, embedder=embedder).ask(QUESTION)
    fresh_engine = Engine.open(sample_index, embedder=embedder, query_cache=0)
    fresh = fresh_engine.ask(QUESTION)
    assert not fresh_engine._query_vectors  # really nothing kept
    assert fresh.to_dict() == kept.to_dict()  # text, citations with their scores, results, reason
    assert [c.passage_id for c in fresh.citations] == [c.passage_id for c in kept.citations]
    v1, v2 = fresh_engine.embed_queries([QUESTION, QUESTION])
    assert np.array_equal(v1, v2)


def test_benchmarks_time_every_query_as_a_new_one(sample_index: Path, embedder: SentenceTransformerEmbedder) -> None:
    """Latency benchmarks time each mode on the same queries: with ``query_cache=0`` (run.py,
    index_and_query.py, cluster.py) or ``forget_queries`` (ask_latency.py) each timed search embeds
    its query, as a query never asked before would; a kept vector would hide that cost."""
    counting = CountingEmbedder(embedder)
    engine = Engine.open(sample_index, embedder=counting, query_cache=0)
    for mode in ("dense", "hybrid", "hybrid"):
        engine.search(QUESTION, k=3, mode=mode)
    assert counting.texts.count(QUESTION) == 3
    counting.texts.clear()
    kept = Engine.open(sample_index, embedder=counting)
    kept.search(QUESTION, k=3)
    kept.forget_queries([QUESTION, "never asked"])
    kept.search(QUESTION, k=3)
    assert counting.texts.count(QUESTION) == 2
    with pytest.raises(ValueError, match="query_cache"):
        Engine(sample_index, query_cache=-1)


def test_run_benchmark_engine_keeps_no_query_vectors(sample_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import index.embedding
    from tests.conftest import ROOT

    monkeypatch.setattr(index.embedding, "set_threads", lambda n: None)  # leave this process's threads alone

    spec = importlib.util.spec_from_file_location("run_bench", ROOT / "benchmarks" / "run.py")
    run = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(run)  # type: ignore[union-attr]
    engine = run.open_engine(sample_index, "torch")
    engine.search(QUESTION, k=3, mode="dense")
    assert len(engine._query_vectors) == 0
