"""Verification: answer with confidence only when the best unit is likely to answer.

:func:`verify` reads the answerability features of the best-ranked unit (its ranker score,
blended similarity, answer-type evidence, focus and verb coverage, the question's nouns and
verbs that no retrieved passage mentions ...; :data:`qa.learned.ANSWER_FEATURES`) with the
learned answerability model (:mod:`qa.learned`). The answer is confident when the model's
probability reaches ``threshold``; otherwise the reason names the question's words that no
retrieved passage mentions ("no retrieved passage mentions gdp") or, when there are none, the
feature that pulled the probability down most ("the best sentence carries no reason", ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .learned import LinearModel
from .question import QuestionAnalysis


@dataclass(frozen=True)
class Verdict:
    confident: bool
    reason: str
    probability: float = 0.0


def explain(feature: str, a: QuestionAnalysis, missing: Sequence[str]) -> str:
    """A reader's words for an answerability feature that argued against answering."""
    if feature in ("missing_nouns", "missing_verbs") and missing:
        return f"no retrieved passage mentions {', '.join(missing)}"
    if feature == "typed" and a.relation is not None and a.answer_type in ("thing", "any", "entity", "person", "place"):
        return f"the best sentence does not state the {a.relation[0]} of {a.relation[1]}"
    if feature == "typed" and a.typed:
        return f"the best sentence carries no {a.answer_type}"
    if feature in ("focus", "verbs"):
        return "the best sentence leaves out what the question is about"
    return "no sentence is close enough to the question"


def verify(model: LinearModel, row: np.ndarray | None, *, threshold: float, analysis: QuestionAnalysis,
           missing: Sequence[str]) -> Verdict:
    """The decision for the best unit's answerability features ``row`` (None: no quotable unit)."""
    if row is None:
        return Verdict(False, "no quotable sentence in the retrieved passages")
    p = float(model.prob(np.asarray(row, dtype=np.float64)[None, :])[0])
    if p >= threshold:
        return Verdict(True, f"ok (answerability {p:.2f} >= {threshold:.2f})", p)
    contributions = model.contributions(row)
    worst = "missing_nouns" if missing else min(contributions, key=lambda f: contributions[f])
    return Verdict(False, f"answerability {p:.2f} < {threshold:.2f}: {explain(worst, analysis, missing)}", p)
