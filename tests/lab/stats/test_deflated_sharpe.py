"""Tests for lab.stats.deflated_sharpe: the published example, hand-computable cases and the units."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm, skew, kurtosis

from lab.errors import LabError
from lab.stats import (deflated_sharpe_ratio, expected_max_sharpe, null_sharpe_variance, probabilistic_sharpe_ratio,
                       sharpe_moments, study_deflated_sharpe)


def test_deflated_sharpe_ratio_matches_the_published_worked_example():
    # Bailey and Lopez de Prado (2014): N = 100, T = 1250, annualised SR 2.5 and variance 0.5 (250 days a year),
    # skewness -3, kurtosis 10 -> DSR about 0.90
    dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, 100, 0.5 / 250, skewness=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.900, abs=0.002)


def test_deflated_sharpe_ratio_mixing_units_moves_far_from_the_published_value():
    daily_sr, daily_var = 2.5 / math.sqrt(250), 0.5 / 250
    assert deflated_sharpe_ratio(daily_sr, 1250, 100, 0.5, skewness=-3.0, kurtosis=10.0) < 0.01  # annual variance
    assert deflated_sharpe_ratio(2.5, 1250, 100, daily_var * 250, skewness=-3.0, kurtosis=10.0) > 0.999  # annual SR
    with pytest.raises(LabError, match="is the kurtosis non-excess and the SR per period"):
        deflated_sharpe_ratio(2.5, 1250, 100, 0.5, skewness=3.0, kurtosis=3.0)  # 1 - 3 * 2.5 + ... < 0


def test_probabilistic_sharpe_ratio_normal_case_by_hand():
    # SR 0.1 per day over 101 days, normal returns: z = 0.1 * 10 / sqrt(1 + 2/4 * 0.01) = 0.99751
    assert probabilistic_sharpe_ratio(0.1, 101) == pytest.approx(norm.cdf(1.0 / math.sqrt(1.005)))
    assert probabilistic_sharpe_ratio(0.1, 101, benchmark=0.1) == pytest.approx(0.5)


def test_expected_max_sharpe_by_hand_and_one_trial_is_not_deflated():
    g = 0.5772156649015329
    by_hand = 0.1 * ((1 - g) * norm.ppf(1 - 1 / 10) + g * norm.ppf(1 - 1 / (10 * math.e)))
    assert expected_max_sharpe(10, 0.01) == pytest.approx(by_hand)
    assert expected_max_sharpe(1, 0.01) == 0.0
    assert deflated_sharpe_ratio(0.1, 101, 1, 0.5) == pytest.approx(probabilistic_sharpe_ratio(0.1, 101))
    with pytest.raises(LabError, match="n_trials = 0"):
        expected_max_sharpe(0, 0.01)


def test_deflated_sharpe_ratio_falls_as_trials_grow():
    values = [deflated_sharpe_ratio(0.15, 250, n, 1 / 249) for n in (1, 10, 100, 1000)]
    assert values == sorted(values, reverse=True) and values[0] > 0.98 > values[-1]


@pytest.mark.slow
def test_expected_max_sharpe_approximates_the_simulated_maximum_of_noise():
    rng = np.random.default_rng(3)
    t, n = 250, 100
    sharpes = sharpe_moments(rng.standard_normal((400, t, n)).transpose(1, 0, 2).reshape(t, -1))["sharpe"]
    simulated = sharpes.reshape(400, n).max(axis=1).mean()
    assert expected_max_sharpe(n, null_sharpe_variance(t)) == pytest.approx(simulated, rel=0.05)


def test_sharpe_moments_agree_with_scipy_and_kurtosis_is_not_excess():
    rng = np.random.default_rng(0)
    x = rng.standard_t(5, size=(500, 3))
    moments = sharpe_moments(x)
    np.testing.assert_allclose(moments["skewness"], skew(x, axis=0))
    np.testing.assert_allclose(moments["kurtosis"], kurtosis(x, axis=0, fisher=False))
    np.testing.assert_allclose(moments["sharpe"], x.mean(axis=0) / x.std(axis=0, ddof=1))
    flat = sharpe_moments(np.zeros(10))
    assert math.isnan(flat["sharpe"]) and (flat["skewness"], flat["kurtosis"], flat["periods"]) == (0.0, 3.0, 10)


def test_study_deflated_sharpe_takes_the_best_trial_and_the_variance_of_the_trials_sharpes():
    rng = np.random.default_rng(9)
    pnl = rng.standard_normal((250, 8)) * 100.0
    pnl[:, 5] += 25.0  # the best by Sharpe
    pnl[:, 2] = 0.0  # a trial that never traded has no Sharpe and stays out of V
    study = study_deflated_sharpe(pnl, n_trials=40)
    traded = np.delete(pnl, 2, axis=1)
    kept = traded.mean(axis=0) / traded.std(axis=0, ddof=1)
    sharpes = {k: s for k, s in zip([0, 1, 3, 4, 5, 6, 7], kept)}
    assert study.best == 5 and study.sharpe == pytest.approx(sharpes[5])
    assert study.variance == pytest.approx(np.var(kept, ddof=1)) and study.sharpe_trials == 7
    assert (study.periods, study.n_trials) == (250, 40)
    assert study.kurtosis == pytest.approx(kurtosis(pnl[:, 5], fisher=False))
    assert study.probability == pytest.approx(deflated_sharpe_ratio(
        sharpes[5], 250, 40, np.var(kept, ddof=1), skewness=skew(pnl[:, 5]), kurtosis=kurtosis(pnl[:, 5], fisher=False)))


def test_study_deflated_sharpe_of_flat_trials_is_not_measured_and_identical_trials_are_not_deflated():
    assert math.isnan(study_deflated_sharpe(np.zeros((100, 3)), 3).probability)
    rng = np.random.default_rng(2)
    same = np.repeat(rng.standard_normal((100, 1)) + 0.1, 4, axis=1)
    study = study_deflated_sharpe(same, 4)
    assert study.variance == pytest.approx(0.0, abs=1e-20) and study.expected_max == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(LabError, match="a day without trades is 0"):
        study_deflated_sharpe(np.array([[1.0, np.nan], [0.0, 1.0]]))
