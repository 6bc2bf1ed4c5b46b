"""Two small logistic models learned from the question set: which unit answers, and whether it does.

The answer pipeline (:mod:`qa.answer`) measures each quotable unit of the retrieved passages
(cosine to the question, lexical coverage, answer-type evidence, focus and verb coverage, the
rank of its passage ...). Two linear models over those measurements replace hand-set weights
and thresholds, which did not carry over to questions worded by other people:

- the **ranker** scores every unit (:data:`UNIT_FEATURES`); the best-scoring unit is quoted first;
- the **answerability** model reads the best unit and the question (:data:`ANSWER_FEATURES`) and
  gives the probability that the unit answers it; below ``threshold`` the answer is "not
  confident".

Both are :class:`LinearModel` (standardised features, coefficients, intercept), stored together
as an :class:`AnswerModel` in a small JSON file. The bundled one, ``qa/answer_model.json``, was
fitted by ``scripts/fit_answer_model.py`` on the ``tune``, ``tune2``, ``fresh`` and ``fresh2`` splits of
``eval/answer_questions.jsonl`` with the bundled embedding model (docs/answering.md);
``heldout`` and ``fresh3`` were never used. The ranker is fitted pair-wise (:func:`fit_pairwise`),
the answerability model point-wise (:func:`fit_linear`). Fitting needs scikit-learn; scoring is numpy only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
#: Measurements of one quotable unit, in the ranker's column order (see ``qa.answer.unit_matrix``).
UNIT_FEATURES = ("score", "dense", "lexical", "typed", "eligible", "focus", "verbs", "long", "passage_rank",
                 "context", "length")
#: Measurements of the best unit and the question, in the answerability model's column order.
ANSWER_FEATURES = ("ranker", "score", "lexical", "typed", "focus", "verbs", "missing_nouns", "missing_verbs",
                   "typed_question")
#: Measurements of the retrieved units and the question, in the topicality model's column order: the
#: best blended score, cosine and lexical coverage over all units, the shares of the question's
#: nouns and verbs no passage mentions, and the answerability logit (``qa.answer.topic_row``).
TOPIC_FEATURES = ("best_score", "best_dense", "best_lexical", "missing_nouns", "missing_verbs", "answerability")

DEFAULT_PATH = Path(__file__).with_name("answer_model.json")


@dataclass(frozen=True)
class LinearModel:
    """``logit(x) = intercept + sum(coef * (x - mean) / scale)`` over named features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        n = len(self.features)
        if not n or any(len(v) != n for v in (self.mean, self.scale, self.coef)):
            raise ValueError("a linear model needs one mean, scale and coefficient per feature")
        numbers = (*self.mean, *self.scale, *self.coef, self.intercept)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
            raise ValueError("a linear model's numbers must be finite")
        if any(s <= 0 for s in self.scale):
            raise ValueError("a linear model's scales must be positive")

    def logit(self, x: np.ndarray) -> np.ndarray:
        """Scores of the rows of ``x`` (one column per feature)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} feature columns, got shape {x.shape}")
        z = (x - np.array(self.mean)) / np.array(self.scale)
        return z @ np.array(self.coef) + self.intercept

    def prob(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def contributions(self, row: Sequence[float]) -> dict[str, float]:
        """Each feature's share of one row's logit (the coefficient times the standardised value)."""
        return {f: c * (v - m) / s for f, v, m, s, c in zip(self.features, row, self.mean, self.scale, self.coef)}

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: Any, expected: Sequence[str]) -> LinearModel:
        if not isinstance(d, dict):
            raise ValueError("a linear model must be a JSON object")
        try:
            model = cls(tuple(d["features"]), tuple(map(float, d["mean"])), tuple(map(float, d["scale"])),
                        tuple(map(float, d["coef"])), float(d["intercept"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a linear model needs features, mean, scale, coef and intercept ({exc})") from exc
        if model.features != tuple(expected):
            raise ValueError(f"features {list(model.features)} do not match this version's {list(expected)}")
        return model


@dataclass(frozen=True)
class AnswerModel:
    """The ranker, the answerability model and its probability threshold, with where they came from."""

    ranker: LinearModel
    answerable: LinearModel
    threshold: float = 0.5
    trained_on: str = ""  # e.g. "eval/answer_questions.jsonl: tune, fresh, fresh2 (160 questions)"
    embedding_model: str = ""
    #: topicality (evidence vs none): the question is about the retrieved articles when
    #: ``topic.logit(topic_row) > topic_threshold``; without a topic model every question counts as topical
    topic: LinearModel | None = None
    topic_threshold: float = 0.0

    def __post_init__(self) -> None:
        for name in ("threshold", "topic_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")

    def topical(self, row: np.ndarray) -> bool:
        """Whether the question whose :data:`TOPIC_FEATURES` are ``row`` is about the articles."""
        if self.topic is None:
            return True
        return bool(self.topic.logit(np.asarray(row, dtype=np.float64)[None, :])[0] > self.topic_threshold)

    def to_dict(self) -> dict[str, Any]:
        d = {"version": FORMAT_VERSION, "threshold": self.threshold, "trained_on": self.trained_on,
             "embedding_model": self.embedding_model, "ranker": self.ranker.to_dict(),
             "answerable": self.answerable.to_dict()}
        if self.topic is not None:
            d.update(topic=self.topic.to_dict(), topic_threshold=self.topic_threshold)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> AnswerModel:
        if not isinstance(d, dict) or d.get("version") != FORMAT_VERSION:
            raise ValueError(f"not an answer model of format version {FORMAT_VERSION}")
        topic = LinearModel.from_dict(d["topic"], TOPIC_FEATURES) if d.get("topic") is not None else None
        return cls(LinearModel.from_dict(d.get("ranker"), UNIT_FEATURES),
                   LinearModel.from_dict(d.get("answerable"), ANSWER_FEATURES),
                   d.get("threshold", 0.5), str(d.get("trained_on", "")), str(d.get("embedding_model", "")),
                   topic, d.get("topic_threshold", 0.0))

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (to a temporary file first, then renamed: never half-written)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


def load_answer_model(path: str | Path) -> AnswerModel:
    """An answer model from a JSON file; a one-line ``ValueError`` when it is missing or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read answer model {path}: {exc}") from exc
    try:
        return AnswerModel.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"answer model {path}: {exc}") from exc


