"""Extractive, cited answers: quote the retrieved sentences that answer a question, or say none does.

Pipeline (see docs/answering.md):

1. analyse the question (:mod:`qa.question`): its type, the expected answer type, its focus;
2. retrieve the top-``k`` passages with ``searcher.search`` (hybrid by default);
3. cut them into quotable units (``index.chunking.split_sentences`` over the article text, so
   every quote is ``article.text[start:end]`` exactly): a sentence that opens with a pronoun or
   connective brings the sentence before it; headings, captions and questions are never quoted;
4. measure each unit: cosine of question and sentence embeddings blended with IDF-weighted
   lexical coverage (``score``), answer-type evidence (:mod:`qa.extract`), focus and verb
   coverage, its passage's rank ...; a learned linear ranker (:mod:`qa.learned`) turns the
   measurements into ``final``; an optional cross-encoder (:mod:`qa.rerank`) adds its own relevance;
5. verify the best unit (:mod:`qa.verify`): a learned answerability model gives the probability
   that it answers; below the threshold, say so and list the closest units as ``related``;
6. otherwise quote it first, then at most ``max_sentences - 1`` more that add a fact (one per
   article unless a second one brings a new answer; no filler below a clear answer).

The scoring, selection and composition steps are pure functions, testable without a model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from index.chunking import split_sentences
from index.lexical import BM25Settings, tokenize
from index.prompts import Prompts
from index.vector_cache import VectorCache
from index.records import Article, Hit

from .extract import focus_coverage, lemma_coverage, missing_focus, type_evidence, word_matches
from .filters import SearchFilter
from .learned import ANSWER_FEATURES, UNIT_FEATURES, AnswerModel, default_answer_model
from index.defaults import ASK_K, MAX_K

from .query import validate_query
from .question import QuestionAnalysis, analyze
from .rerank import Reading, reads, rerank_scores, with_bonus
from .tagger import tag_many
from .verify import Verdict, verify

#: Answer-type evidence at which a unit carries the type asked for (qa.extract scores 0..1).
TYPED_MIN = 0.5
#: A unit joining the answer may carry its answer type at most this much less clearly than the first.
FILLER_GAP = 0.4
#: Share of the focus words a unit needs to join the answer after the first one.
ADD_FOCUS_MIN = 0.5
#: Blended score (topic) a unit needs to join the answer after the first one.
JOIN_SCORE_MIN = 0.42
#: A further unit joins the answer only if the ranker scores it within this of the best one (logit units).
JOIN_GAP = 2.0
#: Answer-scoring terms are stems cut to this many letters (withdraw / withdrawn, Russia / Russian).
TERM_PREFIX = 6
#: Weight of the optional cross-encoder's relevance (a probability) in ``final`` (the ranker's logit units).
RERANK_WEIGHT = 2.0
#: Units re-scored by the cross-encoder (the best by ``final``).
RERANK_DEPTH = 20
#: Words beyond which a unit counts as long (a ranker feature: long sentences match every question a little).
LONG_WORDS = 40
#: At most this many of an ``evidence`` answer's quotes come from one article: with 2 rather than 1,
#: the closest sentences of refused answerable questions held the evidence for 0.67-0.93 of them on
#: the training splits, against 0.33-0.79 (docs/answering.md).
RELATED_PER_ARTICLE = 2
#: Share of the lexical coverage in a sentence's score (the rest is the embedding cosine).
LEXICAL_WEIGHT = 0.2
#: MMR trade-off between relevance (1.0) and novelty (0.0).
MMR_LAMBDA = 0.7
#: Sentences at least this similar (cosine) to one already chosen are near-duplicates.
DUPLICATE_SIMILARITY = 0.85
#: The legacy pipeline's relative floor (benchmarks/ask_latency.py): a further sentence joined only
#: if its blended score was within this of the best one.
RELATIVE_FLOOR = 0.12
#: Candidate sentences shorter than this many words (headings, captions) are skipped.
MIN_WORDS = 5

#: Interrogatives and auxiliaries that carry no topic; left out of the question's lexical terms.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how many much did does do done has have had can could would "
    "should shall may might must was were been being according tell me please".split()
)

NOT_CONFIDENT_ANSWER = "The indexed articles do not seem to answer this question."
#: ``Answer.status``: a sentence is judged to answer / the articles are about the question but no
#: sentence is judged a direct answer (the closest sentences are quoted) / nothing retrieved is about it.
ANSWERED, EVIDENCE, NONE = "answered", "evidence", "none"
STATUSES = (ANSWERED, EVIDENCE, NONE)
#: The label shown above an ``evidence`` answer's quotes.
EVIDENCE_LABEL = "The articles may not answer this directly; the closest passages say:"
#: The whole answer when nothing retrieved is about the question (no quotes).
NONE_ANSWER = "Nothing in the indexed articles is about this question."
#: Sentences an ``evidence`` answer quotes (the ranker's best, at most ``RELATED_PER_ARTICLE`` per article).
EVIDENCE_SENTENCES = 3
EMBED_CACHE_SIZE = 50_000

#: A sentence opening with a pronoun or a connective needs the sentence before it to be readable.
_TIME_WORD = r"(?!\s+(week|month|year|time|day|morning|evening|summer|autumn|spring|winter|fall)\b)"
PRONOUN_OPENERS = re.compile(
    r"^[\"“‘'(]?(it|its|they|their|them|this|that|these|those|he|his|she|her|such|the latter|the former)\b" + _TIME_WORD,
    re.I)
CONNECTIVE_OPENERS = re.compile(
    r"^[\"“‘'(]?(but|however|thus|so|also|and|then|therefore|still|yet|meanwhile|moreover|instead|otherwise|"
    r"in addition|at that time|at the time|since then|in response|as a result|even so|after that)\b", re.I)
#: Sentences a quote may reach back for context.
MAX_CONTEXT = 2
#: Photo captions and link lines, never quoted.
CAPTION = re.compile(r"^(illustration|photo|image|images source|picture|video|caption|source|read also|also read|"
                     r"see also|share|file photo)\b", re.I)
TERMINAL = re.compile(r"[.!…\"”’»')]$")

Splitter = Callable[[str], list[tuple[int, int]]]
Tokenizer = Callable[[str], list[str]]


class Embedder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class Retriever(Protocol):
    """What the Answerer needs from a search engine: the engine, or the engine pinned to one index generation."""

    embedder: Embedder

    def search(self, query: str, k: int = ..., mode: Any = ..., filters: SearchFilter | None = ...) -> list[Hit]: ...


class Reranker(Protocol):
    """A cross-encoder: relevance scores for (question, passage) pairs (qa.rerank)."""

    def predict(self, pairs: Sequence[tuple[str, str]]) -> Any: ...


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Citation:
    """One quoted sentence and the passage it comes from. ``quote == article.text[start:end]``."""

    n: int
    passage_id: str
    doc_id: str
    title: str
    source: str
    date: str
    url: str
    text: str  # the whole passage text
    quote: str  # the cited sentence, exactly article.text[start:end]
    start: int  # offsets of the quote in the article's cleaned text
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "passage_id": self.passage_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "date": self.date,
            "url": self.url,
            "text": self.text,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 6),
        }


def timeline_hint(topic: str) -> str:
    """The line that offers a story question its timeline."""
    return f"This question asks how a story developed: the timeline of \"{topic}\" lists its dated events."


@dataclass(frozen=True)
class Answer:
    """``answer`` is the composed text with ``[n]`` markers (the only bracketed numbers in it:
    :func:`answer_quote`); ``citations`` holds one entry per quoted sentence in answer order, the
    one of marker ``[n]`` being ``citations[n - 1]`` (two quotes of one passage have two numbers
    and the same ``passage_id``); ``results`` are the retrieved passages, as ``qa search`` returns them."""

    question: str
    answer: str
    confident: bool
    citations: list[Citation] = field(default_factory=list)
    results: list[Hit] = field(default_factory=list)
    question_type: str = ""  # qa.question: why, how, how_many, how_much, how_long, when, where, who, which, what, ...
    related: list[Citation] = field(default_factory=list)  # kept for older clients: always empty (see status)
    reason: str = ""  # why the answer is (not) confident (qa.verify)
    #: ``answered`` (``confident``), ``evidence`` (the closest sentences, quoted and cited under
    #: ``label``) or ``none`` (nothing retrieved is about the question: no quotes); "" = derived from ``confident``
    status: str = ""
    label: str = ""  # the line shown above the quotes ("" for answered and none)
    #: the topic of a question that asks how a story developed (:func:`qa.question.story_topic`): the
    #: answer offers its timeline (``Engine.timeline``); "" for other questions
    timeline: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", ANSWERED if self.confident else (EVIDENCE if self.citations else NONE))
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.confident != (self.status == ANSWERED):
            raise ValueError("confident is true exactly when status is 'answered'")

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "status": self.status,
            "label": self.label,
            "answer": self.answer,
            "confident": self.confident,
            "citations": [c.to_dict() for c in self.citations],
            "results": [h.to_dict() for h in self.results],
            "question_type": self.question_type,
            "related": [c.to_dict() for c in self.related],
            "reason": self.reason,
            # only for a story question, so the fields of every other answer stay as they were
            **({"timeline": {"topic": self.timeline, "hint": timeline_hint(self.timeline)}} if self.timeline else {}),
        }


@dataclass(frozen=True)
class Candidate:
    """A quotable unit of a retrieved passage: ``article.text[start:end]``, from ``hits[hit_index]``.

    Usually one sentence; a sentence that needs its predecessor (it opens with "It", "But" ...)
    starts at the predecessor, and ``core_start`` is where the sentence itself starts."""

    hit_index: int
    doc_id: str
    start: int
    end: int
    text: str
    core_start: int = -1

    @property
    def core(self) -> str:
        """The sentence itself, without the context sentence before it."""
        return self.text if self.core_start <= self.start else self.text[self.core_start - self.start:]


@dataclass(frozen=True)
class ScoredSentence:
    candidate: Candidate
    dense: float  # cosine with the question
    lexical: float  # IDF-weighted share of the question's terms the unit contains
    score: float  # the blend: the topic check of verification
    typed: float = 0.0  # answer-type evidence (qa.extract), 0..1
    focus: float = 0.0  # share of the question's focus nouns and verbs the unit contains
    final: float = 0.0  # the learned ranker's score (+ reranker): the ranking
    items: tuple[str, ...] = ()  # the answer-bearing spans, to tell a new fact from a repeated one
    verbs: float = 1.0  # share of the question's verbs the unit restates (1.0 when it has none)
    #: the learned ranker's score alone (``final`` less the reranker's bonus): what the answerability
    #: model reads, so its inputs keep the scale it was fitted on whether a reader runs or not
    ranker: float | None = None

    @property
    def ranker_score(self) -> float:
        return self.final if self.ranker is None else self.ranker


@dataclass(frozen=True)
class Examination:
    """Everything :meth:`Answerer.examine` found for one question: what ``ask`` decides on, and what
    ``scripts/fit_answer_model.py`` learns from."""

    analysis: QuestionAnalysis
    hits: list[Hit]
    scored: list[ScoredSentence]  # best ``final`` first
    vectors: np.ndarray  # unit vectors of the scored units' sentences, same order
    features: np.ndarray  # the answerability features of the best unit (ANSWER_FEATURES); empty without units
    verdict: Verdict
    topical: bool = True  # the topicality decision (AnswerModel.topical over topic_row); False without units


# --------------------------------------------------------------------------- pure steps
def is_answer_like(text: str, min_words: int = MIN_WORDS) -> bool:
    """False for headings, captions, questions and other sentences that cannot answer: fewer than
    ``min_words`` words, a question mark, no closing punctuation, or a caption opener."""
    stripped = text.strip()
    if len(text.split()) < min_words or CAPTION.match(stripped) or not TERMINAL.search(stripped):
        return False
    return not stripped.rstrip("\"'”’»)").endswith("?")


def needs_context(text: str) -> bool:
    """Whether a sentence opens with a pronoun or connective and reads badly alone."""
    t = text.strip()
    return bool(PRONOUN_OPENERS.match(t) or CONNECTIVE_OPENERS.match(t))


def candidate_sentences(hits: Sequence[Hit], splitter: Splitter = split_sentences,
                        min_words: int = MIN_WORDS) -> list[Candidate]:
    """Quotable units of the hits' passages, best-ranked passage first, each once.

    Sentences are split over the whole article (so boundaries do not depend on where a passage
    starts) and clipped to the passage, so a quote never leaves the passage that cites it. A
    sentence that opens with a pronoun or connective starts at the sentence before it (or, when
    that one opens with a pronoun too, the one before; at most ``MAX_CONTEXT`` back); when there is no
    such readable start in the passage (or a heading is in the way), the sentence is not quoted. Sentences
    repeating the article's title are headings; a sentence cut by the passage's edge is left to
    the neighbouring passage that holds it whole.
    """
    spans_by_doc: dict[str, list[tuple[int, int]]] = {}
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for i, hit in enumerate(hits):
        p, text = hit.passage, hit.article.text
        title = " ".join((hit.article.title or "").split())
        spans = spans_by_doc.get(p.doc_id)
        if spans is None:
            spans = spans_by_doc[p.doc_id] = splitter(text)
        clipped = []
        for s, e in spans:
            if e <= p.start or s >= p.end:
                continue
            if text[s:max(s, p.start)].strip() or text[min(e, p.end):e].strip():
                continue  # cut by the passage's edge: quoted from the neighbouring passage instead
            s, e = max(s, p.start), min(e, p.end)
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s:
                clipped.append((s, e))
        for j, (s, e) in enumerate(clipped):
            quote = text[s:e]
            if not is_answer_like(quote, min_words) or (title and " ".join(quote.split()) in title):
                continue
            start = s
            if needs_context(quote):
                back = j - 1  # walk back (at most MAX_CONTEXT sentences) to one that reads on its own
                while back >= 0 and j - back <= MAX_CONTEXT:
                    prev = text[clipped[back][0]:clipped[back][1]]
                    if not is_answer_like(prev, min_words):
                        back = -1
                    elif PRONOUN_OPENERS.match(prev.strip()):  # a connective may start a quote, a pronoun not
                        back -= 1
                        continue
                    break
                if back < 0 or j - back > MAX_CONTEXT:
                    continue  # no readable start in this passage: not quoted
                start = clipped[back][0]
            key = (p.doc_id, start, e)
            if key in seen:
                continue
            seen.add(key)
            out.append(Candidate(i, p.doc_id, start, e, text[start:e], s))
    return out


def unit_matrix(a: QuestionAnalysis, units: Sequence[ScoredSentence]) -> np.ndarray:
    """The ranker's features of each unit (rows), in :data:`qa.learned.UNIT_FEATURES` order."""
    typed = 1.0 if a.typed else 0.0
    rows = []
    for u in units:
        words = len(u.candidate.text.split())
        rows.append((u.score, u.dense, u.lexical, u.typed * typed, typed * (u.typed >= TYPED_MIN), u.focus, u.verbs,
                     max(0, words - LONG_WORDS) / 10.0, math.log1p(u.candidate.hit_index),
                     float(u.candidate.core_start > u.candidate.start), min(words, LONG_WORDS) / LONG_WORDS))
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(UNIT_FEATURES))


