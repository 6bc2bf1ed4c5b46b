"""Answering: pure scoring/selection steps, then the sample-corpus questions end to end, then `qa ask`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from index.errors import QueryError
from index.records import Article, Hit, Passage
from qa import Answer, Answerer, Citation
from qa.answer import (
    EVIDENCE_LABEL,
    NONE_ANSWER,
    PRONOUN_OPENERS,
    Candidate,
    ScoredSentence,
    blend,
    candidate_sentences,
    answer_quote,
    compose,
    is_answer_like,
    lexical_coverage,
    mmr_select,
    needs_context,
    order_for_reading,
    question_terms,
    select_units,
)
from qa.answer_eval import evaluate_answers, load_answer_cases
from qa.cli import main
from qa.question import analyze
from index.defaults import MAX_QUERY_CHARS

QUESTION_SET = Path(__file__).resolve().parents[1] / "eval" / "answer_questions.jsonl"
QUESTIONS = [json.loads(line) for line in QUESTION_SET.open(encoding="utf-8")]
CASES = load_answer_cases(QUESTION_SET)
MARKER = re.compile(r"\[(\d+)\]")
FLAGSHIP = "why did Russia withdraw peacekeepers?"


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


def test_is_answer_like_skips_headings_captions_and_questions() -> None:
    assert is_answer_like("Russia withdrew its peacekeepers from Karabakh.")
    assert is_answer_like("“Russia has betrayed us,” he added after the meeting.")
    assert not is_answer_like("Heading line")
    assert not is_answer_like("Why did Russia leave the region at all?")
    assert not is_answer_like("Where is Armenia headed, then?”")
    assert not is_answer_like("Russia Quietly Withdraws from Karabakh, Relinquishing Its Influence – 2024-04-22")  # no stop
    assert not is_answer_like("Illustration – Russia has quietly withdrawn its troops from the region. (AFP)")
    assert not is_answer_like("Also read: US Completes Joint Military Exercises in Armenia.")


def test_needs_context() -> None:
    for s in ("It may invade Armenia soon.", "They have no doubts.", "But their withdrawal was clear.",
              "“This would put Azerbaijan on an even darker path,” the institute writes.", "However, it failed."):
        assert needs_context(s), s
    for s in ("This week, the Kremlin confirmed it.", "Russia withdrew.", "Italy is far away.", "Theirs is mine."):
        assert not needs_context(s), s


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


CONTEXT_TEXT = (
    "Blinken said Azerbaijan has no intention to stop its campaign. It may invade Armenia soon.\n\n"
    "It was cold in the morning there.\n\n"
    "Moscow Title Sentence Here Again.\n\n"
    "Analysts say the region is calm for now."
)


def test_candidates_bring_context_and_skip_titles_and_cut_sentences() -> None:
    art = Article(doc_id="d2", title="Moscow Title Sentence Here Again.", text=CONTEXT_TEXT, source="", date="", url="")
    cands = candidate_sentences([_hit(1, 0, len(CONTEXT_TEXT), art)])
    texts = [c.text for c in cands]
    # "It may invade" brings the sentence before it; the two sentences are one quote
    first = "Blinken said Azerbaijan has no intention to stop its campaign."
    assert texts[:2] == [first, first + " It may invade Armenia soon."]
    assert cands[1].core == "It may invade Armenia soon." and cands[1].core_start > cands[1].start == cands[0].start
    assert cands[0].core == first
    # its predecessor opens with "It" too: the quote reaches back two sentences
    assert texts[2] == first + " It may invade Armenia soon.\n\nIt was cold in the morning there."
    assert "Moscow Title Sentence Here Again." not in texts  # repeats the headline
    assert texts[-1] == "Analysts say the region is calm for now."
    # a passage starting inside "It may invade ...": the pronoun sentence has no context there, so it is not quoted,
    # and a passage cutting a sentence leaves it to the passage that holds it whole
    start = CONTEXT_TEXT.index("It may")
    cut = CONTEXT_TEXT.index("Analysts say") + 10
    texts = [c.text for c in candidate_sentences([_hit(1, start, cut, art)])]
    assert not any(t.startswith("It may") for t in texts) and not any(t.startswith("Analysts") for t in texts)


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


def test_order_for_reading_keeps_the_best_first_then_groups_articles() -> None:
    a_late, b, a_early, a_mid = (_scored(0, 100, 110, 0.9), _scored(1, 0, 10, 0.8, "d2"), _scored(0, 0, 10, 0.7),
                                 _scored(0, 50, 60, 0.6))
    assert order_for_reading([a_late, b, a_early, a_mid]) == [a_late, a_early, a_mid, b]
    assert order_for_reading([b, a_mid, a_early]) == [b, a_early, a_mid]
    assert order_for_reading([]) == []


def _unit(start: int, doc: str, final: float, typed: float, items: tuple[str, ...], focus: float = 1.0) -> ScoredSentence:
    return ScoredSentence(Candidate(0, doc, start, start + 5, "x"), 0.6, 0.5, 0.6, typed, focus, final, items)


def test_select_units_adds_facts_not_filler() -> None:
    a = analyze("How many Armenians fled Karabakh?")
    best = _unit(0, "d1", 1.0, 1.0, ("100,000",))
    same_fact = _unit(10, "d1", 0.98, 1.0, ("100,000",))  # same article, same number: not a new fact
    new_fact = _unit(20, "d1", 0.97, 1.0, ("120,000",))  # same article, another number: a new fact
    other = _unit(0, "d2", 0.96, 1.0, ("100,000",))  # another article confirming it
    filler = _unit(0, "d3", 0.95, 0.3, ())  # carries no number: filler under a clear answer
    off_focus = _unit(0, "d4", 0.95, 1.0, ("7",), focus=0.2)  # a number about something else
    far = _unit(0, "d5", 0.5, 1.0, ("9",))  # far below the best
    weaker = _unit(0, "d6", 0.95, 0.5, ("4",))  # a number, but much less clearly the asked one than the best's
    third = _unit(30, "d1", 0.965, 1.0, ("130,000",))  # a third fact from d1: never (one further fact per article)
    units = [best, same_fact, new_fact, other, filler, off_focus, far, weaker, third]
    chosen = select_units(units, np.eye(len(units)), a, 5, min_score=0.4, gap=0.12)
    assert chosen == [best, new_fact, other]
    assert select_units(units, np.eye(len(units)), a, 1, min_score=0.4, gap=0.12) == [best]
    overlap = _unit(3, "d1", 0.99, 1.0, ("5,000",))  # shares text with the best unit
    assert overlap not in select_units([best, overlap], np.eye(2), a, 3, min_score=0.4, gap=0.12)


def test_compose_numbers_each_quote_in_answer_order() -> None:
    first = TEXT.index("Russia withdrew")
    s1 = _scored(1, first, TEXT.index(" The Kremlin"), 0.8)
    s2 = _scored(0, TEXT.index("Analysts"), len(TEXT), 0.7)
    s3 = _scored(1, TEXT.index("The Kremlin"), TEXT.index(" Why"), 0.6)
    hits = [_hit(1, TEXT.index("Analysts"), len(TEXT)), _hit(2, first, len(TEXT))]
    text, cites = compose([s1, s2, s3], hits)
    assert text.endswith("[3]") and [int(n) for n in MARKER.findall(text)] == [1, 2, 3]
    assert text.startswith("Russia withdrew its peacekeepers from Karabakh this week. [1] Analysts")
    # one number per quote: two quotes of passage p2 are [1] and [3], each its own citation
    assert [(c.n, c.passage_id) for c in cites] == [(1, "p2"), (2, "p1"), (3, "p2")]
    for c in cites:
        assert TEXT[c.start:c.end] == c.quote
    d = cites[0].to_dict()
    assert list(d) == ["n", "passage_id", "doc_id", "title", "source", "date", "url", "text", "quote", "start", "end", "score"]
    assert (d["title"], d["source"], d["date"], d["url"]) == ("Russia leaves", "wire", "2024-04-22", "http://x")


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


def test_answerer_without_index_caches_sentence_vectors_and_abstains() -> None:
    fake = _FakeRetriever()
    answerer = Answerer(fake, threshold=0.5)  # any object with search() and embedder is a Retriever
    ans = answerer.ask("Why was Moscow too busy with the war in Ukraine?")
    assert ans.confident and ans.answer.endswith("[1]") and ans.question_type == "why"
    assert ans.citations[0].quote == "Analysts say Moscow was too busy with the war in Ukraine to stay."  # the reason
    # question + 3 sentences, one text per call (deterministic vectors: no batch effects)
    assert [len(c) for c in fake.embedder.calls] == [1, 1, 1, 1]
    again = answerer.ask("Did Russia withdraw peacekeepers from Karabakh?")
    assert fake.embedder.calls[-1] == ["Did Russia withdraw peacekeepers from Karabakh?"]  # sentences cached
    assert again.citations[0].n == 1 and again.citations[0].quote.startswith("Russia withdrew")
    no = answerer.ask("How long to boil pasta?")  # off-topic: status none, no quotes
    assert (no.status, no.confident, no.answer, no.citations, len(no.results)) == ("none", False, NONE_ANSWER, [], 1)
    assert no.related == [] and no.reason.startswith("answerability")  # and why not


# --------------------------------------------------------------------------- the sample corpus, end to end
@pytest.fixture(scope="module")
def answerer(engine) -> Answerer:  # type: ignore[no-untyped-def]
    return Answerer(engine, reranker=engine.reranker)  # the app's: with the shipped reader


@pytest.fixture(scope="module")
def answers(answerer: Answerer) -> dict[str, Answer]:
    return {q["id"]: answerer.ask(q["question"]) for q in QUESTIONS}


def test_question_set_has_every_kind_and_a_heldout_third() -> None:
    kinds: dict[str, list] = {}
    for c in CASES:
        if c.split not in ("tune2", "fresh", "fresh2", "fresh3", "fresh4", "fresh5"):
            kinds.setdefault(c.kind, []).append(c)
    need = {"why_how": 20, "quantity_when": 15, "who_where_which": 15, "unanswerable": 20, "offtopic": 10}
    for kind, n in need.items():
        assert len(kinds[kind]) >= n, kind
        held = sum(c.split == "heldout" for c in kinds[kind])
        assert abs(held - len(kinds[kind]) / 3) <= 1, kind
    assert sum(len(v) for v in kinds.values()) >= 80
    # the fresh split (frozen before the second round of changes): >= 30 questions in the proportions
    fresh = [c for c in CASES if c.split == "fresh"]
    assert len(fresh) >= 30
    for kind, n in need.items():
        assert sum(c.kind == kind for c in fresh) >= n * len(fresh) // 80 - 1, kind


def test_evidence_is_in_the_articles_and_unanswerable_facts_are_not() -> None:
    from conftest import SAMPLE_CORPUS

    texts = {p.stem: " ".join(p.read_text(encoding="utf-8").split()) for p in SAMPLE_CORPUS.glob("*.txt")}
    for q in QUESTIONS:
        for phrase in q["evidence"]:
            docs = [d for d, t in texts.items() if " ".join(phrase.split()) in t]
            assert docs and set(docs) <= set(q["docs"]), (q["id"], phrase)
        for probe in q.get("absent", []):  # facts the articles do not state (checked by grep when written)
            assert not any(probe.lower() in t.lower() for t in texts.values()), (q["id"], probe)


def _check_consistent(ans: Answer, engine) -> None:  # type: ignore[no-untyped-def]
    """Quotes are exact, markers and citations agree, numbering follows first appearance."""
    markers = [int(m) for m in MARKER.findall(ans.answer)]
    assert markers == [c.n for c in ans.citations]  # one marker per quoted unit, in order
    assert markers == list(range(1, len(markers) + 1))  # each quote its own number: [n] is citations[n - 1]
    result_ids = {h.passage.passage_id for h in ans.results}
    for c in ans.citations:
        article = engine.store.articles[c.doc_id]
        assert article.text[c.start:c.end] == c.quote
        assert c.passage_id in result_ids
        passage = next(h.passage for h in ans.results if h.passage.passage_id == c.passage_id)
        assert passage.start <= c.start < c.end <= passage.end and c.text == passage.text
        assert " ".join(c.quote.split()) in ans.answer
        assert not PRONOUN_OPENERS.match(c.quote) and is_answer_like(c.quote.split("\n")[-1])  # readable, no captions


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
def test_every_answer_is_consistent_and_readable(answers: dict[str, Answer], engine) -> None:  # type: ignore[no-untyped-def]
    for qid, ans in answers.items():
        _check_consistent(ans, engine)
        assert 0 <= len(ans.citations) <= 3
        assert ans.status in ("answered", "evidence", "none") and ans.confident == (ans.status == "answered")
        assert ans.related == [], qid  # graded answers quote the closest sentences as citations
        if ans.status == "answered":
            assert len({c.doc_id for c in ans.citations}) >= len(ans.citations) - 1  # rarely two from one article
            assert ans.label == ""
        elif ans.status == "evidence":  # the closest sentences, best first, under the label
            assert ans.label == EVIDENCE_LABEL and 1 <= len(ans.citations) <= 3 and ans.results, qid
            assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
            for doc in {c.doc_id for c in ans.citations}:  # at most two from one article, sharing no sentence
                same = [c for c in ans.citations if c.doc_id == doc]
                assert len(same) <= 2, qid
                assert len(same) < 2 or same[0].end <= same[1].start or same[1].end <= same[0].start, qid
        else:
            assert (ans.answer, ans.citations, ans.label) == (NONE_ANSWER, [], ""), qid


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
def test_every_off_topic_question_is_none_and_no_answerable_one_is(answers: dict[str, Answer]) -> None:
    """Topicality (qa.learned.AnswerModel.topical), fitted on the training splits: every off-topic
    question of every split is ``none``; an answerable one almost never is (1 of 226, in fresh4)."""
    by_id = {c.id: c for c in CASES}
    status = {qid: a.status for qid, a in answers.items()}
    assert all(status[c.id] == "none" for c in CASES if c.kind == "offtopic"), \
        [c.question for c in CASES if c.kind == "offtopic" and status[c.id] != "none"]
    answerable_none = [qid for qid, st in status.items() if st == "none" and by_id[qid].answerable]
    assert len(answerable_none) <= 2, answerable_none
    # and the flagship, refused before, now shows its closest sentences instead of a refusal
    flagship = answers[next(q["id"] for q in QUESTIONS if q["question"] == FLAGSHIP)]
    assert flagship.status == "evidence" and flagship.citations


@pytest.mark.xfail(strict=True, reason="issue 24, open: shown as evidence, not answered (p 0.55 < 0.82); the ranker puts a "
                   "sentence restating the withdrawal first, the analyst's reason (9th passage) 6th (docs/answering.md)")
@pytest.mark.tier2  # reads `answers`: all 357 questions asked
def test_flagship_why_question_quotes_the_reason(answers: dict[str, Answer]) -> None:
    qid = next(q["id"] for q in QUESTIONS if q["question"] == FLAGSHIP)
    ans = answers[qid]
    assert ans.confident and ans.question_type == "why"
    first = ans.citations[0].quote
    assert "to maintain good relations with Azerbaijan and Turkey" in first or "too involved with the invasion" in first
    assert "Illustration" not in ans.answer


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
def test_answer_metrics_on_both_splits(answers: dict[str, Answer]) -> None:
    """Graded answers, floors one question below the figures docs/answering.md reports (the ranker and
    answerability model fitted on tune, tune2, fresh and fresh2; the two decisions chosen on the same
    splits by ``scripts/fit_answer_model.py --decisions``; the reader, docs/reader.md, trained on the
    same splits). heldout, fresh3, fresh4 and fresh5 were not used for fitting or choosing anything;
    fresh3, fresh4 and fresh5 were written blind and frozen first."""
    report = evaluate_answers(CASES, lambda q: answers[next(x["id"] for x in QUESTIONS if x["question"] == q)])
    m = report.metrics
    for split, body, first in (("tune", 0.94, 0.82), ("heldout", 0.91, 0.87), ("fresh3", 0.80, 0.68),
                               ("fresh4", 0.64, 0.56), ("fresh5", 0.88, 0.84), ("unseen", 0.84, 0.78)):
        assert m[split]["evidence_in_body"] >= body and m[split]["evidence_in_first"] >= first, (split, m[split])
    for split in ("tune", "heldout", "fresh3", "fresh4", "fresh5", "unseen"):
        assert m[split]["offtopic_none"] == 1.0 and m[split]["unanswerable_answered"] <= 0.1, split
    assert m["unseen"]["answered_precision"] >= 0.9 and m["tune"]["answered_precision"] == 1.0
    assert m["unseen"]["answerable_none"] <= 0.03


def test_an_answer_about_another_event_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    q = "In which city was the 2020 Karabakh ceasefire agreement signed?"  # the articles do not say
    refused = Answerer(engine).ask(q)
    assert not refused.confident and refused.reason.startswith("answerability")
    assert Answerer(engine, threshold=0.0).ask(q).confident  # the threshold is what refuses it


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
def test_an_unstated_fact_is_refused_naming_the_missing_word(answers: dict[str, Answer]) -> None:
    by_q = {q["question"]: answers[q["id"]] for q in QUESTIONS}
    gdp = by_q["What is the GDP of Armenia?"]
    assert not gdp.confident and "no retrieved passage mentions gdp" in gdp.reason.lower()


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
@pytest.mark.xfail(strict=True, reason="issue 24, open: shown as evidence (p 0.52 < 0.82), the planned 5,000 first")
def test_how_many_quotes_the_number_asked_for(answers: dict[str, Answer]) -> None:
    by_q = {q["question"]: answers[q["id"]] for q in QUESTIONS}
    first = by_q["How many Russian peacekeepers were sent to Karabakh in 2020?"].citations[0].quote
    assert "nearly 2,000 troops in 2020" in first  # not "About 5,000 ... were planned"


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
@pytest.mark.xfail(strict=True, reason="issue 24, open: shown as evidence (p < 0.5); the 100,000 sentence is not first")
def test_how_many_armenians_fled_is_answered(answers: dict[str, Answer]) -> None:
    by_q = {q["question"]: answers[q["id"]] for q in QUESTIONS}
    assert "100,000" in by_q["How many Armenians fled Nagorno-Karabakh?"].citations[0].quote


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
def test_answer_json_shape(answers: dict[str, Answer]) -> None:
    ans = answers["n09"]
    d = json.loads(json.dumps(ans.to_dict()))
    assert list(d) == ["question", "status", "label", "answer", "confident", "citations", "results", "question_type",
                       "related", "reason"]
    assert d["question_type"] == "when" and d["related"] == [] and d["confident"] is True and d["status"] == "answered"
    assert d["results"][0].keys() >= {"rank", "score", "passage_id", "doc_id", "title", "text", "start", "end"}
    assert isinstance(ans.citations[0], Citation) and ans.citations[0].n == 1
    unsure = json.loads(json.dumps(answers["u01"].to_dict()))
    assert unsure["status"] == "evidence" and unsure["confident"] is False and unsure["label"] == EVIDENCE_LABEL
    assert unsure["citations"] and set(unsure["citations"][0]) == set(d["citations"][0])


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
    for kwargs in ({"k": 0}, {"max_sentences": 0}, {"threshold": float("nan")}, {"reranker": object()}):
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
    assert list(out)[:7] == ["question", "status", "label", "answer", "confident", "citations", "results"]
    assert out["question"] == q and out["confident"] is True and out["status"] == "answered"
    c = out["citations"][0]
    assert set(c) >= {"n", "passage_id", "doc_id", "title", "source", "text", "quote", "start", "end"}
    assert isinstance(c["n"], int) and isinstance(c["start"], int) and "October 3" in c["quote"]
    assert out["results"] and set(out["results"][0]) >= {"rank", "score", "passage_id", "doc_id", "text"}

    assert main(["ask", "Who won the 2022 FIFA World Cup final?", "--index", str(sample_index)]) == 0
    assert capsys.readouterr().out.startswith(NONE_ANSWER)  # off-topic: said so, no quotes
    assert main(["ask", "Why did Russia withdraw peacekeepers?", "--index", str(sample_index)]) == 0
    shown = capsys.readouterr().out  # the flagship: its closest sentences, labelled and cited
    assert shown.startswith(EVIDENCE_LABEL + "\n") and "[1]" in shown and "not a direct answer" in shown


@pytest.mark.parametrize("question, index", [("   ", None), ("why?", "missing")])
def test_cli_ask_errors_exit_2_with_one_line(question, index, capsys, sample_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    directory = str(tmp_path / "nowhere") if index else str(sample_index)
    assert main(["ask", question, "--index", directory]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qa: error:") and err.count("\n") == 1


def test_every_example_the_ui_offers_shows_its_evidence_first(engine) -> None:  # type: ignore[no-untyped-def]
    """Each example chip leads with a sentence that holds the answer (its eval set evidence), marked
    ``answered`` or shown as ``evidence``: never a refusal."""
    from ui.web import EXAMPLES

    expected = {"Why did Russia withdraw from Karabakh?": "to maintain good relations with Azerbaijan",
                "Where will Russian troops remain in Armenia after the withdrawal?": "remain on Armenia’s borders with Turkey",
                "How many Armenians fled Karabakh after Azerbaijan's September offensive?": "100,000",
                "What did Pashinyan call relying solely on Russia for security?": "strategic mistake"}
    assert set(EXAMPLES) == set(expected)
    for q in EXAMPLES:
        ans = engine.ask(q)
        assert ans.status in ("answered", "evidence") and ans.citations, (q, ans.reason)
        assert expected[q] in ans.citations[0].quote, (q, ans.citations[0].quote)


# --------------------------------------------------------------------------- citation markers (tester's defects 1, 2)
ZOO = Article(doc_id="zoo", title="Zoo", text="Zoo keepers in Yerevan said the zebras [1] eat hay. The zoo opened in 1940.")


def test_an_articles_own_bracketed_numbers_never_become_markers() -> None:
    """Wiki-style footnotes ("the zebras [1] eat hay") stay in ``quote`` and out of the answer text,
    where ``[n]`` is reserved for the answer's markers."""
    end = ZOO.text.index(" The zoo")
    hit = _hit(1, 0, len(ZOO.text), ZOO)
    unit = ScoredSentence(Candidate(0, "zoo", 0, end, ZOO.text[:end]), 0.9, 0.0, 0.9)
    text, cites = compose([unit], [hit])
    assert text == "Zoo keepers in Yerevan said the zebras eat hay. [1]"
    assert cites[0].quote == ZOO.text[cites[0].start:cites[0].end] == "Zoo keepers in Yerevan said the zebras [1] eat hay."
    assert answer_quote("Prices rose [12][13], officials said [4].") == "Prices rose, officials said."


