"""The strategy features moved from lab.strategies to lab.strategy_features with identical values.

A one-commit check of the move (the old functions are deleted in the next commit)."""

from __future__ import annotations

import pandas as pd

from lab import strategy_features
from lab.strategies import breakout, mean_reversion
from tests.lab.backtest.synthetic import year_of_data


def test_moved_strategy_features_equal_the_old_ones_exactly():
    bars, _ = year_of_data(seed=21, start="2022-11-01", end="2023-01-31", step_ticks=2, jump_rate=0.01)
    pd.testing.assert_frame_equal(strategy_features.breakout_features(bars), breakout.breakout_features(bars),
                                  check_exact=True)
    pd.testing.assert_frame_equal(strategy_features.mean_reversion_features(bars),
                                  mean_reversion.mean_reversion_features(bars), check_exact=True)
    assert strategy_features.BREAKOUT_FEATURES == breakout.BREAKOUT_FEATURES
    assert strategy_features.MEAN_REVERSION_FEATURES == mean_reversion.MEAN_REVERSION_FEATURES
