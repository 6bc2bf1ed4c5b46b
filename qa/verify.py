"""Verification: answer with confidence only when a quoted sentence carries the answer.

:func:`verify` looks at the best-scoring unit (sentence plus context) of the retrieved passages
and says whether it answers the question. It is confident when all of these hold:

1. its blended similarity to the question (cosine + lexical coverage) is at least ``threshold``
   (the topic check: off-topic questions stop here);
2. every noun the question is about occurs somewhere in the retrieved passages ("What is the
   GDP of Armenia?": no passage says "GDP");
3. it contains at least ``focus_min`` of the question's focus words (nouns, names and verbs);
4. for a typed question (why, how many/much/long, when, who, where, which), it carries an
   answer of the expected type with evidence at least ``typed_min`` (:mod:`qa.extract`).

Otherwise the answer is "not confident" and the reason says which check failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .question import QuestionAnalysis


@dataclass(frozen=True)
class Verdict:
    confident: bool
    reason: str


def verify(a: QuestionAnalysis, *, base: float | None, typed: float, focus: float, missing: Sequence[str],
           threshold: float, typed_min: float, focus_min: float) -> Verdict:
    """The decision for the best unit's scores (``base`` None: no candidate sentence at all)."""
    if base is None:
        return Verdict(False, "no quotable sentence in the retrieved passages")
    if base < threshold:
        return Verdict(False, f"best sentence scores {base:.3f} < {threshold:.3f}")
    if missing:
        return Verdict(False, f"no retrieved passage mentions {', '.join(missing)}")
    if focus < focus_min:
        return Verdict(False, f"best sentence covers {focus:.2f} of the question's focus words < {focus_min:.2f}")
    if a.typed and typed < typed_min:
        return Verdict(False, f"best sentence carries no {a.answer_type} ({typed:.2f} < {typed_min:.2f})")
    return Verdict(True, "ok")
