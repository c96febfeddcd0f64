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


def test_pbo_pure_noise_is_about_one_half_on_average_with_an_even_number_of_trials():
    rng = np.random.default_rng(1)
    values = [probability_of_backtest_overfitting(rng.standard_normal((120, n)), blocks=8).pbo
              for n in (4, 20) for _ in range(60)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.06)


def test_pbo_constructed_case_by_hand_is_two_thirds():
    # 4 blocks of one row, trial 1 flat at 0, trial 0 scores 4, 1, -2, -5 (score = mean). The 6 splits:
    # IS {0,1} picks 0, OOS {2,3} sum -7: overfit; IS {0,2} picks 0, OOS -4: overfit; IS {0,3} (sum -1)
    # picks 1, OOS {1,2} -1 < 0: trial 1 better, not overfit; IS {1,2} picks 1, OOS {0,3} -1: not overfit;
    # IS {1,3} picks 1, OOS {0,2} +2: overfit; IS {2,3} picks 1, OOS {0,1} +5: overfit -> PBO 4/6
    x = np.array([[4.0, 0.0], [1.0, 0.0], [-2.0, 0.0], [-5.0, 0.0]])
    result = probability_of_backtest_overfitting(x, blocks=4, statistic="mean")
    assert result.pbo == pytest.approx(4 / 6) and len(result.logits) == 6


def test_pbo_identical_trials_and_flat_trials_are_overfit_not_one_half():
    # logit 0 (the winner at the out-of-sample median) counts as overfit: a study of one model scores 1
    rng = np.random.default_rng(6)
    same = np.repeat(rng.standard_normal((250, 1)), 6, axis=1)
    assert probability_of_backtest_overfitting(same).pbo == 1.0
    assert probability_of_backtest_overfitting(np.zeros((250, 6))).pbo == 1.0
    odd = rng.standard_normal((160, 3))  # an odd N: the median rank itself is overfit, so noise scores above 1/2
    result = probability_of_backtest_overfitting(odd)
    assert result.pbo == pytest.approx(np.mean(result.logits <= 0)) and (result.logits == 0).any()


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


def test_pbo_a_trial_that_never_traded_scores_zero_not_last():
    # a flat trial earned 0: it beats a steadily losing trial in and out of sample, so choosing it is not overfit
    rng = np.random.default_rng(7)
    losing = rng.standard_normal(160) - 1.0
    assert probability_of_backtest_overfitting(np.column_stack([losing, np.zeros(160)])).pbo == 0.0
    winning = rng.standard_normal(160) + 1.0
    assert probability_of_backtest_overfitting(np.column_stack([np.zeros(160), winning])).pbo == 0.0