@lru_cache(maxsize=1)
def default_answer_model() -> AnswerModel:
    """The bundled model (``qa/answer_model.json``), read once."""
    return load_answer_model(DEFAULT_PATH)


def fit_pairwise(groups: Sequence[tuple[np.ndarray, Sequence[int]]], features: Sequence[str], *, c: float = 1.0,
                 ) -> LinearModel:
    """A ranker from groups of rows (one group per question, labels 1 for rows that answer it):
    logistic regression on the differences of every (answering, not answering) pair of a group,
    both ways round, without intercept (RankNet-style), on columns standardised over all rows."""
    from sklearn.linear_model import LogisticRegression

    mats = [np.asarray(x, dtype=np.float64) for x, _ in groups]
    if not mats or any(m.ndim != 2 or m.shape[1] != len(features) for m in mats):
        raise ValueError(f"expected groups of rows with {len(features)} features")
    allx = np.vstack(mats)
    mean = allx.mean(axis=0)
    scale = allx.std(axis=0)
    scale[scale < 1e-9] = 1.0
    diffs = []
    for m, (_, labels) in zip(mats, groups):
        z = (m - mean) / scale
        lab = np.asarray(labels, dtype=bool)
        if lab.any() and (~lab).any():
            diffs.append((z[lab][:, None, :] - z[~lab][None, :, :]).reshape(-1, len(features)))
    if not diffs:
        raise ValueError("fitting a ranker needs a group with rows that answer and rows that do not")
    d = np.vstack(diffs)
    reg = LogisticRegression(C=c, max_iter=5000, fit_intercept=False).fit(
        np.vstack([d, -d]), np.r_[np.ones(len(d), dtype=int), np.zeros(len(d), dtype=int)])
    return LinearModel(tuple(features), tuple(float(v) for v in mean), tuple(float(v) for v in scale),
                       tuple(float(v) for v in reg.coef_[0]), 0.0)


def balanced_threshold(x: np.ndarray, y: Sequence[int], *, c: float = 1.0, folds: int = 5) -> float:
    """The probability threshold that maximises balanced accuracy ((TPR + TNR) / 2) of out-of-fold
    predictions (``folds``-fold cross-validation of :func:`fit_linear`'s model): answering right
    and refusing count alike, whatever the share of answerable questions in the training set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(y, dtype=int)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - x.mean(axis=0)) / scale
    k = int(min(folds, np.bincount(labels, minlength=2).min()))
    if k < 2:
        raise ValueError("choosing a threshold needs at least two examples of each label")
    p = cross_val_predict(LogisticRegression(C=c, max_iter=5000), z, labels,
                          cv=StratifiedKFold(k, shuffle=True, random_state=0), method="predict_proba")[:, 1]
    pos, neg = p[labels == 1], p[labels == 0]
    candidates = np.unique(np.r_[p, 0.5])
    score = [(np.mean(pos >= t) + np.mean(neg < t)) / 2 for t in candidates]
    best = float(candidates[int(np.argmax(score))])
    return round(best, 4)


def precision_threshold(p: Sequence[float], right: Sequence[bool], *, min_precision: float = 0.95,
                        min_answered: int = 10) -> float:
    """The lowest probability threshold at which the answers given (``p >= t``) are right
    (``right``: the best unit holds the evidence) at least ``min_precision`` of the time, over at
    least ``min_answered`` answers; the highest probability when none reaches it."""
    probs = np.asarray(p, dtype=np.float64)
    ok = np.asarray(right, dtype=bool)
    for t in np.unique(probs):
        chosen = probs >= t
        if chosen.sum() >= min_answered and ok[chosen].mean() >= min_precision:
            return round(float(t), 4)
    return round(float(probs.max()), 4) if len(probs) else 1.0


def fit_linear(x: np.ndarray, y: Sequence[int], features: Sequence[str], *, c: float = 1.0) -> LinearModel:
    """L2-regularised logistic regression (scikit-learn) on standardised columns of ``x``."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(y, dtype=int)
    if x.ndim != 2 or x.shape[1] != len(features) or len(labels) != len(x):
        raise ValueError(f"expected rows of {len(features)} features and one label per row, got {x.shape} and {len(labels)}")
    if len(set(labels.tolist())) < 2:
        raise ValueError("fitting needs positive and negative examples")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant column: left as is (its coefficient ends up 0)
    reg = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, labels)
    return LinearModel(tuple(features), tuple(float(v) for v in mean), tuple(float(v) for v in scale),
                       tuple(float(v) for v in reg.coef_[0]), float(reg.intercept_[0]))
