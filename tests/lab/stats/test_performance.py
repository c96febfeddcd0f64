"""Tests for lab.stats.performance: per-week AUC."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

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
