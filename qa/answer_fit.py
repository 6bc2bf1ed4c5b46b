"""Fit the answer model (:mod:`qa.learned`) on a question set over an index.

Two steps, each a logistic regression:

1. **ranker**: the quotable units of each answerable question's retrieved passages
   (:func:`qa.answer.unit_matrix`) form one group; every pair of a unit that contains one of
   the question's evidence phrases and one that does not is an example (:func:`qa.learned.fit_pairwise`);
2. **answerability**: with the new ranker, every question is one example: the best unit's
   features (:func:`qa.answer.answer_features`), positive when the question is answerable and
   that unit contains its evidence (a confident answer must quote it), negative for on-topic
   unanswerable and off-topic questions and for answerable ones whose best unit misses it; its
   probability threshold maximises the balanced accuracy of out-of-fold predictions
   (:func:`qa.learned.balanced_threshold`) unless one is given.

``scripts/fit_answer_model.py`` is the command line; the bundled ``qa/answer_model.json`` came
from it (docs/answering.md). Pure of I/O except through the engine it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .answer import Answerer, Retriever, unit_matrix
from .answer_eval import AnswerCase, contains_evidence
from .learned import ANSWER_FEATURES, UNIT_FEATURES, AnswerModel, LinearModel, balanced_threshold, fit_linear, fit_pairwise


@dataclass(frozen=True)
class FitReport:
    model: AnswerModel
    questions: int
    units: int
    #: share of the answerable training questions whose best unit (new ranker) holds the evidence
    train_top1: float


def _neutral() -> AnswerModel:
    """A stand-in model for the first step (it only orders units; the features do not depend on it)."""
    n, m = len(UNIT_FEATURES), len(ANSWER_FEATURES)
    ranker = LinearModel(UNIT_FEATURES, (0.0,) * n, (1.0,) * n, (1.0,) + (0.0,) * (n - 1), 0.0)
    answerable = LinearModel(ANSWER_FEATURES, (0.0,) * m, (1.0,) * m, (0.0,) * m, 0.0)
    return AnswerModel(ranker, answerable)


def fit_answer_model(retriever: Retriever, cases: Sequence[AnswerCase], *, c: float = 1.0, threshold: float | None = None,
                     trained_on: str = "", embedding_model: str = "") -> FitReport:
    """Fit the ranker, then the answerability model, on ``cases`` (questions over ``retriever``'s index)."""
    if not any(case.answerable for case in cases) or all(case.answerable for case in cases):
        raise ValueError("fitting needs answerable and unanswerable questions")
    answerer = Answerer(retriever, model=_neutral())
    groups: list[tuple[np.ndarray, list[int]]] = []
    for case in cases:
        if not case.answerable:
            continue
        ex = answerer.examine(case.question)
        if ex.scored:
            groups.append((unit_matrix(ex.analysis, ex.scored),
                           [int(contains_evidence(s.candidate.text, case.evidence)) for s in ex.scored]))
    if not groups:
        raise ValueError("no quotable sentence was retrieved for any answerable question")
    ranker = fit_pairwise(groups, UNIT_FEATURES, c=c)
    stage = AnswerModel(ranker, _neutral().answerable)
    answerer = Answerer(retriever, model=stage)
    x: list[np.ndarray] = []
    y: list[int] = []
    top: list[bool] = []
    for case in cases:
        ex = answerer.examine(case.question)
        if not ex.scored:
            continue
        hit = case.answerable and contains_evidence(ex.scored[0].candidate.text, case.evidence)
        if case.answerable:
            top.append(hit)
        x.append(ex.features)
        y.append(int(hit))
    answerable = fit_linear(np.vstack(x), y, ANSWER_FEATURES, c=c)
    if threshold is None:
        threshold = balanced_threshold(np.vstack(x), y, c=c)
    model = AnswerModel(ranker, answerable, threshold, trained_on, embedding_model)
    return FitReport(model, len(x), int(sum(len(g[0]) for g in groups)), float(np.mean(top)) if top else 0.0)