#: Columns of :func:`unit_matrix` that the answerability features repeat.
_SCORE, _LEXICAL, _TYPED, _FOCUS, _VERBS = (UNIT_FEATURES.index(f) for f in ("score", "lexical", "typed", "focus", "verbs"))
_DENSE = UNIT_FEATURES.index("dense")
_MISSING_NOUNS, _MISSING_VERBS = ANSWER_FEATURES.index("missing_nouns"), ANSWER_FEATURES.index("missing_verbs")


def answer_row(unit: np.ndarray, final: float, typed: bool, *, missing_nouns: float, missing_verbs: float) -> np.ndarray:
    """The answerability features, in :data:`qa.learned.ANSWER_FEATURES` order, of the unit whose
    ranker row (:func:`unit_matrix`) is ``unit`` and ranker score ``final``; ``typed``: whether
    the question is typed. ``missing_nouns`` / ``missing_verbs``: shares of the question's nouns /
    verbs no retrieved passage mentions. (Fitting builds the same rows from stored unit rows.)"""
    return np.array([final, unit[_SCORE], unit[_LEXICAL], unit[_TYPED] if typed else 1.0, unit[_FOCUS], unit[_VERBS],
                     missing_nouns, missing_verbs, 1.0 if typed else 0.0], dtype=np.float64)


