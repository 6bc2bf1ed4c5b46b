"""Scoring a timeline against the hand-read event table ``eval/timeline_events.jsonl``.

Each row of the table is one event: ``id``, ``split`` (``tune`` / ``heldout``), ``kind`` (``event``, or
``background`` for a dated sentence that reports no point in time), ``resolvable`` and its
``reports``: ``{"doc", "snippet", "date", "precision", "end"}``, the snippet as it occurs literally in
the article and the date the text gives it (``date`` null: the text does not pin the date down,
e.g. "on Thursday" in an article without a publication date; it must stay out of the timeline).

A timeline *covers* a report when one of its citations is of that article and its date phrase lies
inside the snippet. The scores (:func:`score`), per split:

- ``date_accuracy``: covered resolvable reports whose citation has the table's date at the table's
  precision (and range end), over covered resolvable reports; ``date_recall``: the same over all
  resolvable reports;
- ``guessed``: reports the table marks unresolvable (or background) that the timeline dates anyway;
- ``recall``: resolvable event rows with at least one report covered at its right date (the topic
  timeline: is the story there?);
- ``merge_accuracy``: rows with two or more resolvable reports whose covered reports all sit in one
  entry that holds no report of another row; ``false_merges``: pairs of rows sharing an entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .timeline import TimelineCitation, TimelineEvent

TABLE = Path(__file__).resolve().parent.parent / "eval" / "timeline_events.jsonl"
SPLITS = ("tune", "heldout")


@dataclass(frozen=True)
class Report:
    row: str
    doc: str
    start: int
    end: int
    date: str | None
    precision: str | None
    until: str | None


def load_table(path: Path | str = TABLE) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        if r.get("split") not in SPLITS:
            raise ValueError(f"row {r.get('id')!r}: split must be one of {SPLITS}")
    return rows


def locate(rows: Iterable[Mapping[str, Any]], texts: Mapping[str, str]) -> dict[str, list[Report]]:
    """Each row's reports with their character spans in the article texts (``doc_id -> text``);
    a snippet must occur exactly once in its article."""
    out: dict[str, list[Report]] = {}
    for r in rows:
        reps = []
        for rep in r["reports"]:
            text = texts[rep["doc"]]
            at = text.find(rep["snippet"])
            if at < 0 or text.find(rep["snippet"], at + 1) >= 0:
                raise ValueError(f"row {r['id']}: snippet must occur once in {rep['doc']}: {rep['snippet']!r}")
            reps.append(Report(r["id"], rep["doc"], at, at + len(rep["snippet"]), rep.get("date"),
                               rep.get("precision"), rep.get("end")))
        out[r["id"]] = reps
    return out


def _covers(c: TimelineCitation, rep: Report) -> bool:
    return c.doc_id == rep.doc and rep.start <= c.mention_start and c.mention_end <= rep.end


def _right(c: TimelineCitation, rep: Report) -> bool:
    return (c.when.date, c.when.precision, c.when.until) == (rep.date, rep.precision, rep.until)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def score(rows: Sequence[Mapping[str, Any]], reports: Mapping[str, list[Report]], events: Sequence[TimelineEvent],
          topic_events: Sequence[TimelineEvent] | None = None) -> dict[str, Any]:
    """The scores of ``events`` (the whole corpus's timeline) and ``topic_events`` (a topic's
    timeline, for recall; default ``events``) on ``rows`` (see the module docstring)."""
    topic_events = events if topic_events is None else topic_events
    cites = [(n, c) for n, e in enumerate(events) for c in e.citations]
    topic_cites = [c for e in topic_events for c in e.citations]
    covered = right = resolvable = 0
    wrong: list[dict[str, Any]] = []
    guessed: list[dict[str, Any]] = []
    for r in rows:
        for rep in reports[r["id"]]:
            mine = [c for _, c in cites if _covers(c, rep)]
            if rep.date is None or r.get("kind") == "background":
                guessed += [{"row": r["id"], "mention": c.mention, "date": c.when.date} for c in mine]
                continue
            resolvable += 1
            if mine:
                covered += 1
                if any(_right(c, rep) for c in mine):
                    right += 1
                else:
                    wrong.append({"row": r["id"], "mention": mine[0].mention, "got": mine[0].when.to_dict(),
                                  "want": {"date": rep.date, "precision": rep.precision, "end": rep.until}})
    event_rows = [r for r in rows if r.get("kind", "event") == "event" and r.get("resolvable")]
    found = [r["id"] for r in event_rows
             if any(rep.date and any(_covers(c, rep) and _right(c, rep) for c in topic_cites) for rep in reports[r["id"]])]
    # merging
    entry_rows: dict[int, set[str]] = {}
    for n, c in cites:
        for r in rows:
            if any(_covers(c, rep) for rep in reports[r["id"]]):
                entry_rows.setdefault(n, set()).add(r["id"])
    multi = [r for r in rows if sum(1 for rep in reports[r["id"]] if rep.date) >= 2]
    merged_ok = []
    for r in multi:
        entries = {n for n, c in cites for rep in reports[r["id"]] if rep.date and _covers(c, rep)}
        if len(entries) == 1 and entry_rows[next(iter(entries))] == {r["id"]}:
            merged_ok.append(r["id"])
    false_merges = sorted({tuple(sorted(ids)) for ids in entry_rows.values() if len(ids) > 1})
    return {
        "rows": len(rows), "resolvable_reports": resolvable, "covered_reports": covered, "right_reports": right,
        "date_accuracy": _ratio(right, covered), "date_recall": _ratio(right, resolvable),
        "guessed": len(guessed), "guessed_reports": guessed, "wrong_dates": wrong,
        "event_rows": len(event_rows), "recall": _ratio(len(found), len(event_rows)),
        "missed_events": sorted({r["id"] for r in event_rows} - set(found)),
        "merge_rows": len(multi), "merge_accuracy": _ratio(len(merged_ok), len(multi)),
        "merge_failures": sorted({r["id"] for r in multi} - set(merged_ok)),
        "false_merges": [list(p) for p in false_merges],
    }


def score_splits(rows: Sequence[Mapping[str, Any]], texts: Mapping[str, str], events: Sequence[TimelineEvent],
                 topic_events: Sequence[TimelineEvent] | None = None,
                 splits: Sequence[str] = SPLITS) -> dict[str, dict[str, Any]]:
    """:func:`score` for each split."""
    reports = locate(rows, texts)
    return {s: score([r for r in rows if r["split"] == s], reports, events, topic_events) for s in splits}
