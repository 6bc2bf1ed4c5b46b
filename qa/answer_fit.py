"""Fit the answer model (:mod:`qa.learned`) on a question set over an index, and cross-validate it.

Every question is examined once (:func:`examine_cases`): the quotable units of its retrieved
passages with their measurements (:func:`qa.answer.unit_matrix`), which of them contain one of its
evidence phrases, and the shares of its words no passage mentions. From that, two logistic
regressions (:func:`fit_examined`):

1. **ranker**: the units of each answerable question form one group; every pair of a unit that
   contains one of the question's evidence phrases and one that does not is an example
   (:func:`qa.learned.fit_pairwise`);
2. **answerability**: with the new ranker, every question is one example: the best unit's
   features (:func:`qa.answer.answer_features`), positive when the question is answerable and
   that unit contains its evidence (a confident answer must quote it), negative for on-topic
   unanswerable and off-topic questions and for answerable ones whose best unit misses it; its
   probability threshold maximises the balanced accuracy of out-of-fold predictions
   (:func:`qa.learned.balanced_threshold`) unless one is given.

:func:`cross_validate` refits both on part of the questions and scores the rest: k-fold, and
leaving out one split at a time. Each split was written by another person or in another round,
so the second is the better estimate of how the model does on questions worded by someone new.

``scripts/fit_answer_model.py`` is the command line; the bundled ``qa/answer_model.json`` came
from it (docs/answering.md). Pure of I/O except through the engine it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import math

import numpy as np

from .answer import Answerer, Retriever, answer_row, topic_row, unit_matrix
from .answer_eval import AnswerCase, contains_evidence
from .rerank import Reading, reads, rerank_scores, with_bonus
from .learned import (ANSWER_FEATURES, TOPIC_FEATURES, UNIT_FEATURES, AnswerModel, LinearModel, balanced_threshold, fit_linear,
                      fit_pairwise, precision_threshold)


@dataclass(frozen=True)
class Examined:
    """One question's measurements: what fitting and cross-validation learn from."""

    case: AnswerCase
    units: np.ndarray  # one row of UNIT_FEATURES per quotable unit
    labels: np.ndarray  # 1 where the unit contains one of the question's evidence phrases
    missing_nouns: float  # share of the question's nouns / verbs that no retrieved passage mentions
    missing_verbs: float
    typed: bool  # whether the question asks for a type of answer (a reason, a number ...)
    #: the reranker's (the reader's) probability for every unit, when the app uses one; the app adds
    #: ``rerank_weight`` x it to the ranker's score of the units ``reading`` picks
    rerank: np.ndarray | None = None
    rerank_weight: float = 0.0
    reading: Reading | None = None

    def final(self, ranker: LinearModel) -> np.ndarray:
        """The units' ``final`` scores as the app computes them under ``ranker`` (with the reranker's
        bonus on the units ``reading`` picks, as :meth:`qa.answer.Answerer.score_sentences`)."""
        final = ranker.logit(self.units)
        if self.rerank is None or self.reading is None:
            return final
        top = self.reading.units(final)
        return with_bonus(final, top, self.rerank[top], self.rerank_weight)

    def answer_row(self, final: np.ndarray, ranker: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """The answerability features of the unit scored best by ``final``, and its row. ``ranker``:
        the ranker's scores alone (the answerability model reads those; default ``final``)."""
        b = int(np.argmax(final))
        score = final if ranker is None else ranker
        row = answer_row(self.units[b], float(score[b]), self.typed, missing_nouns=self.missing_nouns,
                         missing_verbs=self.missing_verbs)
        return row, b

    def best_row(self, ranker: LinearModel) -> tuple[np.ndarray, int]:
        """:meth:`answer_row` of the unit the app puts first under ``ranker`` (and the reranker)."""
        return self.answer_row(self.final(ranker), ranker.logit(self.units))


@dataclass(frozen=True)
class FitReport:
    model: AnswerModel
    questions: int
    units: int
    #: share of the answerable training questions whose best unit (new ranker) holds the evidence
    train_top1: float


@dataclass(frozen=True)
class CVRow:
    """Held-out results of one cross-validation scheme (means over its folds' questions)."""

    scheme: str  # "5-fold" or "without <split>"
    questions: int
    top1: float  # answerable questions whose best unit holds the evidence
    right: float  # answerable questions answered with confidence, quoting the evidence first
    answered: float  # answerable questions answered with confidence
    refused_unanswerable: float
    refused_offtopic: float


def _neutral() -> AnswerModel:
    """A stand-in model for examining (it only orders units; the measurements do not depend on it)."""
    n, m = len(UNIT_FEATURES), len(ANSWER_FEATURES)
    ranker = LinearModel(UNIT_FEATURES, (0.0,) * n, (1.0,) * n, (1.0,) + (0.0,) * (n - 1), 0.0)
    answerable = LinearModel(ANSWER_FEATURES, (0.0,) * m, (1.0,) * m, (0.0,) * m, 0.0)
    return AnswerModel(ranker, answerable)


def examine_cases(retriever: Retriever, cases: Sequence[AnswerCase], reranker: Any = None) -> list[Examined]:
    """Ask every question once over ``retriever`` and keep its measurements (questions without a
    quotable unit are left out: nothing can be ranked or verified for them). ``reranker``: the
    app's (:attr:`qa.engine.Engine.reranker`, the reader by default): every unit's probability is
    kept, so fitting sees the scores the app will rank and decide with."""
    from .answer import RERANK_DEPTH, RERANK_WEIGHT

    answerer = Answerer(retriever, model=_neutral())
    missing = ANSWER_FEATURES.index("missing_nouns"), ANSWER_FEATURES.index("missing_verbs")
    out: list[Examined] = []
    for case in cases:
        ex = answerer.examine(case.question)
        if not ex.scored:
            continue
        labels = np.array([int(case.answerable and contains_evidence(s.candidate.text, case.evidence)) for s in ex.scored])
        extra: dict[str, Any] = {}
        if reranker is not None and reads(reranker, ex.analysis.qtype):
            extra = {"rerank": rerank_scores(reranker, case.question, [s.candidate.text for s in ex.scored]),
                     "rerank_weight": float(getattr(reranker, "weight", RERANK_WEIGHT)),
                     "reading": Reading.of(reranker, RERANK_DEPTH)}
        out.append(Examined(case, unit_matrix(ex.analysis, ex.scored), labels, float(ex.features[missing[0]]),
                            float(ex.features[missing[1]]), ex.analysis.typed, **extra))
    return out


def fit_examined(examined: Sequence[Examined], *, c: float = 1.0, threshold: float | None = None,
                 trained_on: str = "", embedding_model: str = "") -> FitReport:
    """Fit the ranker, then the answerability model, on examined questions."""
    if not any(e.case.answerable for e in examined) or all(e.case.answerable for e in examined):
        raise ValueError("fitting needs answerable and unanswerable questions")
    groups = [(e.units, e.labels.tolist()) for e in examined if e.case.answerable]
    if not groups:
        raise ValueError("no quotable sentence was retrieved for any answerable question")
    ranker = fit_pairwise(groups, UNIT_FEATURES, c=c)
    x: list[np.ndarray] = []
    y: list[int] = []
    top: list[bool] = []
    for e in examined:
        row, b = e.best_row(ranker)
        hit = bool(e.case.answerable and e.labels[b])
        if e.case.answerable:
            top.append(hit)
        x.append(row)
        y.append(int(hit))
    answerable = fit_linear(np.vstack(x), y, ANSWER_FEATURES, c=c)
    if threshold is None:
        threshold = balanced_threshold(np.vstack(x), y, c=c)
    model = AnswerModel(ranker, answerable, threshold, trained_on, embedding_model)
    return FitReport(model, len(x), int(sum(len(g[0]) for g in groups)), float(np.mean(top)) if top else 0.0)


#: Answers marked ``answered`` must quote the evidence first at least this often on the training
#: questions: the directness threshold (issue 23: an ``evidence`` answer shows the same quotes with
#: an honest label, so a wrong ``answered`` costs more than a missed one).
MIN_ANSWERED_PRECISION = 0.95
#: Regularisation of the topicality model (chosen leaving one training split out at a time).
TOPIC_C = 3.0


@dataclass(frozen=True)
class Decisions:
    """The two decisions fitted on examined questions for a fixed ranker and answerability model."""

    threshold: float  # answerability probability to mark an answer ``answered``
    topic: LinearModel  # topicality (``evidence`` vs ``none``)
    topic_threshold: float  # the logit every training off-topic question stays at or below


def decision_rows(examined: Sequence[Examined], model: AnswerModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per question: the answerability probability of the best unit under ``model``, whether that
    unit holds the evidence, and the topicality row (:func:`qa.answer.topic_row`)."""
    probs, right, rows = [], [], []
    for e in examined:
        row, b = e.best_row(model.ranker)
        p = float(model.answerable.prob(row[None, :])[0])
        probs.append(p)
        right.append(bool(e.case.answerable and e.labels[b]))
        rows.append(topic_row(e.units, row, p))
    return np.array(probs), np.array(right), np.vstack(rows)


def fit_decisions(examined: Sequence[Examined], model: AnswerModel, *, min_precision: float = MIN_ANSWERED_PRECISION,
                  c: float = TOPIC_C) -> Decisions:
    """Directness: the lowest threshold whose ``answered`` answers are right ``min_precision`` of
    the time (:func:`qa.learned.precision_threshold`). Topicality: logistic regression of on-topic
    (every kind but ``offtopic``) against off-topic questions, thresholded at the highest logit of
    a training off-topic question, so that every one of them is ``none``."""
    probs, right, rows = decision_rows(examined, model)
    on_topic = np.array([e.case.kind != "offtopic" for e in examined])
    if on_topic.all() or not on_topic.any():
        raise ValueError("fitting topicality needs off-topic and on-topic questions")
    topic = fit_linear(rows, on_topic.astype(int).tolist(), TOPIC_FEATURES, c=c)
    highest = float(topic.logit(rows[~on_topic]).max())
    return Decisions(precision_threshold(probs, right, min_precision=min_precision), topic,
                     math.ceil(highest * 1e4) / 1e4)  # rounded up: the highest one stays at or below it


def with_decisions(model: AnswerModel, d: Decisions, trained_on: str = "") -> AnswerModel:
    from dataclasses import replace

    note = model.trained_on + (f"; decisions: {trained_on}" if trained_on else "")
    return replace(model, threshold=d.threshold, topic=d.topic, topic_threshold=d.topic_threshold, trained_on=note)


def fit_answer_model(retriever: Retriever, cases: Sequence[AnswerCase], *, c: float = 1.0, threshold: float | None = None,
                     trained_on: str = "", embedding_model: str = "", reranker: Any = None) -> FitReport:
    """Fit the ranker, then the answerability model, on ``cases`` (questions over ``retriever``'s
    index; ``reranker``: the app's, whose bonus the answerability model then sees)."""
    if not any(case.answerable for case in cases) or all(case.answerable for case in cases):
        raise ValueError("fitting needs answerable and unanswerable questions")
    return fit_examined(examine_cases(retriever, cases, reranker), c=c, threshold=threshold, trained_on=trained_on,
                        embedding_model=embedding_model)


def _score(examined: Sequence[Examined], train: Sequence[int], test: Sequence[int], c: float) -> list[tuple[int, bool, bool]]:
    """(question, best unit holds the evidence, answered with confidence) for each ``test`` question,
    with a model fitted on ``train``."""
    model = fit_examined([examined[i] for i in train], c=c).model
    out = []
    for i in test:
        e = examined[i]
        row, b = e.best_row(model.ranker)
        p = float(model.answerable.prob(row[None, :])[0])
        out.append((i, bool(e.labels[b]), p >= model.threshold))
    return out


def _summary(scheme: str, examined: Sequence[Examined], scored: Sequence[tuple[int, bool, bool]]) -> CVRow:
    def rate(values: list[bool]) -> float:
        return float(np.mean(values)) if values else float("nan")

    ans = [(hit, conf) for i, hit, conf in scored if examined[i].case.answerable]
    return CVRow(scheme, len(scored), rate([h for h, _ in ans]), rate([h and c for h, c in ans]), rate([c for _, c in ans]),
                 rate([not c for i, _, c in scored if examined[i].case.kind == "unanswerable"]),
                 rate([not c for i, _, c in scored if examined[i].case.kind == "offtopic"]))


def cross_validate(examined: Sequence[Examined], *, c: float = 1.0, folds: int = 5, seeds: Sequence[int] = (0, 1, 2),
                   ) -> list[CVRow]:
    """Held-out results: ``folds``-fold (stratified by kind, averaged over ``seeds``), then
    one row per split left out (fitted on the others), when there are several splits."""
    from sklearn.model_selection import StratifiedKFold

    strata = np.array([e.case.kind for e in examined])
    rows: list[CVRow] = []
    runs = []
    for seed in seeds:
        scored: list[tuple[int, bool, bool]] = []
        k = int(min(folds, min(np.unique(strata, return_counts=True)[1])))
        if k < 2:
            raise ValueError("cross-validation needs at least two questions of each kind")
        for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(examined)), strata):
            scored += _score(examined, train.tolist(), test.tolist(), c)
        runs.append(_summary(f"{k}-fold", examined, scored))
    rows.append(CVRow(runs[0].scheme, runs[0].questions, *(float(np.mean([getattr(r, f) for r in runs]))
                                                            for f in ("top1", "right", "answered", "refused_unanswerable",
                                                                      "refused_offtopic"))))
    splits = list(dict.fromkeys(e.case.split for e in examined))
    if len(splits) > 1:
        for s in splits:
            train = [i for i, e in enumerate(examined) if e.case.split != s]
            test = [i for i, e in enumerate(examined) if e.case.split == s]
            rows.append(_summary(f"without {s}", examined, _score(examined, train, test, c)))
    return rows