def topic_row(units: np.ndarray, answer: np.ndarray, probability: float) -> np.ndarray:
    """The topicality features (:data:`qa.learned.TOPIC_FEATURES`) from every unit's ranker row
    (:func:`unit_matrix`), the best unit's answerability row (:func:`answer_row`) and its
    answerability probability. (Fitting builds the same row from stored unit rows.)"""
    best = np.asarray(units, dtype=np.float64)[:, [_SCORE, _DENSE, _LEXICAL]].max(axis=0)
    p = min(max(float(probability), 1e-6), 1 - 1e-6)
    return np.array([*best, answer[_MISSING_NOUNS], answer[_MISSING_VERBS], math.log(p / (1 - p))], dtype=np.float64)


def answer_features(a: QuestionAnalysis, best: ScoredSentence, *, missing_nouns: float, missing_verbs: float) -> np.ndarray:
    """:func:`answer_row` of the best unit."""
    return answer_row(unit_matrix(a, [best])[0], best.ranker_score, a.typed, missing_nouns=missing_nouns,
                      missing_verbs=missing_verbs)


def question_terms(question: str, tokenizer: Tokenizer) -> list[str]:
    """The question's content terms: its tokens without interrogatives and auxiliaries."""
    return tokenizer(" ".join(w for w in re.findall(r"\w+", question.lower()) if w not in QUESTION_WORDS))


