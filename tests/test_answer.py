"""Answering: pure scoring/selection steps, then the sample-corpus questions end to end, then `qa ask`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from index.errors import QueryError
from index.records import Article, Hit, Passage
from qa import Answer, Answerer, Citation
from qa.answer import (
    DEFAULT_THRESHOLD,
    NOT_CONFIDENT_ANSWER,
    Candidate,
    ScoredSentence,
    blend,
    calibrate_threshold,
    candidate_sentences,
    compose,
    is_answer_like,
    lexical_coverage,
    mmr_select,
    order_for_reading,
    question_terms,
)
from qa.cli import main
from index.defaults import MAX_QUERY_CHARS

QUESTIONS = [json.loads(line) for line in (Path(__file__).parent / "data" / "answer_questions.jsonl").open(encoding="utf-8")]
ANSWERABLE = [q for q in QUESTIONS if q["answerable"]]
UNANSWERABLE = [q for q in QUESTIONS if not q["answerable"]]
MARKER = re.compile(r"\[(\d+)\]")


# --------------------------------------------------------------------------- fakes for the pure steps
TEXT = (
    "Heading line\n\n"
    "Russia withdrew its peacekeepers from Karabakh this week. The Kremlin confirmed it on Tuesday afternoon. "
    "Why did it leave?\n\n"
    "Analysts say Moscow was too busy with the war in Ukraine to stay."
)
ARTICLE = Article(doc_id="d1", title="Russia leaves", text=TEXT, source="wire", date="2024-04-22", url="http://x")


def _hit(rank: int, start: int, end: int, article: Article = ARTICLE) -> Hit:
    p = Passage(passage_id=f"p{rank}", doc_id=article.doc_id, text=article.text[start:end], start=start, end=end,
                title=article.title)
    return Hit(rank=rank, score=1.0 / rank, passage=p, article=article)


def _scored(hit_index: int, start: int, end: int, score: float, doc_id: str = "d1") -> ScoredSentence:
    c = Candidate(hit_index, doc_id, start, end, TEXT[start:end])
    return ScoredSentence(c, score, 0.0, score)


def test_is_answer_like_skips_headings_and_questions() -> None:
    assert is_answer_like("Russia withdrew its peacekeepers from Karabakh.")
    assert not is_answer_like("Heading line")
    assert not is_answer_like("Why did Russia leave the region at all?")
    assert not is_answer_like("Where is Armenia headed, then?”")


def test_candidate_sentences_are_exact_deduplicated_and_clipped() -> None:
    second = TEXT.index("The Kremlin")
    # two overlapping passages: the shared sentence must be kept once, for the better-ranked hit
    hits = [_hit(1, 0, TEXT.index("Why did")), _hit(2, second, len(TEXT))]
    cands = candidate_sentences(hits)
    texts = [c.text for c in cands]
    assert texts == [
        "Russia withdrew its peacekeepers from Karabakh this week.",
        "The Kremlin confirmed it on Tuesday afternoon.",
        "Analysts say Moscow was too busy with the war in Ukraine to stay.",
    ]
    assert [c.hit_index for c in cands] == [0, 0, 1]
    for c in cands:
        assert TEXT[c.start:c.end] == c.text
        p = hits[c.hit_index].passage
        assert p.start <= c.start < c.end <= p.end


def test_question_terms_drop_interrogatives() -> None:
    assert question_terms("How many troops did Russia deploy?", str.split) == ["troops", "russia", "deploy"]


def test_lexical_coverage_weights_rare_and_missing_terms() -> None:
    sentences = [["russia", "troop"], ["russia", "pasta"], ["russia"]]
    cov = lexical_coverage(["russia", "troop"], sentences)
    assert cov[0] == pytest.approx(1.0)
    assert cov[0] > cov[1] > 0 and cov[1] == pytest.approx(cov[2])
    # a question term no sentence contains weighs most, so coverage stays low
    assert lexical_coverage(["pasta", "boil"], [["pasta"], ["russia"]])[0] < 0.5
    assert lexical_coverage([], sentences).tolist() == [0, 0, 0]


def test_blend() -> None:
    assert blend(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.25).tolist() == [0.75, 0.25]


def test_mmr_drops_near_duplicates_and_low_scores() -> None:
    rel = [0.9, 0.89, 0.6, 0.2]
    sim = np.array([[1.0, 0.95, 0.1, 0.0], [0.95, 1.0, 0.1, 0.0], [0.1, 0.1, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert mmr_select(rel, sim, 3, floor=0.5) == [0, 2]  # 1 duplicates 0; 3 is under the floor
    assert mmr_select(rel, sim, 1) == [0]
    assert mmr_select(rel, sim, 4, duplicate=0.99, lam=0.5) == [0, 2, 3, 1]  # novelty first when lam is low
    assert mmr_select([], np.zeros((0, 0)), 3) == []


def test_order_for_reading_groups_articles_by_best_sentence() -> None:
    a_late, b, a_early = _scored(0, 100, 110, 0.9), _scored(1, 0, 10, 0.8, "d2"), _scored(0, 0, 10, 0.7)
    assert order_for_reading([a_late, b, a_early]) == [a_early, a_late, b]


def test_compose_numbers_passages_by_first_appearance() -> None:
    first = TEXT.index("Russia withdrew")
    s1 = _scored(1, first, TEXT.index(" The Kremlin"), 0.8)
    s2 = _scored(0, TEXT.index("Analysts"), len(TEXT), 0.7)
    s3 = _scored(1, TEXT.index("The Kremlin"), TEXT.index(" Why"), 0.6)
    hits = [_hit(1, TEXT.index("Analysts"), len(TEXT)), _hit(2, first, len(TEXT))]
    text, cites = compose([s1, s2, s3], hits)
    assert text.endswith("[1]") and text.count("[1]") == 2 and text.count("[2]") == 1
    assert text.startswith("Russia withdrew its peacekeepers from Karabakh this week. [1] Analysts")
    assert [(c.n, c.passage_id) for c in cites] == [(1, "p2"), (2, "p1"), (1, "p2")]
    for c in cites:
        assert TEXT[c.start:c.end] == c.quote
    d = cites[0].to_dict()
    assert list(d) == ["n", "passage_id", "doc_id", "title", "source", "date", "url", "text", "quote", "start", "end", "score"]
    assert (d["title"], d["source"], d["date"], d["url"]) == ("Russia leaves", "wire", "2024-04-22", "http://x")


def test_calibrate_threshold() -> None:
    assert calibrate_threshold([0.6, 0.8], [0.2, 0.4]) == pytest.approx((0.5, 0.1))
    assert calibrate_threshold([0.3], [0.5])[1] < 0  # overlap: no separating threshold
    with pytest.raises(ValueError):
        calibrate_threshold([], [0.1])


class _FakeEmbedder:
    """Bag-of-words vectors over a tiny vocabulary; records what it was asked to encode."""

    name = "fake"
    vocab = ["russia", "withdrew", "peacekeepers", "karabakh", "kremlin", "analysts", "ukraine", "pasta"]

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        v = np.array([[float(w in t.lower()) for w in self.vocab] + [0.1] for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


class _FakeRetriever:
    def __init__(self) -> None:
        self.embedder = _FakeEmbedder()

    def search(self, query, k=10, mode="hybrid", filters=None):  # type: ignore[no-untyped-def]
        return [_hit(1, TEXT.index("Russia withdrew"), len(TEXT))][:k]


def test_answerer_without_model_caches_sentence_vectors_and_abstains() -> None:
    fake = _FakeRetriever()
    answerer = Answerer(fake, threshold=0.5)  # type: ignore[arg-type]
    ans = answerer.ask("Why were Russia's peacekeepers withdrawn from Karabakh?")
    assert ans.confident and ans.citations[0].quote.startswith("Russia withdrew") and ans.answer.endswith("[1]")
    assert len(fake.embedder.calls) == 1 and len(fake.embedder.calls[0]) == 4  # question + 3 sentences, one batch
    again = answerer.ask("Did Russia withdraw peacekeepers from Karabakh?")
    assert fake.embedder.calls[-1] == ["Did Russia withdraw peacekeepers from Karabakh?"]  # sentences cached
    assert again.citations[0].n == 1
    no = answerer.ask("How long to boil pasta?")
    assert (no.confident, no.answer, no.citations, len(no.results)) == (False, NOT_CONFIDENT_ANSWER, [], 1)


# --------------------------------------------------------------------------- the sample corpus, end to end
@pytest.fixture(scope="module")
def answerer(engine) -> Answerer:  # type: ignore[no-untyped-def]
    return Answerer(engine)


@pytest.fixture(scope="module")
def answers(answerer: Answerer) -> dict[str, Answer]:
    return {q["id"]: answerer.ask(q["question"]) for q in QUESTIONS}


def test_question_set_is_big_enough() -> None:
    assert len(ANSWERABLE) >= 10 and len(UNANSWERABLE) >= 8


def _check_consistent(ans: Answer, engine) -> None:  # type: ignore[no-untyped-def]
    """Quotes are exact, markers and citations agree, numbering follows first appearance."""
    markers = [int(m) for m in MARKER.findall(ans.answer)]
    assert markers == [c.n for c in ans.citations]  # one marker per quoted sentence, in order
    assert sorted(set(markers)) == list(range(1, len(set(markers)) + 1))
    assert [n for i, n in enumerate(markers) if n not in markers[:i]] == sorted(set(markers))
    by_passage = {}
    result_ids = {h.passage.passage_id for h in ans.results}
    for c in ans.citations:
        article = engine.store.articles[c.doc_id]
        assert article.text[c.start:c.end] == c.quote
        assert c.passage_id in result_ids
        passage = next(h.passage for h in ans.results if h.passage.passage_id == c.passage_id)
        assert passage.start <= c.start < c.end <= passage.end and c.text == passage.text
        assert by_passage.setdefault(c.passage_id, c.n) == c.n  # same passage, same n
        assert " ".join(c.quote.split()) in ans.answer


@pytest.mark.parametrize("q", ANSWERABLE, ids=[q["id"] for q in ANSWERABLE])
def test_answerable_questions_cite_the_right_passage(q: dict, answers: dict[str, Answer], engine) -> None:  # type: ignore[no-untyped-def]
    ans = answers[q["id"]]
    assert ans.confident, ans.answer
    assert ans.citations and 1 <= len(ans.citations) <= 3
    _check_consistent(ans, engine)
    expected_docs = {doc for doc, _ in q["expect"]}
    assert expected_docs & {c.doc_id for c in ans.citations}, ans.answer
    if not q.get("doc_only"):
        assert any(c.doc_id == doc and phrase in c.quote for c in ans.citations for doc, phrase in q["expect"]), ans.answer


@pytest.mark.parametrize("q", UNANSWERABLE, ids=[q["id"] for q in UNANSWERABLE])
def test_unanswerable_questions_are_not_confident(q: dict, answers: dict[str, Answer]) -> None:
    ans = answers[q["id"]]
    assert not ans.confident
    assert ans.answer == NOT_CONFIDENT_ANSWER and ans.citations == []
    assert ans.results  # the retrieved passages are still returned


def test_calibration_still_separates_with_margin(answerer: Answerer, answers: dict[str, Answer]) -> None:
    """The recorded threshold sits in the gap between the two question sets (docs/answering.md)."""
    def best(q: dict) -> float:  # same hits as ask() used; the embeddings are cached by then
        scored, _ = answerer.score_sentences(q["question"], answers[q["id"]].results)
        return scored[0].score

    pos = [best(q) for q in ANSWERABLE]
    neg = [best(q) for q in UNANSWERABLE]
    _, margin = calibrate_threshold(pos, neg)
    assert margin > 0.05, (min(pos), max(neg))
    assert max(neg) + 0.05 < DEFAULT_THRESHOLD < min(pos) - 0.05


def test_answer_json_shape(answers: dict[str, Answer]) -> None:
    d = json.loads(json.dumps(answers["a03"].to_dict()))
    assert list(d) == ["question", "answer", "confident", "citations", "results"]
    assert d["results"][0].keys() >= {"rank", "score", "passage_id", "doc_id", "title", "text", "start", "end"}
    assert isinstance(Answerer, type) and isinstance(answers["a03"].citations[0], Citation)


def test_bad_questions_are_query_errors(answerer: Answerer) -> None:
    with pytest.raises(QueryError, match="empty"):
        answerer.ask("   ")
    with pytest.raises(QueryError, match="limit"):
        answerer.ask("why " * MAX_QUERY_CHARS)
    with pytest.raises(QueryError):
        answerer.ask(None)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="k must be"):
        answerer.ask("why?", k=0)
    with pytest.raises(QueryError, match="unknown mode"):
        answerer.ask("why did Russia leave?", mode="psychic")


def test_constructor_validates(engine) -> None:  # type: ignore[no-untyped-def]
    for kwargs in ({"k": 0}, {"max_sentences": 0}, {"threshold": float("nan")}):
        with pytest.raises(ValueError):
            Answerer(engine, **kwargs)
    assert Answerer(engine, threshold=2.0).ask("How many Russian troops were deployed to Karabakh in 2020?").confident is False


# --------------------------------------------------------------------------- CLI
def test_cli_ask_json(monkeypatch, capsys, engine, sample_index) -> None:  # type: ignore[no-untyped-def]
    import qa.cli.ask_cmd as ask_cmd

    monkeypatch.setattr(ask_cmd.Engine, "open", lambda *a, **k: engine)  # reuse the loaded model
    q = "When did the Armenian parliament ratify the Rome Statute?"
    assert main(["ask", q, "--index", str(sample_index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["question", "answer", "confident", "citations", "results"]
    assert out["question"] == q and out["confident"] is True
    c = out["citations"][0]
    assert set(c) >= {"n", "passage_id", "doc_id", "title", "source", "text", "quote", "start", "end"}
    assert isinstance(c["n"], int) and isinstance(c["start"], int) and "October 3" in c["quote"]
    assert out["results"] and set(out["results"][0]) >= {"rank", "score", "passage_id", "doc_id", "text"}

    assert main(["ask", "Who won the 2022 FIFA World Cup final?", "--index", str(sample_index)]) == 0
    assert "not confident" in capsys.readouterr().out


@pytest.mark.parametrize("question, index", [("   ", None), ("why?", "missing")])
def test_cli_ask_errors_exit_2_with_one_line(question, index, capsys, sample_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    directory = str(tmp_path / "nowhere") if index else str(sample_index)
    assert main(["ask", question, "--index", directory]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qa: error:") and err.count("\n") == 1
