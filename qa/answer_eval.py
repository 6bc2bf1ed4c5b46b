"""Answer evaluation: does the answer quote the evidence, and does it stay silent when it should?

A question set is JSONL, one question per line::

    {"id": "w01", "question": "why did Russia withdraw peacekeepers?",
     "evidence": ["to maintain good relations with Azerbaijan and Turkey", ...],
     "kind": "why_how", "split": "tune"}

``evidence`` lists phrases that occur literally in the articles (any one of them is a right
answer); an empty list means the articles do not answer the question. ``kind`` groups the
questions in the report (``unanswerable`` = on topic but not stated, ``offtopic``); ``split`` is
``tune``, ``tune2``, ``heldout``, ``fresh``, ``fresh2``, ``fresh3``, ``fresh4`` or ``fresh5``. ``tune`` and ``tune2`` are for
fitting and choosing settings; ``heldout``, ``fresh3``, ``fresh4`` and ``fresh5`` never are (``fresh4`` was written blind
and frozen before round 5, ``fresh5`` before the reader was trained); ``fresh`` (written after
``heldout`` had been looked at) and ``fresh2`` (after ``fresh``) were unseen tests in their rounds
and became training data of the learned answer model; see docs/answering.md.

:func:`evaluate_answers` is pure: it takes the questions and an ``ask`` callable
(question -> :class:`qa.answer.Answer`) and returns the metrics and a per-question table.
:func:`evaluate_index` wires it to an index for ``qa eval QUESTIONS.jsonl --index DIR``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from index.progress import stage

from .answer import Answer
from .datasets import normalize_text

ANSWERABLE_KINDS = ("why_how", "quantity_when", "who_where_which")
REFUSE_KINDS = ("unanswerable", "offtopic")
SPLITS = ("tune", "tune2", "heldout", "fresh", "fresh2", "fresh3", "fresh4", "fresh5")
#: Splits never used to fit or choose anything (reported together as ``unseen``).
UNSEEN_SPLITS = ("heldout", "fresh3", "fresh4", "fresh5")


@dataclass(frozen=True)
class AnswerCase:
    id: str
    question: str
    evidence: tuple[str, ...]
    kind: str = ""
    split: str = "tune"

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


@dataclass(frozen=True)
class AnswerRow:
    """One question: what was answered next to what was expected."""

    id: str
    kind: str
    split: str
    question: str
    answerable: bool
    status: str  # answered, evidence or none (qa.answer.Answer.status)
    evidence_in_body: bool  # a quote shown (answered or evidence) holds an expected phrase
    evidence_in_first: bool  # the first quote shown holds one
    expected: tuple[str, ...]
    answer: str
    question_type: str = ""

    @property
    def confident(self) -> bool:
        return self.status == "answered"


@dataclass
class AnswerReport:
    metrics: dict[str, dict[str, float]]  # group ("all", "tune", "heldout") -> metric -> value
    rows: list[AnswerRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "rows": [asdict(r) for r in self.rows]}

    def table(self) -> str:
        names = list(next(iter(self.metrics.values())))
        groups = list(self.metrics)
        widths = [max(10, len(g) + 2) for g in groups]
        lines = ["answer metric".ljust(34) + "".join(g.rjust(w) for g, w in zip(groups, widths))]
        for name in names:
            cells = []
            for g, w in zip(groups, widths):
                v = self.metrics[g].get(name)
                cells.append(("-" if v is None else (f"{v:.0f}" if name.startswith("n_") else f"{v:.3f}")).rjust(w))
            lines.append(name.ljust(34) + "".join(cells))
        return "\n".join(lines)

    def save(self, directory: Path | str) -> list[Path]:
        """``answers.csv`` (one row per question: answer beside expected evidence) and ``answers.json``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        js = d / "answers.json"
        js.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        cs = d / "answers.csv"
        with cs.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "kind", "split", "question", "status", "evidence_in_body", "evidence_in_first",
                        "expected", "answer"])
            for r in self.rows:
                w.writerow([r.id, r.kind, r.split, r.question, r.status, r.evidence_in_body, r.evidence_in_first,
                            " | ".join(r.expected), r.answer])
        return [cs, js]


def load_answer_cases(path: Path | str) -> list[AnswerCase]:
    """The questions of a JSONL question set (see the module docstring)."""
    from .datasets import DatasetError, load_questions

    path = Path(path)
    extra: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            extra[str(obj.get("id", obj.get("_id")))] = obj
    out = []
    for q in load_questions(path):  # validates ids, questions and evidence
        obj = extra.get(q.id, {})
        split = str(obj.get("split", "tune"))
        if split not in SPLITS:
            raise DatasetError(f"{path}:{q.line}: split must be one of {', '.join(SPLITS)}, got {split!r}")
        kind = str(obj.get("kind") or ("answerable" if q.answerable else "unanswerable"))
        out.append(AnswerCase(q.id, q.question, q.evidence, kind, split))
    return out