def lexical_coverage(question_terms: Sequence[str], sentence_terms: Sequence[Sequence[str]]) -> np.ndarray:
    """Per sentence, the IDF-weighted share of the question's distinct terms it contains.

    IDF is taken over the candidate sentences themselves, smoothed so that a question term no
    sentence contains weighs most (and so lowers every sentence's coverage): a question about
    "pasta" over articles without the word cannot look well covered.
    """
    q = list(dict.fromkeys(question_terms))
    if not q or not sentence_terms:
        return np.zeros(len(sentence_terms), dtype=np.float64)
    sets = [set(t) for t in sentence_terms]
    n = len(sets)
    idf = np.array([math.log(1.0 + (n + 1) / (sum(t in s for s in sets) + 0.5)) for t in q])
    hits = np.array([[t in s for t in q] for s in sets], dtype=np.float64)
    return hits @ idf / idf.sum()


def blend(dense: np.ndarray, lexical: np.ndarray, lexical_weight: float = LEXICAL_WEIGHT) -> np.ndarray:
    """The sentence score: ``(1 - w) * cosine + w * lexical coverage``."""
    return (1.0 - lexical_weight) * np.asarray(dense, dtype=np.float64) + lexical_weight * np.asarray(lexical, dtype=np.float64)


def mmr_select(relevance: Sequence[float], similarity: np.ndarray, k: int, *, lam: float = MMR_LAMBDA,
               duplicate: float = DUPLICATE_SIMILARITY, floor: float = -math.inf) -> list[int]:
    """Maximal marginal relevance: indices of up to ``k`` items, in the order chosen.

    Each step takes ``argmax lam * rel(i) - (1 - lam) * max_j sim(i, j)`` over the chosen ``j``;
    items scoring below ``floor`` or at least ``duplicate``-similar to a chosen one are never taken.
    """
    rel = np.asarray(relevance, dtype=np.float64)
    sim = np.asarray(similarity, dtype=np.float64)
    pool = [i for i in range(len(rel)) if rel[i] >= floor]
    chosen: list[int] = []
    while pool and len(chosen) < k:
        if chosen:
            redundancy = sim[np.ix_(pool, chosen)].max(axis=1)
        else:
            redundancy = np.zeros(len(pool))
        gains = lam * rel[pool] - (1.0 - lam) * redundancy
        best = int(np.argmax(gains))  # first index wins ties: deterministic
        chosen.append(pool.pop(best))
        if pool:
            pool = [i for i in pool if sim[i, chosen[-1]] < duplicate]
    return chosen


