"""Tests for lab.stats.performance: per-week AUC."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lab.stats import period_auc, week_starts


def test_week_starts_are_mondays_in_local_time():
    times = pd.DatetimeIndex(["2023-01-02 09:35", "2023-01-06 15:55", "2023-01-09 09:35"]).tz_localize("America/New_York")
    assert [str(d) for d in week_starts(times)] == ["2023-01-02", "2023-01-02", "2023-01-09"]


def test_period_auc_by_hand_and_one_class_week_is_nan():
    y = np.array([0, 1, 0, 1, 1, 1])
    p = np.array([0.2, 0.8, 0.9, 0.1, 0.5, 0.6])
    weeks = np.array(["a", "a", "b", "b", "c", "c"])
    out = period_auc(y, p, weeks)
    assert out["a"] == 1.0 and out["b"] == 0.0 and math.isnan(out["c"])


def test_period_auc_equals_scikit_learn_per_period_with_ties_and_one_class_periods():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(11)
    for _ in range(50):
        n = int(rng.integers(1, 300))
        y = (rng.random(n) < rng.random()).astype(float)
        p = np.round(rng.random(n) * 0.5 + y * rng.random(), int(rng.integers(1, 4)))  # rounding makes ties
        periods = np.array(["2023-01-%02d" % d for d in rng.integers(1, 8, n)])
        out = period_auc(y, p, periods)
        assert list(out) == sorted(set(periods))
        for key, value in out.items():
            rows = periods == key
            if 0 < y[rows].sum() < rows.sum():
                assert value == pytest.approx(roc_auc_score(y[rows], p[rows]), abs=1e-12)
            else:
                assert math.isnan(value)


def test_period_auc_keys_are_iso_dates_of_week_starts():
    times = pd.date_range("2023-01-02 09:30", periods=3000, freq="5min", tz="America/New_York")
    y = np.arange(3000) % 2
    out = period_auc(y, np.linspace(0, 1, 3000), week_starts(times))
    assert list(out)[:2] == ["2023-01-02", "2023-01-09"]
