"""Tests for registry.deflated: the study's statistics on its P&L matrix, as the tune run logs them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lab.stats import probability_of_backtest_overfitting, spa_pvalue, study_deflated_sharpe
from registry.deflated import STUDY_METRICS, one_strategy_sentence, study_statistics


def _study(matrix: np.ndarray) -> pd.DataFrame:
    dates = pd.bdate_range("2023-01-02", periods=len(matrix), name="date")
    return pd.DataFrame(matrix, index=dates, columns=[f"trial_{3 * k}" for k in range(matrix.shape[1])])


def test_study_statistics_are_the_papers_statistics_of_the_matrix_with_their_inputs():
    rng = np.random.default_rng(4)
    pnl = rng.standard_normal((250, 6)) * 80.0
    pnl[:, 4] += 20.0
    stats = study_statistics(_study(pnl), n_trials=30, seed=2)
    assert set(STUDY_METRICS) <= set(stats)
    assert stats["pbo"] == probability_of_backtest_overfitting(pnl, blocks=16, statistic="sharpe").pbo
    assert stats["spa_pvalue"] == spa_pvalue(pnl, 0.0, reps=1000, seed=2)
    dsr = study_deflated_sharpe(pnl, 30)
    assert stats["deflated_sharpe_prob"] == pytest.approx(dsr.probability)
    assert stats["trial_sharpe_variance"] == pytest.approx(dsr.variance)
    assert stats["best_trial_number"] == 12.0  # column 4 is trial_12
    assert (stats["study_sessions"], stats["study_trials"], stats["pbo_blocks"], stats["pbo_sessions_used"],
            stats["spa_reps"], stats["deflated_sharpe_trials"]) == (250, 6, 16, 240, 1000, 30)
    assert stats["spa_block_length"] == pytest.approx(250 ** (1 / 3))
    assert one_strategy_sentence(stats) == ""


def test_study_statistics_of_one_model_or_no_trades_refuse_in_one_sentence():
    rng = np.random.default_rng(5)
    same = np.repeat(rng.standard_normal((250, 1)), 4, axis=1)
    stats = study_statistics(_study(same), n_trials=4)
    assert stats["pbo"] == 1.0 and stats["study_distinct_trials"] == 1
    assert "all 4 trials of the study earned the same daily P&L (one model)" in one_strategy_sentence(stats)
    flat = study_statistics(_study(np.zeros((250, 3))), n_trials=3)
    assert flat["pbo"] == 1.0 and flat["spa_pvalue"] == 1.0 and math.isnan(flat["deflated_sharpe_prob"])
    assert one_strategy_sentence(flat).startswith("none of the study's 3 trials traded")