def order_for_reading(chosen: Sequence[ScoredSentence]) -> list[ScoredSentence]:
    """The best unit first; then articles in order of their best unit, and within one article
    units in reading order (the answer does not jump back and forth in a text)."""
    if not chosen:
        return []
    first_seen: dict[str, int] = {}
    for i, s in enumerate(chosen):
        first_seen.setdefault(s.candidate.doc_id, i)
    rest = sorted(chosen[1:], key=lambda s: (first_seen[s.candidate.doc_id], s.candidate.start))
    return [chosen[0], *rest]


def select_units(scored: Sequence[ScoredSentence], similarity: np.ndarray, a: QuestionAnalysis, k: int, *,
                 min_score: float = JOIN_SCORE_MIN, typed_min: float = TYPED_MIN, gap: float = JOIN_GAP,
                 ) -> list[ScoredSentence]:
    """The best unit, then up to ``k - 1`` more by MMR that add something: each ranks within
    ``gap`` of the best (``final``) and has a blended ``score`` of at least ``min_score``, contains at least ``ADD_FOCUS_MIN`` of the
    question's focus words and, for a typed question, carries its own answer of the type nearly
    as clearly as the best one (within ``FILLER_GAP``: no filler below a clear answer); a second
    unit from an already cited article must bring answer spans not quoted yet (a new fact) and
    share no sentence with a quoted one; a third one from the same article never joins. ``scored`` is best first; ``similarity`` is over its rows."""
    if not scored:
        return []
    best = scored[0]
    need = max(typed_min, best.typed - FILLER_GAP)  # below a clear answer, only nearly as clear ones: no filler
    pool = [i for i, s in enumerate(scored)
            if i == 0 or (s.score >= min_score and s.final >= best.final - gap and (not a.typed or s.typed >= need))]
    rel = np.array([scored[i].final for i in pool])
    order = [pool[j] for j in mmr_select(rel, similarity[np.ix_(pool, pool)], len(pool))]
    chosen: list[ScoredSentence] = []
    for i in order:
        s = scored[i]
        if chosen and s.focus < ADD_FOCUS_MIN:
            continue
        cited = [c for c in chosen if c.candidate.doc_id == s.candidate.doc_id]
        if any(c.candidate.start < s.candidate.end and s.candidate.start < c.candidate.end for c in cited):
            continue  # shares a sentence with a quoted unit
        if len(cited) >= 2:
            continue  # at most one further fact from an article already cited
        if cited:
            quoted = {x.lower() for c in cited for x in c.items}
            if not a.typed or not s.items or {x.lower() for x in s.items} <= quoted:
                continue
        chosen.append(s)
        if len(chosen) == k:
            break
    return chosen


