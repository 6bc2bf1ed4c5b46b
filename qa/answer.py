"""Extractive, cited answers: quote the retrieved sentences that answer a question, or say none does.

Pipeline (see docs/answering.md):

1. analyse the question (:mod:`qa.question`): its type, the expected answer type, its focus;
2. retrieve the top-``k`` passages with ``searcher.search`` (hybrid by default);
3. cut them into quotable units (``index.chunking.split_sentences`` over the article text, so
   every quote is ``article.text[start:end]`` exactly): a sentence that opens with a pronoun or
   connective brings the sentence before it; headings, captions and questions are never quoted;
4. score each unit: cosine of question and sentence embeddings blended with IDF-weighted
   lexical coverage (``score``), plus a bonus for answer-type evidence (:mod:`qa.extract`) and
   for covering the question's focus nouns (``final``); an optional cross-encoder
   (:mod:`qa.rerank`) adds its own relevance;
5. verify the best unit (:mod:`qa.verify`); if it does not answer, say so and list the closest
   units as ``related``;
6. otherwise quote it first, then at most ``max_sentences - 1`` more that add a fact (one per
   article unless a second one brings a new answer; no filler below a clear answer).

The scoring, selection and composition steps are pure functions, testable without a model.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from index.chunking import split_sentences
from index.lexical import BM25Settings, tokenize
from index.records import Article, Hit

from .extract import focus_coverage, lemma_coverage, missing_focus, type_evidence, word_matches
from .filters import SearchFilter
from index.defaults import ASK_K, MAX_K

from .query import validate_query
from .question import QuestionAnalysis, analyze
from .tagger import tag_many
from .verify import Verdict, verify

#: Best-unit blended score below which the answer is "not confident" (the topic check).
#: Calibrated on the ``tune`` split of eval/answer_questions.jsonl (docs/answering.md).
DEFAULT_THRESHOLD = 0.42
#: Answer-type evidence a typed question's best unit needs (qa.extract scores 0..1).
TYPED_MIN = 0.5
#: Share of the question's focus nouns the best unit must contain.
FOCUS_MIN = 0.20
#: Weights of the answer-type evidence and the focus coverage in a unit's ``final`` score.
TYPE_WEIGHT = 0.20
FOCUS_WEIGHT = 0.10
#: A unit joining the answer may carry its answer type at most this much less clearly than the first.
FILLER_GAP = 0.4
#: Share of the focus words a unit needs to join the answer after the first one.
ADD_FOCUS_MIN = 0.5
#: Added to the threshold when a verb of the question occurs in no retrieved passage.
MISSING_VERB_RAISE = 0.13
#: Answer-scoring terms are stems cut to this many letters (withdraw / withdrawn, Russia / Russian).
TERM_PREFIX = 6
#: Weight of the optional cross-encoder's relevance (a probability) in ``final``.
RERANK_WEIGHT = 0.3
#: Units re-scored by the cross-encoder (the best by ``final``).
RERANK_DEPTH = 20
#: Units longer than this many words lose LONG_PENALTY per extra word (readability; long
#: sentences also match every question a little).
LONG_WORDS = 40
LONG_PENALTY = 0.002
#: A typed question's best unit that restates none of the question's verbs (by lemma or stem)
#: needs at least this blended score (it may answer another event: "In which city was the 2020
#: Karabakh ceasefire agreement signed?" -> "... after the second Karabakh war in 2020, Yerevan went
#: a path of distancing from Moscow"). Chosen on the tune split; the manifest's ``answer.verbless_min``
#: overrides it.
VERBLESS_MIN = 0.525
#: Closest units listed as ``related`` when the answer is not confident.
RELATED = 3
#: Share of the lexical coverage in a sentence's score (the rest is the embedding cosine).
LEXICAL_WEIGHT = 0.2
#: MMR trade-off between relevance (1.0) and novelty (0.0).
MMR_LAMBDA = 0.7
#: Sentences at least this similar (cosine) to one already chosen are near-duplicates.
DUPLICATE_SIMILARITY = 0.85
#: A further sentence joins the answer only if it scores within this of the best one.
RELATIVE_FLOOR = 0.12
#: Candidate sentences shorter than this many words (headings, captions) are skipped.
MIN_WORDS = 5

#: Interrogatives and auxiliaries that carry no topic; left out of the question's lexical terms.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how many much did does do done has have had can could would "
    "should shall may might must was were been being according tell me please".split()
)

NOT_CONFIDENT_ANSWER = "The indexed articles do not seem to answer this question."
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


@dataclass(frozen=True)
class Answer:
    """``answer`` is the composed text with ``[n]`` markers; ``citations`` holds one entry per
    quoted sentence in answer order (sentences of the same passage share ``n``); ``results`` are
    the retrieved passages, as ``qa search`` returns them."""

    question: str
    answer: str
    confident: bool
    citations: list[Citation] = field(default_factory=list)
    results: list[Hit] = field(default_factory=list)
    question_type: str = ""  # qa.question: why, how, how_many, how_much, how_long, when, where, who, which, what, ...
    related: list[Citation] = field(default_factory=list)  # closest sentences when not confident (n = 0)
    reason: str = ""  # why the answer is (not) confident (qa.verify)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "confident": self.confident,
            "citations": [c.to_dict() for c in self.citations],
            "results": [h.to_dict() for h in self.results],
            "question_type": self.question_type,
            "related": [c.to_dict() for c in self.related],
            "reason": self.reason,
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
    focus: float = 0.0  # share of the question's focus nouns the unit contains
    final: float = 0.0  # score + type and focus bonuses (+ reranker): the ranking
    items: tuple[str, ...] = ()  # the answer-bearing spans, to tell a new fact from a repeated one


# --------------------------------------------------------------------------- pure steps
def calibrate_threshold(answerable: Sequence[float], unanswerable: Sequence[float]) -> tuple[float, float]:
    """``(threshold, margin)``: the midpoint between the weakest best-sentence score of an
    answerable question and the strongest of an unanswerable one, and half the gap between them
    (negative when the two sets overlap, i.e. no threshold separates them)."""
    if not answerable or not unanswerable:
        raise ValueError("calibration needs answerable and unanswerable questions")
    lo, hi = max(unanswerable), min(answerable)
    return (lo + hi) / 2.0, (hi - lo) / 2.0


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
                 threshold: float, typed_min: float, floor: float = RELATIVE_FLOOR) -> list[ScoredSentence]:
    """The best unit, then up to ``k - 1`` more by MMR that add something: each scores within
    ``floor`` of the best and above ``threshold``, contains at least ``ADD_FOCUS_MIN`` of the
    question's focus words and, for a typed question, carries its own answer of the type nearly
    as clearly as the best one (within ``FILLER_GAP``: no filler below a clear answer); a second
    unit from an already cited article must bring answer spans not quoted yet (a new fact) and
    share no sentence with a quoted one. ``scored`` is best first; ``similarity`` is over its rows."""
    if not scored:
        return []
    best = scored[0]
    need = max(typed_min, best.typed - FILLER_GAP)  # below a clear answer, only nearly as clear ones: no filler
    pool = [i for i, s in enumerate(scored)
            if i == 0 or (s.score >= threshold and s.final >= best.final - floor and (not a.typed or s.typed >= need))]
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
        if cited:
            quoted = {x.lower() for c in cited for x in c.items}
            if not a.typed or not s.items or {x.lower() for x in s.items} <= quoted:
                continue
        chosen.append(s)
        if len(chosen) == k:
            break
    return chosen


def compose(sentences: Sequence[ScoredSentence], hits: Sequence[Hit]) -> tuple[str, list[Citation]]:
    """Join sentences, each followed by ``[n]``; ``n`` numbers passages by first appearance."""
    numbers: dict[str, int] = {}
    parts: list[str] = []
    citations: list[Citation] = []
    for s in sentences:
        c = s.candidate
        hit = hits[c.hit_index]
        n = numbers.setdefault(hit.passage.passage_id, len(numbers) + 1)
        parts.append(f"{' '.join(c.text.split())} [{n}]")
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
    (:class:`Retriever`). ``threshold``: the blended score under which the answer is "not
    confident" (default :data:`DEFAULT_THRESHOLD`, calibrated for the bundled model).
    ``reranker``: an optional cross-encoder (:func:`qa.rerank.load_reranker`). Thread-safe.
    """

    def __init__(self, searcher: Retriever, *, k: int = ASK_K, max_sentences: int = 3, threshold: float | None = None,
                 reranker: Reranker | None = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
        if isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or not 1 <= max_sentences <= 20:
            raise ValueError(f"max_sentences must be an integer between 1 and 20, got {max_sentences!r}")
        if threshold is not None and not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        if reranker is not None and not callable(getattr(reranker, "predict", None)):
            raise ValueError("reranker must have a predict(pairs) method (a sentence-transformers CrossEncoder)")
        self.searcher = searcher
        self.k = k
        self.max_sentences = max_sentences
        self.threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        self.reranker = reranker
        store = getattr(searcher, "store", None)
        stored = getattr(getattr(store, "settings", None), "answer", None) or {}
        verbless = stored.get("verbless_min", VERBLESS_MIN) if isinstance(stored, dict) else VERBLESS_MIN
        if isinstance(verbless, bool) or not isinstance(verbless, (int, float)) or not math.isfinite(verbless):
            raise ValueError(f"the index's answer setting verbless_min must be a finite number, got {verbless!r}")
        #: the manifest's ``answer.verbless_min`` (``qa``'s manifest settings) overrides VERBLESS_MIN
        self.verbless_min = float(verbless)
        lexical = getattr(store, "lexical", None)
        self._bm25_settings: BM25Settings = getattr(lexical, "settings", None) or BM25Settings()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- public
    def ask(self, question: str, *, k: int | None = None, mode: str = "hybrid", filters: SearchFilter | None = None) -> Answer:
        """Retrieve, score and verify sentences, and compose a cited answer (or say it is not confident)."""
        question, k = validate_query(question, self.k if k is None else k)
        hits = self.searcher.search(question, k=k, mode=mode, filters=filters)
        analysis = analyze(question)
        scored, vectors = self.score_sentences(question, hits, analysis)
        verdict = self.verify(analysis, scored, hits, self._unit_lemmas(scored))
        if not verdict.confident:
            related = _related(scored, hits)
            return Answer(question, NOT_CONFIDENT_ANSWER, False, [], hits, analysis.qtype, related, verdict.reason)
        chosen = select_units(scored, vectors @ vectors.T, analysis, self.max_sentences,
                              threshold=self.threshold, typed_min=TYPED_MIN)
        text, citations = compose(order_for_reading(chosen), hits)
        return Answer(question, text, True, citations, hits, analysis.qtype, [], verdict.reason)

    def verify(self, analysis: QuestionAnalysis, scored: Sequence[ScoredSentence], hits: Sequence[Hit],
               lemmas: set[str] | None = None) -> Verdict:
        """Whether the best unit of ``scored`` answers (see :mod:`qa.verify`). ``lemmas``: the
        lemmas of the candidate units; a verb of the question whose lemma occurs there is not missing."""
        tok = self._tokenize
        focus = [t for n in analysis.focus_nouns for t in tok(n)]
        texts = [tok(h.passage.text) + tok(h.article.title or "") for h in hits]
        verbs = missing_focus([t for v in analysis.focus_verbs for t in tok(v)], texts)
        if verbs and lemmas:
            verb_lemmas = analysis.focus_lemmas[len(analysis.focus_nouns):]
            have = {s for text in texts for s in text}
            verbs = [v for v, lm in zip(analysis.focus_verbs, verb_lemmas)
                     if not word_matches(tok(v), lm, have, lemmas)] if len(verb_lemmas) == len(analysis.focus_verbs) else verbs
        best = scored[0] if scored else None
        threshold = self.threshold + (MISSING_VERB_RAISE if verbs else 0.0)
        if best is not None and self.verbless_min and analysis.typed and analysis.focus_verbs and \
                self._verb_coverage(analysis, best) == 0.0:
            threshold = max(threshold, self.verbless_min)
        return verify(analysis, base=best.score if best else None, typed=best.typed if best else 0.0,
                      focus=best.focus if best else 0.0, missing=missing_focus(focus, texts),
                      threshold=threshold, typed_min=TYPED_MIN,
                      focus_min=FOCUS_MIN)

    def score_sentences(self, question: str, hits: Sequence[Hit], analysis: QuestionAnalysis | None = None,
                        ) -> tuple[list[ScoredSentence], np.ndarray]:
        """Candidate units of ``hits`` with their scores, best ``final`` first, and the unit vectors
        of their sentences (rows in the same order). Used by :meth:`ask` and by calibration."""
        candidates = candidate_sentences(hits)
        if not candidates:
            return [], np.zeros((0, 0), dtype=np.float32)
        analysis = analysis or analyze(question)
        vecs = self._encode([question] + [c.core for c in candidates])
        q, sent = vecs[0], vecs[1:]
        dense = sent @ q
        tok = self._tokenize
        unit_terms = [tok(c.text) for c in candidates]
        lexical = lexical_coverage(question_terms(question, tok), unit_terms)
        base = blend(dense, lexical)
        focus_stems = [t for n in (*analysis.focus_nouns, *analysis.focus_verbs) for t in tok(n)]
        tags = tag_many([c.text for c in candidates])
        evidence = [type_evidence(analysis, c.text, t, tok) for c, t in zip(candidates, tags)]
        typed = np.array([e.score for e in evidence])
        lemmas = analysis.focus_lemmas
        if len(lemmas) == len(analysis.focus_nouns) + len(analysis.focus_verbs):
            words = [(tok(w), lm) for w, lm in zip((*analysis.focus_nouns, *analysis.focus_verbs), lemmas)]
            words = [(st, lm) for st, lm in words if st or lm]
            focus = np.array([lemma_coverage(words, terms, [t.lemma for t in tg.tokens])
                              for terms, tg in zip(unit_terms, tags)])
        else:
            focus = np.array([focus_coverage(focus_stems, terms) for terms in unit_terms])
        length = np.array([max(0, len(c.text.split()) - LONG_WORDS) for c in candidates])
        final = base + TYPE_WEIGHT * typed + FOCUS_WEIGHT * focus - LONG_PENALTY * length
        if self.reranker is not None:
            from .rerank import rerank_scores

            top = np.argsort(-final, kind="stable")[:RERANK_DEPTH]
            probs = rerank_scores(self.reranker, question, [candidates[i].text for i in top])
            final = final.copy()
            final[top] += RERANK_WEIGHT * probs
        # a typed question's answer must carry its type: units that do come first
        eligible = typed >= TYPED_MIN if analysis.typed else np.ones(len(final), dtype=bool)
        order = np.lexsort((-final, ~eligible))
        scored = [ScoredSentence(candidates[i], float(dense[i]), float(lexical[i]), float(base[i]), float(typed[i]),
                                 float(focus[i]), float(final[i]), evidence[i].items) for i in order]
        return scored, sent[order]

    # ---------------------------------------------------------------- helpers
    def _verb_coverage(self, a: QuestionAnalysis, s: ScoredSentence) -> float:
        """Share of the question's verbs the unit restates (lemma or stem)."""
        lemmas = a.focus_lemmas[len(a.focus_nouns):]
        if not a.focus_verbs or len(lemmas) != len(a.focus_verbs):
            return 1.0
        tg = tag_many([s.candidate.text])[0]
        words = [(self._tokenize(w), lm) for w, lm in zip(a.focus_verbs, lemmas)]
        return lemma_coverage(words, self._tokenize(s.candidate.text), [t.lemma for t in tg.tokens])

    @staticmethod
    def _unit_lemmas(scored: Sequence[ScoredSentence]) -> set[str]:
        tags = tag_many([s.candidate.text for s in scored])  # cached by score_sentences
        return {t.lemma for tg in tags for t in tg.tokens}

    def _tokenize(self, text: str) -> list[str]:
        return [t[:TERM_PREFIX] for t in tokenize(text, self._bm25_settings)]

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for ``texts``; only texts not seen before go to the model, in one batch."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                v = self._cache.get(t)
                if v is not None:
                    self._cache.move_to_end(t)
                    found[t] = v
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            # outside the lock: the slow part. One text per call: with the bundled int8 ONNX model a
            # sentence's vector depends (by up to 0.006 in cosine) on the batch it was encoded in, so
            # batched encoding made an answer depend on which questions came before it.
            enc = self.searcher.embedder.encode
            fresh = np.vstack([enc([t]) for t in missing])
            found.update(zip(missing, fresh))
            with self._lock:
                self._cache.update(zip(missing, fresh))
                while len(self._cache) > EMBED_CACHE_SIZE:
                    self._cache.popitem(last=False)
        return np.vstack([found[t] for t in texts]).astype(np.float32, copy=False)


def _related(scored: Sequence[ScoredSentence], hits: Sequence[Hit], limit: int = RELATED) -> list[Citation]:
    """The closest units, one per article, as citations numbered 0 (nothing is quoted)."""
    out: list[Citation] = []
    seen: set[str] = set()
    for s in scored:
        c = s.candidate
        if c.doc_id in seen:
            continue
        seen.add(c.doc_id)
        hit = hits[c.hit_index]
        out.append(_citation(0, hit.article, hit, c, s.final))
        if len(out) == limit:
            break
    return out
