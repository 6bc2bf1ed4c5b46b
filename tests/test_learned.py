"""The learned answer model (qa.learned): the bundled file, its validation, and fitting it end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.learned import (
    ANSWER_FEATURES,
    DEFAULT_PATH,
    UNIT_FEATURES,
    AnswerModel,
    LinearModel,
    balanced_threshold,
    default_answer_model,
    fit_linear,
    fit_pairwise,
    load_answer_model,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_bundled_model_loads_and_was_fitted_on_the_tuning_splits_only() -> None:
    m = default_answer_model()
    assert m.ranker.features == UNIT_FEATURES and m.answerable.features == ANSWER_FEATURES
    assert 0.5 <= m.threshold < 0.9 and m.embedding_model.endswith("all-MiniLM-L6-v2")
    assert "tune, tune2, fresh, fresh2" in m.trained_on and "heldout" not in m.trained_on and "fresh3" not in m.trained_on
    # what the model learned: answer-type evidence raises a unit's rank and the answerability
    assert dict(zip(m.ranker.features, m.ranker.coef))["typed"] > 0
    assert dict(zip(m.answerable.features, m.answerable.coef))["typed"] > 0
    assert load_answer_model(DEFAULT_PATH) == m


def test_linear_model_validates_and_scores() -> None:
    m = LinearModel(("a", "b"), (1.0, 0.0), (2.0, 1.0), (2.0, -1.0), 0.5)
    assert m.logit(np.array([[3.0, 1.0]])) == pytest.approx([0.5 + 2.0 * 1.0 - 1.0])
    assert m.prob(np.array([[1.0, 0.0]])) == pytest.approx([1 / (1 + np.exp(-0.5))])
    assert m.contributions([3.0, 1.0]) == pytest.approx({"a": 2.0, "b": -1.0})
    with pytest.raises(ValueError, match="feature columns"):
        m.logit(np.zeros((1, 3)))
    for bad in ({"coef": (1.0,)}, {"scale": (0.0, 1.0)}, {"intercept": float("nan")}):
        kw = {"features": ("a", "b"), "mean": (0.0, 0.0), "scale": (1.0, 1.0), "coef": (1.0, 1.0), "intercept": 0.0} | bad
        with pytest.raises(ValueError):
            LinearModel(**kw)  # type: ignore[arg-type]


def test_answer_model_files_round_trip_and_bad_ones_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    default_answer_model().save(path)
    assert load_answer_model(path) == default_answer_model() and not (tmp_path / "m.json.tmp").exists()
    d = json.loads(path.read_text())
    d["ranker"]["features"] = d["ranker"]["features"][::-1]
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="do not match"):
        load_answer_model(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read answer model"):
        load_answer_model(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_answer_model(tmp_path / "missing.json")
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="format version"):
        load_answer_model(path)
    with pytest.raises(ValueError, match="threshold"):
        AnswerModel(default_answer_model().ranker, default_answer_model().answerable, float("inf"))


def test_fit_linear_learns_the_separating_direction() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    m = fit_linear(x, y, ("signal", "noise"))
    assert m.coef[0] > 3 * abs(m.coef[1])
    assert ((m.prob(x) >= 0.5) == y.astype(bool)).mean() > 0.95
    with pytest.raises(ValueError, match="positive and negative"):
        fit_linear(x, np.ones(200), ("signal", "noise"))


def test_fit_pairwise_ranks_the_answering_row_first_within_each_group() -> None:
    rng = np.random.default_rng(1)
    groups = []
    for _ in range(40):
        x = rng.normal(size=(8, 2)) + rng.normal() * 5  # a per-group offset that a point-wise model would chase
        y = [0] * 8
        y[int(np.argmax(x[:, 0] + 0.1 * rng.normal(size=8)))] = 1
        groups.append((x, y))
    m = fit_pairwise(groups, ("signal", "noise"))
    assert m.intercept == 0.0 and m.coef[0] > 3 * abs(m.coef[1])
    assert np.mean([y[int(np.argmax(m.logit(x)))] for x, y in groups]) > 0.8
    with pytest.raises(ValueError, match="rows that answer"):
        fit_pairwise([(np.zeros((3, 2)), [0, 0, 0])], ("signal", "noise"))


def test_balanced_threshold_weighs_both_labels_alike() -> None:
    rng = np.random.default_rng(2)
    # 90 negatives around -1, 10 positives around +1: a threshold for accuracy alone would refuse nearly all
    x = np.r_[rng.normal(-1, 0.7, 90), rng.normal(1, 0.7, 10)][:, None]
    y = [0] * 90 + [1] * 10
    t = balanced_threshold(x, y)
    m = fit_linear(x, y, ("s",))
    p = m.prob(x)
    assert np.mean(p[90:] >= t) >= 0.8 and np.mean(p[:90] < t) >= 0.8
    with pytest.raises(ValueError, match="two examples"):
        balanced_threshold(x[:11], [0] * 10 + [1])


@pytest.mark.tier2  # scripts/fit_answer_model.py end to end
def test_fit_answer_model_script_runs_tiny(sample_index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """scripts/fit_answer_model.py end to end on 3 questions of each kind (so a refactor cannot break it unseen)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import fit_answer_model

    out = tmp_path / "model.json"
    assert fit_answer_model.main(["--index", str(sample_index), "--splits", "tune", "--limit", "3", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["questions"] == 15 and report["units"] > 100 and report["train_top1"] >= 0.5
    model = load_answer_model(out)
    assert "tune (15 questions)" in model.trained_on
    assert fit_answer_model.main(["--index", str(sample_index), "--splits", "nope", "--out", str(out)]) == 2
    assert "unknown split" in capsys.readouterr().err
    before = out.read_bytes()
    assert fit_answer_model.main(["--index", str(tmp_path / "no-index"), "--splits", "tune", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fit_answer_model: ") and err.count("\n") == 1 and out.read_bytes() == before
    assert fit_answer_model.main(["--index", str(sample_index), "--c", "0", "--out", str(out)]) == 2
    capsys.readouterr()
    before = out.read_bytes()
    assert fit_answer_model.main(["--index", str(sample_index), "--splits", "tune", "--limit", "3", "--cv",
                                  "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[2].startswith("| 3-fold | 15 |") and out.read_bytes() == before  # --cv writes no model


def _synthetic_examined(seed: int = 0) -> list:
    """Two splits of questions over made-up units: answerable ones have one evidence unit that
    scores higher on the first feature; unanswerable and off-topic ones have none."""
    from qa.answer_eval import AnswerCase
    from qa.answer_fit import Examined

    rng = np.random.default_rng(seed)
    out = []
    for split in ("a", "b"):
        for n, kind in enumerate(["why_how"] * 8 + ["unanswerable"] * 4 + ["offtopic"] * 3):
            units = rng.normal(0, 1, (6, len(UNIT_FEATURES)))
            labels = np.zeros(6, dtype=int)
            if kind == "why_how":
                labels[2] = 1
                units[2, 0] += 2.5
            case = AnswerCase(f"{split}{n}", f"q {split}{n}", ("e",) if kind == "why_how" else (), kind, split)
            out.append(Examined(case, units, labels, 0.0, 0.0, True))
    return out


def test_cross_validation_scores_each_question_with_a_model_that_never_saw_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.answer_fit as answer_fit

    examined = _synthetic_examined()
    fitted_on: list[set[str]] = []
    real_fit = answer_fit.fit_examined

    def recording_fit(part, **kwargs):  # type: ignore[no-untyped-def]
        fitted_on.append({e.case.id for e in part})
        return real_fit(part, **kwargs)

    scored_with: list[tuple[set[str], list[str]]] = []
    real_score = answer_fit._score

    def recording_score(ex, train, test, c):  # type: ignore[no-untyped-def]
        out = real_score(ex, train, test, c)
        scored_with.append((fitted_on[-1], [ex[i].case.id for i in test]))
        return out

    monkeypatch.setattr(answer_fit, "fit_examined", recording_fit)
    monkeypatch.setattr(answer_fit, "_score", recording_score)
    rows = answer_fit.cross_validate(examined, seeds=(0,))
    assert [r.scheme for r in rows] == ["5-fold", "without a", "without b"]
    assert rows[0].questions == 30 and rows[1].questions == rows[2].questions == 15
    for train_ids, test_ids in scored_with:
        assert train_ids and not train_ids & set(test_ids)  # never scored by a model fitted on it
    assert {i for _, test in scored_with[:5] for i in test} == {e.case.id for e in examined}  # k-fold covers all
    assert all(i.startswith("a") for i in scored_with[5][1]) and all(i.startswith("b") for i in scored_with[5][0])
    for r in rows:  # the evidence unit stands out, so the ranker finds it and answers are mostly given
        assert r.top1 >= 0.75 and 0.0 <= r.right <= r.answered <= 1.0 and 0.0 <= r.refused_unanswerable <= 1.0