#: A bracketed number in article text (a wiki-style footnote reference): never part of the answer
#: text, where ``[n]`` is reserved for the answer's own citation markers (``quote`` keeps it).
FOOTNOTE = re.compile(r"\s*\[\d+\]")


def answer_quote(text: str) -> str:
    """A quote as the answer text shows it: whitespace collapsed and bracketed numbers (the
    article's own footnote references) left out, so that no ``[n]`` in ``Answer.answer`` is
    anything but a citation marker."""
    return " ".join(FOOTNOTE.sub("", text).split())


def compose(sentences: Sequence[ScoredSentence], hits: Sequence[Hit]) -> tuple[str, list[Citation]]:
    """Join sentences, each followed by ``[n]``: ``n`` numbers the quotes 1, 2, 3 in answer order,
    so each marker names exactly one citation (two quotes of one passage have two numbers and the
    same ``passage_id``). The quote text goes through :func:`answer_quote`."""
    parts: list[str] = []
    citations: list[Citation] = []
    for n, s in enumerate(sentences, start=1):
        c = s.candidate
        hit = hits[c.hit_index]
        parts.append(f"{answer_quote(c.text)} [{n}]")
        citations.append(_citation(n, hit.article, hit, c, s.score))
    return " ".join(parts), citations


def _citation(n: int, article: Article, hit: Hit, c: Candidate, score: float) -> Citation:
    return Citation(n=n, passage_id=hit.passage.passage_id, doc_id=c.doc_id, title=article.title,
                    source=article.source, date=article.date, url=article.url, text=hit.passage.text,
                    quote=c.text, start=c.start, end=c.end, score=float(score))


