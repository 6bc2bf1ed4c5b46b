"""Sentence ranking with and without the reader (issue 24): rank-1 and top-3, per writer and kind.

    python benchmarks/reader.py --index DIR                      # the shipped reader, every answerable question
    python benchmarks/reader.py --index DIR --reader /tmp/r      # another adapter folder
    python benchmarks/reader.py --index DIR --fit                # also choose the combination weight (training splits)
    python benchmarks/reader.py --index DIR --fit --apply        # ... and write them into the reader's reader.json
    python benchmarks/reader.py --index DIR --tiny --json        # CI smoke run

For every answerable question of ``eval/answer_questions.jsonl`` the app's candidate units over
the question's retrieved passages are scored once by the learned ranker (``Answerer`` without a
reader). Three systems order them:

- ``ranker``: the learned ranker alone (the app before the reader);
- ``reader``: the reader's logit over the ranker's best ``depth`` units (the rest after them);
- ``combined``: the ranker's score + ``weight`` x the reader's probability over those units, for
  the question families the reader is kept for (``reason``: why/how, ``quantity``: how many/much,
  when; ``entity``: the rest; :func:`qa.reader.family`), the ranker alone for the others: what
  the app ships (:class:`qa.answer.Answerer` with the reader).

A question counts at rank 1 / top 3 when the first / one of the first three units holds an evidence
phrase. Rows: each writer group (``first writer``: tune, heldout, fresh; ``other writers``: tune2,
fresh2, fresh3, fresh4, fresh5), the blind splits alone (heldout, fresh3, fresh4, fresh5: never
used to train or choose anything), and each kind within the other writers and within the blind
splits. ``p`` is an exact McNemar test (two-sided binomial on the questions where exactly one of
the two systems is right at rank 1) against ``ranker``.

``--fit`` chooses ``weight`` and the families on the training splits (tune, tune2, fresh, fresh2)
by rank-1 (:func:`fit_combination`), and reports a leave-one-split-out estimate (both chosen
without a split, scored on it). The
reader itself was trained with the training splits' questions, so only the blind rows are
out-of-sample for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.answer import Answerer  # noqa: E402
from qa.answer_eval import ANSWERABLE_KINDS, UNSEEN_SPLITS, contains_evidence, load_answer_cases  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.question import analyze  # noqa: E402
from qa.reader import family  # noqa: E402
from qa.rerank import Reading, best_units, with_bonus  # noqa: E402

QUESTIONS = ROOT / "eval" / "answer_questions.jsonl"
TRAIN_SPLITS = ("tune", "tune2", "fresh", "fresh2")
FIRST_WRITER = ("tune", "heldout", "fresh")
OTHER_WRITERS = ("tune2", "fresh2", "fresh3", "fresh4", "fresh5")
WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0)
SYSTEMS = ("ranker", "reader", "combined")


@dataclass
class Ranked:
    """One question's candidates: the ranker's scores (best first), whether each holds the evidence,
    and the reader's logits for the first ``depth``."""

    id: str
    split: str
    kind: str
    question: str
    family: str  # qa.reader.family of the question's analysed type
    ranker: np.ndarray
    hits: np.ndarray  # bool
    reader: np.ndarray  # logits of the first len(reader) units


