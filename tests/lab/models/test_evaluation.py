"""Tests for lab.evaluation: metric values, calibration bins, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn import metrics as skm

from lab.errors import LabError
from lab.models.evaluation import (
    METRIC_NAMES,
    accuracy,
    brier_score,
    classification_metrics,
    expected_calibration_error,
    log_loss,
    reliability_table,
    ranking_auc,
    roc_auc,
)
from lab.plots.models import reliability_figure


@pytest.fixture
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(float)
    return y, p


def test_classification_metrics_match_sklearn(sample) -> None:
    y, p = sample
    got = classification_metrics(y, p)
    assert tuple(got) == METRIC_NAMES
    assert all(isinstance(v, float) for v in got.values())
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, p >= 0.5))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p))
    assert got["brier_score"] == pytest.approx(skm.brier_score_loss(y, p))


def test_expected_calibration_error_hand_computed_value() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    # bins 1, 4, 3, 8 each hold one row: gaps 0.1, 0.4, 0.65, 0.2
    assert expected_calibration_error(y, p) == pytest.approx((0.1 + 0.4 + 0.65 + 0.2) / 4)


def test_expected_calibration_error_is_small_for_calibrated_and_large_for_overconfident(sample) -> None:
    y, p = sample
    assert expected_calibration_error(y, p) < 0.03
    overconfident = np.where(p >= 0.5, 0.99, 0.01)
    assert expected_calibration_error(y, overconfident) > 0.2


def test_expected_calibration_error_equals_weighted_gap_of_reliability_table(sample) -> None:
    y, p = sample
    table = reliability_table(y, p)
    filled = table[table["count"] > 0]
    weighted = ((filled["mean_predicted"] - filled["observed_frequency"]).abs() * filled["count"]).sum() / len(y)
    assert expected_calibration_error(y, p) == pytest.approx(weighted)


def test_reliability_table_has_ten_equal_width_bins_with_empty_ones() -> None:
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.0, 0.05, 0.55, 0.95, 1.0])
    table = reliability_table(y, p)
    assert list(table.columns) == ["bin", "bin_lower", "bin_upper", "mean_predicted", "observed_frequency", "count"]
    assert len(table) == 10
    assert np.allclose(table["bin_lower"], np.arange(10) / 10)
    assert table["count"].tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]  # p == 1 falls in the last bin
    assert np.isnan(table.loc[1, "mean_predicted"]) and np.isnan(table.loc[1, "observed_frequency"])
    assert table.loc[9, "mean_predicted"] == pytest.approx(0.975)
    assert table.loc[9, "observed_frequency"] == pytest.approx(0.5)


def test_roc_auc_single_class_raises() -> None:
    with pytest.raises(LabError, match="AUC is undefined: all 3 labels are 1"):
        roc_auc(np.ones(3), np.array([0.2, 0.5, 0.9]))


def test_metrics_bad_inputs_raise() -> None:
    with pytest.raises(LabError, match=r"labels \(3\) and probabilities \(2\) differ in length"):
        accuracy(np.array([0, 1, 0]), np.array([0.1, 0.2]))
    with pytest.raises(LabError, match="labels hold 1 NaN values"):
        log_loss(np.array([0, np.nan]), np.array([0.1, 0.2]))
    with pytest.raises(LabError, match=r"probabilities must lie in \[0, 1\]; found 1.5"):
        brier_score(np.array([0, 1]), np.array([0.1, 1.5]))
    with pytest.raises(LabError, match="labels must be 0 or 1; found 2.0"):
        brier_score(np.array([0, 2]), np.array([0.1, 0.5]))
    with pytest.raises(LabError, match="n_bins = 0 must be a positive whole number"):
        reliability_table(np.array([0, 1]), np.array([0.1, 0.5]), n_bins=0)


def test_log_loss_is_finite_for_certain_wrong_predictions() -> None:
    assert np.isfinite(log_loss(np.array([1.0, 0.0]), np.array([0.0, 1.0])))


def test_reliability_figure_draws_diagram(sample, tmp_path) -> None:
    y, p = sample
    fig = reliability_figure(reliability_table(y, p))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fig.savefig(tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").stat().st_size > 0



@pytest.mark.parametrize("seed", range(12))
def test_ranking_auc_is_scikit_learns_auc_with_and_without_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    positive = rng.random(n) < rng.uniform(0.05, 0.95)
    positive[:2] = [True, False]  # both classes
    scores = rng.normal(positive * rng.uniform(0, 1), 1.0)
    if seed % 2:  # few distinct values: the early rounds of a booster, many ties
        scores = np.round(scores, 0)
    assert ranking_auc(scores, positive) == pytest.approx(skm.roc_auc_score(positive, scores), abs=1e-12)
