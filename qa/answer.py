"""Extractive, cited answers: pick the retrieved sentences that best answer a question.

Pipeline (see docs/answering.md):

1. retrieve the top-``k`` passages with the engine's ``search`` (hybrid by default);
2. cut them into sentences (``index.chunking.split_sentences`` over the article text, so every
   quote is ``article.text[start:end]`` exactly); a sentence repeated by passage overlap is kept
   once, attributed to the best-ranked passage;
3. score each sentence against the question: cosine of the question and sentence embeddings
   (the searcher's model, one batch, cached) blended with IDF-weighted lexical coverage of the
   question's terms;
4. if the best sentence scores below the calibrated threshold, answer "not confident";
5. otherwise choose up to ``max_sentences`` with maximal marginal relevance (MMR), dropping
   near-duplicates, and join them, each followed by ``[n]`` pointing at its passage.

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

from .filters import SearchFilter
from index.defaults import MAX_K

from .query import validate_query

#: Best-sentence score below which the answer is "not confident". Calibrated on
#: tests/data/answer_questions.jsonl over sample_corpus/ (docs/answering.md has the figures).
DEFAULT_THRESHOLD = 0.49
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

Splitter = Callable[[str], list[tuple[int, int]]]
Tokenizer = Callable[[str], list[str]]


class Retriever(Protocol):
    """What an :class:`Answerer` needs: ranked passages and the query model."""

    @property
    def embedder(self) -> Any: ...

    def search(self, query: str, k: int = ..., mode: Any = ..., filters: Any = None) -> list[Hit]: ...


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "confident": self.confident,
            "citations": [c.to_dict() for c in self.citations],
            "results": [h.to_dict() for h in self.results],
        }


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage: ``article.text[start:end]``, from ``hits[hit_index]``."""

    hit_index: int
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ScoredSentence:
    candidate: Candidate
    dense: float  # cosine with the question
    lexical: float  # IDF-weighted share of the question's terms the sentence contains
    score: float  # the blend used for confidence and selection


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
    """False for headings, captions, questions and other sentences that cannot answer."""
    stripped = text.strip().rstrip("\"'”’»)")
    return len(text.split()) >= min_words and not stripped.endswith("?")


def candidate_sentences(hits: Sequence[Hit], splitter: Splitter = split_sentences,
                        min_words: int = MIN_WORDS) -> list[Candidate]:
    """Sentences of the hits' passages, best-ranked passage first, each sentence once.

    Sentences are split over the whole article (so boundaries do not depend on where a passage
    starts) and clipped to the passage, so a quote never leaves the passage that cites it.
    """
    spans_by_doc: dict[str, list[tuple[int, int]]] = {}
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for i, hit in enumerate(hits):
        p, text = hit.passage, hit.article.text
        spans = spans_by_doc.get(p.doc_id)
        if spans is None:
            spans = spans_by_doc[p.doc_id] = splitter(text)
        for s, e in spans:
            s, e = max(s, p.start), min(e, p.end)
            if e <= s:
                continue
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            key = (p.doc_id, s, e)
            if e <= s or key in seen:
                continue
            seen.add(key)
            quote = text[s:e]
            if is_answer_like(quote, min_words):
                out.append(Candidate(i, p.doc_id, s, e, quote))
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
    """Articles in order of their best sentence (``chosen`` is best first); within one article,
    sentences in reading order, so the answer does not jump back and forth in a text."""
    first_seen: dict[str, int] = {}
    for i, s in enumerate(chosen):
        first_seen.setdefault(s.candidate.doc_id, i)
    return sorted(chosen, key=lambda s: (first_seen[s.candidate.doc_id], s.candidate.start))


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

    ``threshold`` is the best-sentence score under which the answer is "not confident"
    (default :data:`DEFAULT_THRESHOLD`, calibrated for the bundled model). Thread-safe.
    """

    def __init__(self, searcher: Retriever, *, k: int = 8, max_sentences: int = 3, threshold: float | None = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
        if isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or not 1 <= max_sentences <= 20:
            raise ValueError(f"max_sentences must be an integer between 1 and 20, got {max_sentences!r}")
        if threshold is not None and not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        self.searcher = searcher
        self.k = k
        self.max_sentences = max_sentences
        self.threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        lexical = getattr(getattr(searcher, "store", None), "lexical", None)
        self._bm25_settings: BM25Settings = getattr(lexical, "settings", None) or BM25Settings()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- public
    def ask(self, question: str, *, k: int | None = None, mode: str = "hybrid", filters: SearchFilter | None = None) -> Answer:
        """Retrieve, score sentences and compose a cited answer (or say it is not confident)."""
        question, k = validate_query(question, self.k if k is None else k)
        hits = self.searcher.search(question, k=k, mode=mode, filters=filters)
        scored, vectors = self.score_sentences(question, hits)
        if not scored or scored[0].score < self.threshold:
            return Answer(question, NOT_CONFIDENT_ANSWER, False, [], hits)
        rel = np.array([s.score for s in scored])  # best first
        chosen = mmr_select(rel, vectors @ vectors.T, self.max_sentences,
                            floor=max(self.threshold, rel[0] - RELATIVE_FLOOR))
        text, citations = compose(order_for_reading([scored[i] for i in chosen]), hits)
        return Answer(question, text, True, citations, hits)

    def score_sentences(self, question: str, hits: Sequence[Hit]) -> tuple[list[ScoredSentence], np.ndarray]:
        """Candidate sentences of ``hits`` with their scores, best first, and their unit vectors
        (rows in the same order). Used by :meth:`ask` and by calibration."""
        candidates = candidate_sentences(hits)
        if not candidates:
            return [], np.zeros((0, 0), dtype=np.float32)
        vecs = self._encode([question] + [c.text for c in candidates])
        q, sent = vecs[0], vecs[1:]
        dense = sent @ q
        tok = self._tokenize
        lexical = lexical_coverage(question_terms(question, tok), [tok(c.text) for c in candidates])
        scores = blend(dense, lexical)
        order = np.argsort(-scores, kind="stable")
        scored = [ScoredSentence(candidates[i], float(dense[i]), float(lexical[i]), float(scores[i])) for i in order]
        return scored, sent[order]

    # ---------------------------------------------------------------- helpers
    def _tokenize(self, text: str) -> list[str]:
        return tokenize(text, self._bm25_settings)

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
            fresh = self.searcher.embedder.encode(missing)  # outside the lock: the slow part
            found.update(zip(missing, fresh))
            with self._lock:
                self._cache.update(zip(missing, fresh))
                while len(self._cache) > EMBED_CACHE_SIZE:
                    self._cache.popitem(last=False)
        return np.vstack([found[t] for t in texts]).astype(np.float32, copy=False)