def collect(index: str, reader: Any, *, depth: int, limit: int | None = None,
            splits: Sequence[str] | None = None) -> list[Ranked]:
    """Every answerable question (of ``splits``, default all) ranked by the learned ranker alone,
    with the reader's logits for its best ``depth`` units."""
    engine = Engine.open(index, reranker=None)
    answerer = Answerer(engine, reranker=None)
    out: list[Ranked] = []
    cases = [c for c in load_answer_cases(QUESTIONS) if c.answerable and (splits is None or c.split in splits)]
    if limit:
        cases = cases[::max(1, len(cases) // limit)][:limit]
    for case in cases:
        hits = engine.search(case.question, k=answerer.k)
        scored, _ = answerer.score_sentences(case.question, hits)
        texts = [s.candidate.text for s in scored]
        top = texts[:depth]
        logits = reader.predict([(case.question, t) for t in top]) if reader is not None and top else np.zeros(0)
        out.append(Ranked(case.id, case.split, case.kind, case.question, family(analyze(case.question).qtype),
                          np.array([s.final for s in scored]),
                          np.array([contains_evidence(t, case.evidence) for t in texts], dtype=bool),
                          np.asarray(logits, dtype=np.float64)))
    engine.close()
    return out


ALL_FAMILIES = ("reason", "quantity", "entity")


def read(r: Ranked, reading: Reading | None = None) -> int:
    """How many of ``r``'s units (a prefix: they are best first) the reader reads under ``reading``
    (None: all it scored)."""
    d = len(r.reader)
    return d if reading is None or d == 0 else len(reading.units(r.ranker[:d]))


def order(r: Ranked, system: str, weight: float, families: Sequence[str] = (), reading: Reading | None = None) -> np.ndarray:
    """The candidates' order (indices into r.hits) under ``system`` (``combined`` reads only for
    ``families``, all when empty, and only the units ``reading`` picks)."""
    n, d = len(r.hits), len(r.reader)
    if system == "combined":
        d = read(r, reading)
    if system == "ranker" or d == 0 or (system == "combined" and families and r.family not in families):
        return np.arange(n)
    if system == "reader":
        head = np.argsort(-r.reader, kind="stable")
    else:  # the app's combination (r.ranker is best first: the reader read the first d)
        head = best_units(with_bonus(r.ranker[:d], np.arange(d), 1.0 / (1.0 + np.exp(-r.reader[:d])), weight), d)
    return np.concatenate([head, np.arange(d, n)])


def correct(rows: Sequence[Ranked], system: str, weight: float, k: int, families: Sequence[str] = (),
            reading: Reading | None = None) -> np.ndarray:
    return np.array([bool(r.hits[order(r, system, weight, families, reading)[:k]].any()) for r in rows], dtype=bool)


def pairs_read(rows: Sequence[Ranked], families: Sequence[str] = (), reading: Reading | None = None) -> float:
    """Mean (question, unit) pairs the reader reads per question: its time, in units."""
    return float(np.mean([read(r, reading) if not families or r.family in families else 0 for r in rows])) if rows else 0.0


def mcnemar(a: np.ndarray, b: np.ndarray) -> float:
    """Exact two-sided McNemar p (binomial on the discordant pairs)."""
    from scipy.stats import binomtest

    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def fit_weight(rows: Sequence[Ranked]) -> float:
    """The weight with the most rank-1 hits (ties: the smaller weight)."""
    best = max(WEIGHTS, key=lambda w: (int(correct(rows, "combined", w, 1).sum()), -w))
    return float(best)


def fit_combination(rows: Sequence[Ranked]) -> tuple[float, tuple[str, ...]]:
    """The weight (:func:`fit_weight`), then the question families where the reader at that weight
    puts the evidence first for more questions than the ranker alone (a family it does not help
    is left to the ranker, and pays no reading time)."""
    w = fit_weight(rows)
    keep = []
    for f in ALL_FAMILIES:
        part = [r for r in rows if r.family == f]
        if part and int(correct(part, "combined", w, 1).sum()) > int(correct(part, "ranker", w, 1).sum()):
            keep.append(f)
    return w, tuple(keep)


#: The bounds :func:`fit_reading` tries (None: no bound).
BOUNDS = (None, 8.0, 6.0, 4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5)


def fit_reading(rows: Sequence[Ranked], weight: float, families: Sequence[str], depth: int) -> Reading:
    """The cheapest reading (fewest pairs read, :func:`pairs_read`) that puts the evidence first, and
    in the top 3, for at least as many of ``rows`` as reading all ``depth`` units does; ties: the
    looser bounds."""
    full = Reading(depth)
    need1 = int(correct(rows, "combined", weight, 1, families, full).sum())
    need3 = int(correct(rows, "combined", weight, 3, families, full).sum())
    best, cost = full, pairs_read(rows, families, full)
    for margin in BOUNDS:
        for reach in BOUNDS:
            rd = Reading(depth, reach, margin)
            c = pairs_read(rows, families, rd)
            if (c < cost - 1e-9 and int(correct(rows, "combined", weight, 1, families, rd).sum()) >= need1
                    and int(correct(rows, "combined", weight, 3, families, rd).sum()) >= need3):
                best, cost = rd, c
    return best


def groups(rows: Sequence[Ranked]) -> list[tuple[str, list[Ranked]]]:
    def pick(splits: Sequence[str], kind: str | None = None) -> list[Ranked]:
        return [r for r in rows if r.split in splits and (kind is None or r.kind == kind)]

    out = [("first writer", pick(FIRST_WRITER)), ("other writers", pick(OTHER_WRITERS)),
           ("blind (heldout, fresh3-5)", pick(UNSEEN_SPLITS)), ("fresh5 (new blind split)", pick(("fresh5",)))]
    out += [(f"other writers, {k}", pick(OTHER_WRITERS, k)) for k in ANSWERABLE_KINDS]
    out += [(f"blind, {k}", pick(UNSEEN_SPLITS, k)) for k in ANSWERABLE_KINDS]
    return [(name, g) for name, g in out if g]


def table_rows(rows: Sequence[Ranked], weight: float, families: Sequence[str] = (),
               reading: Reading | None = None) -> list[dict[str, Any]]:
    out = []
    for name, g in groups(rows):
        base1 = correct(g, "ranker", weight, 1)
        row: dict[str, Any] = {"group": name, "n": len(g), "pairs_read": round(pairs_read(g, families, reading), 2)}
        for s in SYSTEMS:
            c1, c3 = correct(g, s, weight, 1, families, reading), correct(g, s, weight, 3, families, reading)
            row[s] = [round(float(c1.mean()), 3), round(float(c3.mean()), 3)]
            if s != "ranker":
                row[f"p_{s}"] = round(mcnemar(c1, base1), 4)
        out.append(row)
    return out


def leave_one_split_out(rows: Sequence[Ranked]) -> list[dict[str, Any]]:
    out = []
    for split in TRAIN_SPLITS:
        train = [r for r in rows if r.split in TRAIN_SPLITS and r.split != split]
        test = [r for r in rows if r.split == split]
        if not train or not test:
            continue
        w, fams = fit_combination(train)
        rd = fit_reading(train, w, fams, max(len(r.reader) for r in rows))
        out.append({"held_out": split, "n": len(test), "weight": w, "families": list(fams),
                    "reach": rd.reach, "margin": rd.margin,
                    "ranker": round(float(correct(test, "ranker", w, 1).mean()), 3),
                    "combined": round(float(correct(test, "combined", w, 1, fams).mean()), 3),
                    "combined_bounded": round(float(correct(test, "combined", w, 1, fams, rd).mean()), 3)})
    return out


def markdown(rows: Sequence[dict[str, Any]], weight: float) -> str:
    lines = [f"| questions | n | ranker rank-1 / top-3 | reader rank-1 / top-3 (p) | ranker + reader (w={weight:g}) rank-1 / top-3 (p) | pairs read |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        def cell(s: str) -> str:
            a, b = r[s]
            p = r.get(f"p_{s}")
            return f"{a:.2f} / {b:.2f}" + ("" if p is None else " (p<0.001)" if p < 0.001 else f" (p={p:.3g})")
        lines.append(f"| {r['group']} | {r['n']} | {cell('ranker')} | {cell('reader')} | {cell('combined')} | {r['pairs_read']:.1f} |")
    return "\n".join(lines)


def apply(folder: Path, weight: float, depth: int, families: Sequence[str], reading: Reading) -> Path:
    """Write the combination into ``folder``'s ``reader.json`` (atomically): what ``--fit --apply`` does."""
    import dataclasses

    from qa.reader import CONFIG_FILE, Reader

    cfg = dataclasses.replace(Reader(folder).config, weight=weight, depth=depth, families=tuple(families),
                              reach=reading.reach, margin=reading.margin)
    tmp = folder / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / CONFIG_FILE)
    return folder / CONFIG_FILE


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True, help="an index of the sample corpus")
    ap.add_argument("--reader", default=None, help="a reader folder (default: the shipped one)")
    ap.add_argument("--depth", type=int, default=None, help="units the reader reads (default: the reader's)")
    ap.add_argument("--weight", type=float, default=None, help="combination weight (default: the reader's)")
    ap.add_argument("--families", default=None, help="comma-separated families the reader reads for (default: the reader's)")
    ap.add_argument("--reach", type=float, default=None, help="read units within this of the ranker's best (default: the reader's)")
    ap.add_argument("--margin", type=float, default=None, help="read nothing past this lead of the ranker's best (default: the reader's)")
    ap.add_argument("--fit", action="store_true", help="choose the weight, families, reach and margin on the training splits")
    ap.add_argument("--apply", action="store_true", help="with --fit: write them into the reader's reader.json")
    ap.add_argument("--backend", default="onnx-int8", help="the reader's backend: onnx-int8 (the app's) or torch")
    ap.add_argument("--tiny", action="store_true", help="a few questions (CI smoke run)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.apply and not args.fit:
        ap.error("--apply needs --fit")
    from qa.reader import DEFAULT_DIR, Reader

    folder = Path(args.reader or DEFAULT_DIR)
    reader = Reader(folder, backend=args.backend)
    depth = args.depth or reader.depth
    t0 = time.time()
    rows = collect(args.index, reader, depth=depth, limit=12 if args.tiny else None)
    seconds = time.time() - t0
    train = [r for r in rows if r.split in TRAIN_SPLITS]
    if args.fit:
        weight, families = fit_combination(train)
        reading = fit_reading(train, weight, families, depth)
    else:
        weight = args.weight if args.weight is not None else reader.weight
        families = tuple(args.families.split(",")) if args.families is not None else reader.config.families
        reading = Reading(depth, args.reach if args.reach is not None else reader.reach,
                          args.margin if args.margin is not None else reader.margin)
    families = tuple(f for f in families if f)
    result = {"questions": len(rows), "depth": depth, "weight": weight, "families": list(families),
              "reach": reading.reach, "margin": reading.margin, "seconds": round(seconds, 1),
              "rows": table_rows(rows, weight, families, reading),
              "read_all": table_rows(rows, weight, families),
              "leave_one_split_out": leave_one_split_out(rows) if args.fit else []}
    if args.apply:
        result["applied"] = str(apply(folder, weight, depth, families, reading))
    if args.json:
        print(json.dumps(result))
    else:
        print(markdown(result["rows"], weight))
        print(f"\nthe reader reads for: {', '.join(families) or 'every question'} (depth {depth}, reach {reading.reach}, "
              f"margin {reading.margin})")
        print("\nreading all the best {depth} units instead:".format(depth=depth))
        print(markdown(result["read_all"], weight))
        for r in result["leave_one_split_out"]:
            print(f"without {r['held_out']} (n={r['n']}): weight {r['weight']:g}, families {','.join(r['families'])}, "
                  f"reach {r['reach']}, margin {r['margin']}: rank-1 ranker {r['ranker']:.3f} -> combined "
                  f"{r['combined']:.3f} (bounded reading {r['combined_bounded']:.3f})")
        if args.apply:
            print(f"written to {result['applied']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
