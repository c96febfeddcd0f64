"""Tests for lab.stats.pbo: CSCV on matrices whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.errors import LabError
from lab.stats import logit_histogram_figure, probability_of_backtest_overfitting


def test_pbo_dominant_column_is_never_overfit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((160, 10))
    x[:, 3] += 5.0  # best in every half, in and out of sample
    result = probability_of_backtest_overfitting(x)
    assert result.pbo == 0.0
    assert result.logits == pytest.approx(np.full(math.comb(16, 8), math.log(10 / 11 / (1 / 11))))


def test_pbo_two_trials_that_swap_places_is_one_by_hand():
    # trial 0 wins the first half of the blocks, trial 1 the second: any split that puts a block where
    # one wins in sample hands the out-of-sample to the other... by hand with 2 blocks: IS={0} -> pick 0,
    # OOS block 1 ranks it last; IS={1} -> pick 1, OOS ranks it last: PBO = 1
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    result = probability_of_backtest_overfitting(x, blocks=2, statistic="mean")
    assert result.pbo == 1.0 and result.blocks == 2 and len(result.logits) == 2
    assert result.logits == pytest.approx([math.log(0.5), math.log(0.5)])  # rank 1 of 2: w = 1/3


def test_pbo_pure_noise_is_about_one_half_on_average():
    rng = np.random.default_rng(1)
    values = [probability_of_backtest_overfitting(rng.standard_normal((120, n)), blocks=8).pbo
              for n in (3, 20) for _ in range(60)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.06)


def test_pbo_drops_the_earliest_rows_to_make_equal_blocks_and_lowers_blocks_for_short_matrices():
    rng = np.random.default_rng(2)
    assert probability_of_backtest_overfitting(rng.standard_normal((35, 4)), blocks=16).periods_used == 32
    short = probability_of_backtest_overfitting(rng.standard_normal((9, 4)), blocks=16)
    assert (short.blocks, short.periods_used, len(short.logits)) == (8, 8, math.comb(8, 4))


def test_pbo_refuses_what_it_cannot_measure():
    with pytest.raises(LabError, match="at least 2 periods and 2 trials; got shape"):
        probability_of_backtest_overfitting(np.zeros((10, 1)))
    with pytest.raises(LabError, match="NaN or inf"):
        probability_of_backtest_overfitting(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(LabError, match="even number"):
        probability_of_backtest_overfitting(np.zeros((10, 2)), blocks=5)


def test_logit_histogram_figure_shows_pbo_in_its_title():
    rng = np.random.default_rng(3)
    result = probability_of_backtest_overfitting(rng.standard_normal((64, 6)), blocks=8)
    figure = logit_histogram_figure(result)
    assert f"PBO = {result.pbo:.3f}" in figure.axes[0].get_title()