def contains_evidence(text: str, evidence: Iterable[str]) -> bool:
    """Whether ``text`` holds one of the evidence phrases, compared as retrieval's question sets
    compare them (:func:`qa.datasets.normalize_text`: case, spacing, curly quotes and dashes folded)."""
    t = normalize_text(text)
    return any(normalize_text(e) in t for e in evidence if e.strip())


def _rate(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(rows: Sequence[AnswerRow]) -> dict[str, float]:
    """Metrics over ``rows`` (``None`` where a metric has no question to count):

    - ``evidence_in_body`` / ``evidence_in_first``: share of answerable questions whose shown quotes
      (an ``answered`` or an ``evidence`` answer; all of them / the first) hold an expected phrase;
    - ``answered``: share of answerable questions marked ``answered``;
    - ``answered_precision``: share of ``answered`` answers (any question) whose first quote holds
      the evidence;
    - ``answerable_none``: share of answerable questions marked ``none`` (their evidence is not shown);
    - ``unanswerable_answered``: share of on-topic unanswerable questions marked ``answered``;
    - ``offtopic_none``: share of off-topic questions marked ``none``.
    """
    ans = [r for r in rows if r.answerable]
    answered = [r for r in rows if r.status == "answered"]
    return {
        "n_answerable": len(ans),
        "n_refuse": len(rows) - len(ans),
        "evidence_in_body": _rate([r.evidence_in_body for r in ans]),
        "evidence_in_first": _rate([r.evidence_in_first for r in ans]),
        "answered": _rate([r.status == "answered" for r in ans]),
        "answered_precision": _rate([r.answerable and r.evidence_in_first for r in answered]),
        "answerable_none": _rate([r.status == "none" for r in ans]),
        "unanswerable_answered": _rate([r.status == "answered" for r in rows if r.kind == "unanswerable"]),
        "offtopic_none": _rate([r.status == "none" for r in rows if r.kind == "offtopic"]),
    }


def judge(case: AnswerCase, answer: Answer) -> AnswerRow:
    quotes = [c.quote for c in answer.citations]
    return AnswerRow(
        id=case.id, kind=case.kind, split=case.split, question=case.question, answerable=case.answerable,
        status=answer.status,
        evidence_in_body=case.answerable and contains_evidence(" ".join(quotes), case.evidence),
        evidence_in_first=case.answerable and bool(quotes) and contains_evidence(quotes[0], case.evidence),
        expected=case.evidence, answer=answer.answer,
        question_type=str(getattr(answer, "question_type", "") or ""),
    )


def evaluate_answers(cases: Sequence[AnswerCase], ask: Callable[[str], Answer]) -> AnswerReport:
    """Ask every question; metrics over all questions and per split (:data:`SPLITS`)."""
    rows: list[AnswerRow] = []
    with stage("answering", len(cases), "question") as progress:  # what a long run's heartbeat shows
        for c in cases:
            rows.append(judge(c, ask(c.question)))
            progress.update()
    metrics = {"all": summarize(rows)}
    for split in SPLITS:
        part = [r for r in rows if r.split == split]
        if part and len(part) < len(rows):
            metrics[split] = summarize(part)
    unseen = [r for r in rows if r.split in UNSEEN_SPLITS]
    if unseen and len(unseen) < len(rows):
        metrics["unseen"] = summarize(unseen)
        for kind in (*ANSWERABLE_KINDS, *REFUSE_KINDS):  # per kind, over the unseen splits
            part = [r for r in unseen if r.kind == kind]
            if part:
                metrics[f"unseen:{kind}"] = summarize(part)
    return AnswerReport(metrics, rows)


def evaluate_index(path: Path | str, index: Path | str | None = None, *, save: Path | str | None = None,
                   reranker: str | None = None) -> AnswerReport:
    """:func:`evaluate_answers` with the :class:`~qa.engine.Engine` over ``index`` (``qa eval``'s hook):
    the same answers ``qa ask`` and ``/api/ask`` give."""
    from index.defaults import default_index_dir

    from .engine import Engine
    from .rerank import load_reranker

    cases = load_answer_cases(path)
    engine = Engine.open(index or default_index_dir(), reranker=load_reranker(reranker))
    report = evaluate_answers(cases, engine.ask)
    if save:
        report.save(save)
    return report
