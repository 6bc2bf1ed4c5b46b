"""A question is embedded once for its search and its answer (issue 13: "reuse the query vector
between search and answer"), and the kept vector is exactly the one a fresh encoding gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qa.engine as engine_module
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


def test_kept_query_vectors_change_nothing(sample_index: Path, embedder: SentenceTransformerEmbedder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The same answer, to every score, with nothing kept (each use embeds afresh)."""
    kept = Engine.open(sample_index, embedder=embedder).ask(QUESTION)
    monkeypatch.setattr(engine_module, "QUERY_CACHE", 0)
    fresh_engine = Engine.open(sample_index, embedder=embedder)
    fresh = fresh_engine.ask(QUESTION)
    assert not fresh_engine._query_vectors  # really nothing kept
    assert fresh.to_dict() == kept.to_dict()  # text, citations with their scores, results, reason
    assert [c.passage_id for c in fresh.citations] == [c.passage_id for c in kept.citations]
    v1, v2 = fresh_engine.embed_queries([QUESTION, QUESTION])
    assert np.array_equal(v1, v2)