def test_footnote_in_an_indexed_record_is_not_a_citation(tmp_path, embedder, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """The tester's repro: a .jsonl record with "[1]" in its text indexed into a fresh index,
    `qa ask --json`, and the UI's rendering of the same answer."""
    import qa.cli.ask_cmd as ask_cmd
    from index.builder import build_index
    from qa.engine import Engine
    from ui import render

    record = tmp_path / "zoo.jsonl"
    record.write_text(json.dumps({"id": "zoo", "title": "Zoo", "text": ZOO.text}) + "\n", encoding="utf-8")
    index = tmp_path / "zoo-index"
    build_index([record], index, embedder=embedder)  # what `qa index` runs
    engine = Engine.open(index, embedder=embedder, threshold=0.5)  # p 0.82: answered whatever the bundled threshold
    monkeypatch.setattr(ask_cmd.Engine, "open", lambda *a, **k: engine)  # reuse the loaded model
    q = "What do the zebras eat according to zoo keepers in Yerevan?"
    assert main(["ask", q, "--index", str(index), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["confident"] is True and [c["n"] for c in out["citations"]] == [1], out["reason"]
    assert out["answer"] == "Zoo keepers in Yerevan said the zebras eat hay. [1]"  # only the answer's own marker
    assert out["citations"][0]["quote"] == "Zoo keepers in Yerevan said the zebras [1] eat hay."  # verbatim
    ans = engine.ask(q)
    html = render.answer_html(ans)
    assert html.count("<a ") == html.count('class="qa-cite"') == 1  # the UI links the marker, nothing else
    assert "said the zebras eat hay." in html and '<q class="qa-preview__quote">Zoo keepers' in html  # the preview: verbatim
    cards = render.cards_html(ans)
    assert "<mark>Zoo keepers in Yerevan said the zebras [1] eat hay.</mark>" in cards and "qa-cite" not in cards


@pytest.mark.tier2  # reads `answers`: all 357 questions asked
def test_two_quotes_of_one_passage_have_their_own_numbers(answers: dict[str, Answer]) -> None:
    """On the sample corpus some answers quote one passage twice (e10: "Which countries had already
    left the CSTO before Armenia?"); each quote is its own citation, [1] and [2], not two [1]s."""
    twice = {qid: a for qid, a in answers.items()
             if len({c.passage_id for c in a.citations}) < len(a.citations)}
    assert twice, "no sample answer quotes one passage twice any more: pick another check"
    for qid, a in twice.items():
        assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1)), qid
        assert [int(n) for n in MARKER.findall(a.answer)] == [c.n for c in a.citations], qid
        d = json.loads(json.dumps(a.to_dict()))
        assert len({c["n"] for c in d["citations"]}) == len(d["citations"]), qid  # the JSON the API returns