# --------------------------------------------------------------------------- the component
class Answerer:
    """Answers questions from a :class:`Retriever` (the engine, pinned to one index generation),
    with its embedding model.

    ``searcher``: anything with ``search(query, k=, mode=, filters=)`` and ``embedder``
    (:class:`Retriever`). ``model``: the learned ranker and answerability model (default: the
    bundled :func:`qa.learned.default_answer_model`, fitted for the bundled embedding model).
    ``threshold``: the answerability probability under which the answer is "not confident"
    (default: the model's). ``reranker``: an optional cross-encoder (:func:`qa.rerank.load_reranker`).
    Thread-safe.
    """

    def __init__(self, searcher: Retriever, *, k: int = ASK_K, max_sentences: int = 3, threshold: float | None = None,
                 reranker: Reranker | None = None, model: AnswerModel | None = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
        if isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or not 1 <= max_sentences <= 20:
            raise ValueError(f"max_sentences must be an integer between 1 and 20, got {max_sentences!r}")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        if reranker is not None and not callable(getattr(reranker, "predict", None)):
            raise ValueError("reranker must have a predict(pairs) method (a sentence-transformers CrossEncoder)")
        if model is not None and not isinstance(model, AnswerModel):
            raise ValueError("model must be a qa.learned.AnswerModel")
        self.searcher = searcher
        self.k = k
        self.max_sentences = max_sentences
        self.model = model or default_answer_model()
        self.threshold = self.model.threshold if threshold is None else float(threshold)
        self.reranker = reranker
        store = getattr(searcher, "store", None)
        lexical = getattr(store, "lexical", None)
        self._bm25_settings: BM25Settings = getattr(lexical, "settings", None) or BM25Settings()
        self._cache = VectorCache(EMBED_CACHE_SIZE)

    # ---------------------------------------------------------------- public
    def ask(self, question: str, *, k: int | None = None, mode: str = "hybrid", filters: SearchFilter | None = None) -> Answer:
        """Retrieve, score and verify sentences, and compose a cited answer (or say it is not confident)."""
        ex = self.examine(question, k=k, mode=mode, filters=filters)
        question, analysis, scored, hits = ex.analysis.question, ex.analysis, ex.scored, ex.hits
        if ex.verdict.confident:
            chosen = select_units(scored, ex.vectors @ ex.vectors.T, analysis, self.max_sentences)
            text, citations = compose(order_for_reading(chosen), hits)
            return Answer(question, text, True, citations, hits, analysis.qtype, [], ex.verdict.reason, ANSWERED)
        if not ex.topical:
            return Answer(question, NONE_ANSWER, False, [], hits, analysis.qtype, [], ex.verdict.reason, NONE)
        shown = closest_units(scored, min(EVIDENCE_SENTENCES, self.max_sentences), RELATED_PER_ARTICLE)
        text, citations = compose(shown, hits)  # the ranker's order: the closest sentence first
        return Answer(question, text, False, citations, hits, analysis.qtype, [], ex.verdict.reason, EVIDENCE,
                      EVIDENCE_LABEL)

    def examine(self, question: str, *, k: int | None = None, mode: str = "hybrid",
                filters: SearchFilter | None = None) -> Examination:
        """Retrieve, score every unit and verify the best one: what :meth:`ask` composes from."""
        question, k = validate_query(question, self.k if k is None else k)
        hits = self.searcher.search(question, k=k, mode=mode, filters=filters)
        analysis = analyze(question)
        scored, vectors = self.score_sentences(question, hits, analysis)
        if not scored:
            verdict = verify(self.model.answerable, None, threshold=self.threshold, analysis=analysis, missing=())
            return Examination(analysis, hits, scored, vectors, np.zeros(0), verdict, False)
        nouns, verbs = self._missing(analysis, hits, self._unit_lemmas(scored))
        tok = self._tokenize
        n_nouns = len([t for n in analysis.focus_nouns for t in tok(n)])
        row = answer_features(analysis, scored[0], missing_nouns=len(nouns) / max(1, n_nouns),
                              missing_verbs=len(verbs) / max(1, len(analysis.focus_verbs)))
        verdict = verify(self.model.answerable, row, threshold=self.threshold, analysis=analysis, missing=nouns + verbs)
        topical = verdict.confident or self.model.topical(topic_row(unit_matrix(analysis, scored), row, verdict.probability))
        return Examination(analysis, hits, scored, vectors, row, verdict, topical)

    def score_sentences(self, question: str, hits: Sequence[Hit], analysis: QuestionAnalysis | None = None,
                        ) -> tuple[list[ScoredSentence], np.ndarray]:
        """Candidate units of ``hits`` with their measurements, best ``final`` (the learned
        ranker's score) first, and the unit vectors of their sentences (rows in the same order)."""
        candidates = candidate_sentences(hits)
        if not candidates:
            return [], np.zeros((0, 0), dtype=np.float32)
        analysis = analysis or analyze(question)
        prompts = getattr(self.searcher, "prompts", None) or Prompts()  # the index's (E5: "query: "/"passage: ")
        sent = self.sentence_vectors(prompts.passages([c.core for c in candidates]))
        embed_queries = getattr(self.searcher, "embed_queries", None)
        # the engine's vector of the question: the one its search just made (kept), not a second encoding
        q = embed_queries([question])[0] if embed_queries is not None else self.sentence_vectors(prompts.queries([question]))[0]
        dense = sent @ q
        tok = self._tokenize
        unit_terms = [tok(c.text) for c in candidates]
        lexical = lexical_coverage(question_terms(question, tok), unit_terms)
        base = blend(dense, lexical)
        tags = tag_many([c.text for c in candidates])
        evidence = [type_evidence(analysis, c.text, t, tok) for c, t in zip(candidates, tags)]
        lemmas = analysis.focus_lemmas
        unit_lemmas = [[t.lemma for t in tg.tokens] for tg in tags]
        if len(lemmas) == len(analysis.focus_nouns) + len(analysis.focus_verbs):
            words = [(tok(w), lm) for w, lm in zip((*analysis.focus_nouns, *analysis.focus_verbs), lemmas)]
            words = [(st, lm) for st, lm in words if st or lm]
            focus = [lemma_coverage(words, terms, ul) for terms, ul in zip(unit_terms, unit_lemmas)]
            verb_words = [(tok(w), lm) for w, lm in zip(analysis.focus_verbs, lemmas[len(analysis.focus_nouns):])]
            verbs = [lemma_coverage(verb_words, terms, ul) if verb_words else 1.0
                     for terms, ul in zip(unit_terms, unit_lemmas)]
        else:
            focus_stems = [t for n in (*analysis.focus_nouns, *analysis.focus_verbs) for t in tok(n)]
            focus = [focus_coverage(focus_stems, terms) for terms in unit_terms]
            verb_stems = [t for v in analysis.focus_verbs for t in tok(v)]
            verbs = [focus_coverage(verb_stems, terms) if verb_stems else 1.0 for terms in unit_terms]
        units = [ScoredSentence(c, float(dense[i]), float(lexical[i]), float(base[i]), float(evidence[i].score),
                                float(focus[i]), 0.0, evidence[i].items, float(verbs[i])) for i, c in enumerate(candidates)]
        final = ranker = self.model.ranker.logit(unit_matrix(analysis, units))
        if self.reranker is not None and reads(self.reranker, analysis.qtype):
            top = Reading.of(self.reranker, RERANK_DEPTH).units(final)
            if len(top):  # none when the ranker's best is far ahead (the reader could not move it)
                probs = rerank_scores(self.reranker, question, [candidates[i].text for i in top])
                final = with_bonus(final, top, probs, float(getattr(self.reranker, "weight", RERANK_WEIGHT)))
        order = np.argsort(-final, kind="stable")
        scored = [replace(units[i], final=float(final[i]), ranker=float(ranker[i])) for i in order]
        return scored, sent[order]

    # ---------------------------------------------------------------- helpers
    def _missing(self, analysis: QuestionAnalysis, hits: Sequence[Hit], lemmas: set[str]) -> tuple[list[str], list[str]]:
        """The question's noun stems and verbs that no retrieved passage mentions (a verb counts as
        mentioned when its stem or its lemma occurs there)."""
        tok = self._tokenize
        texts = [tok(h.passage.text) + tok(h.article.title or "") for h in hits]
        nouns = missing_focus([t for n in analysis.focus_nouns for t in tok(n)], texts)
        verb_lemmas = analysis.focus_lemmas[len(analysis.focus_nouns):]
        if len(verb_lemmas) != len(analysis.focus_verbs):
            return nouns, missing_focus([t for v in analysis.focus_verbs for t in tok(v)], texts)
        have = {s for text in texts for s in text}
        verbs = [v for v, lm in zip(analysis.focus_verbs, verb_lemmas) if not word_matches(tok(v), lm, have, lemmas)]
        return nouns, verbs

    @staticmethod
    def _unit_lemmas(scored: Sequence[ScoredSentence]) -> set[str]:
        tags = tag_many([s.candidate.text for s in scored])  # cached by score_sentences
        return {t.lemma for tg in tags for t in tg.tokens}

    def _tokenize(self, text: str) -> list[str]:
        return [t[:TERM_PREFIX] for t in tokenize(text, self._bm25_settings)]

    def sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for ``texts``; only texts not seen before go to the model, one per call, so a
        text's vector does not depend on what it is embedded with (:class:`index.vector_cache.VectorCache`,
        kept for this index generation; the engine's timelines share it)."""
        return self._cache.vectors(texts, self.searcher.embedder.encode)

    def forget_sentences(self, texts: Sequence[str] | None = None) -> None:
        """Drop the kept vectors of ``texts`` (None: all of them; latency benchmarks time fresh calls)."""
        self._cache.discard(list(self._cache) if texts is None else texts)


def closest_units(scored: Sequence[ScoredSentence], limit: int = EVIDENCE_SENTENCES,
                  per_article: int = RELATED_PER_ARTICLE) -> list[ScoredSentence]:
    """The closest units (best ``final`` first), at most ``per_article`` from one article and none
    sharing a sentence with one already chosen: what an ``evidence`` answer quotes."""
    out: list[ScoredSentence] = []
    for s in scored:
        c = s.candidate
        same = [r.candidate for r in out if r.candidate.doc_id == c.doc_id]
        if len(same) >= per_article or any(r.start < c.end and c.start < r.end for r in same):
            continue
        out.append(s)
        if len(out) == limit:
            break
    return out
