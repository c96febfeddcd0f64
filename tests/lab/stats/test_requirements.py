"""Weak results said plainly: windows too short for the study statistics, constant models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.stats.requirements import (FULL_PBO_SESSIONS, constant_predictions_warning, study_statistics_cause,
                                    study_window_warning, window_span)


def test_study_window_warning_names_the_minimum_in_sessions():
    line = study_window_warning(2, 1)
    assert line.startswith("the validation window holds 2 sessions (1 week): the study's SPA test needs at least 3 "
                           "sessions of daily P&L and PBO at least 2 (16 for its 16 blocks)")
    assert "gate refuses (spa_pvalue not measured)" in line
    assert "pbo" not in line.split("refuses")[1].split(")")[0]  # two sessions are enough for PBO
    assert study_window_warning(FULL_PBO_SESSIONS, 4) is None


def test_study_window_warning_between_minimum_and_full_strength_says_pbo_is_weak():
    assert "PBO is measured on fewer blocks" in study_window_warning(8, 2)


def test_study_statistics_cause_is_none_for_runs_without_the_counts():
    assert study_statistics_cause("pbo", None, 5) is None
    assert study_statistics_cause("pbo", float("nan"), 5) is None


def test_constant_predictions_warning_only_for_one_value():
    assert constant_predictions_warning(np.array([0.4, 0.6])) is None
    assert constant_predictions_warning(np.array([])) is None
    assert "predicts 0.5000 for all 2 validation rows" in constant_predictions_warning(np.array([0.5, 0.5]))


def test_window_span_counts_sessions_and_monday_weeks():
    index = pd.date_range("2024-01-05 09:30", "2024-01-09 15:55", freq="5min", tz="America/New_York")
    index = index[index.day_of_week < 5]
    assert window_span(pd.DataFrame(index=index)) == (3, 2)
    assert window_span(pd.DataFrame(index=index[:0])) == (0, 0)
