"""Tests for lab.study.trial_pnl: a trial's model traded on the validation bars, its daily P&L kept."""

from __future__ import annotations

import math

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from lab.backtest.metrics import daily_pnl
from lab.config import LabConfig, StrategyConfig
from lab.errors import LabError
from lab.features.strategy_sets import breakout_features
from lab.models.boosters import predict_proba
from lab.strategies import backtest_strategy
from lab.study.trial_pnl import TrialTrader, daily_sharpe, strategy_for_target
from tests.lab.backtest.synthetic import year_of_data

FEATURES = ["f0", "f1"]


@pytest.fixture(scope="module")
def month():
    bars, minutes = year_of_data(seed=31, start="2023-01-01", end="2023-02-28", step_ticks=2, jump_rate=0.01)
    rng = np.random.default_rng(0)
    bars = bars.assign(f0=rng.standard_normal(len(bars)), f1=rng.standard_normal(len(bars)))
    quiet = bars["session"] < bars["session"].unique()[5]
    bars.loc[quiet, FEATURES] = 0.0  # the first five sessions: P(up) at its base rate, no signal, no trade
    return pd.concat([bars, breakout_features(bars)], axis=1), minutes


@pytest.fixture(scope="module")
def booster(month):
    bars, _ = month
    rng = np.random.default_rng(1)
    y = (bars["f0"].to_numpy() + 0.5 * rng.standard_normal(len(bars)) > 0).astype(float)
    return lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 0},
                     lgb.Dataset(bars[FEATURES].to_numpy(), y), num_boost_round=20)


def test_strategy_for_target_takes_the_configured_strategy_when_it_fits_else_the_first_that_does():
    assert strategy_for_target("direction", "target_12bar") == "direction"
    assert strategy_for_target("mean_reversion", "target_vol") == "mean_reversion"
    assert strategy_for_target("direction", "target_vol") == "breakout"
    assert strategy_for_target("breakout", "target_trade") == "direction"
    with pytest.raises(LabError, match="no strategy takes a model of 'target_x'"):
        strategy_for_target("direction", "target_x")


def test_trial_trader_daily_pnl_is_the_engine_backtest_of_every_bar_every_session_present(month, booster):
    bars, minutes = month
    config = LabConfig()
    outcome = TrialTrader(config, bars, minutes, FEATURES, "target_6bar")(booster)
    probability = pd.Series(predict_proba(booster, bars[FEATURES]), index=bars.index)
    reference = backtest_strategy(config, bars, minutes, probability=probability)
    expected = daily_pnl(reference.trades, reference.session_dates)
    pd.testing.assert_series_equal(outcome.daily_pnl, expected)
    assert len(outcome.daily_pnl) == bars["session"].nunique() and outcome.trades == len(reference.trades) > 0
    assert (outcome.daily_pnl == 0).any()  # sessions without trades are there, at 0
    assert outcome.total_pnl_usd == pytest.approx(reference.trades["pnl_usd"].sum())
    assert outcome.sharpe_daily == pytest.approx(expected.mean() / expected.std(ddof=1))


def test_trial_trader_trades_a_volatility_model_with_breakout_when_direction_is_configured(month, booster):
    bars, minutes = month
    trader = TrialTrader(LabConfig(strategy=StrategyConfig(name="direction")), bars, minutes, FEATURES, "target_vol")
    assert trader.strategy == "breakout" and trader.config.strategy.name == "breakout"
    outcome = trader(booster)
    probability = pd.Series(predict_proba(booster, bars[FEATURES]), index=bars.index)
    reference = backtest_strategy(trader.config, bars, minutes, volatility_probability=probability,
                                  features=bars[list(breakout_features(bars.iloc[:0]).columns)])
    assert outcome.trades == len(reference.trades)


def test_trial_trader_long_only_for_target_trade(month, booster):
    bars, minutes = month
    trader = TrialTrader(LabConfig(), bars, minutes, FEATURES, "target_trade")
    probability = pd.Series(predict_proba(booster, bars[FEATURES]), index=bars.index)
    reference = backtest_strategy(LabConfig(), bars, minutes, probability=probability, long_only=True)
    assert trader(booster).trades == len(reference.trades)
    assert (reference.trades["side"] == "long").all()


def test_daily_sharpe_is_per_session_and_nan_when_flat():
    assert daily_sharpe(np.array([1.0, 3.0])) == pytest.approx(2.0 / math.sqrt(2.0))
    assert math.isnan(daily_sharpe(np.zeros(5))) and math.isnan(daily_sharpe(np.array([1.0])))


def test_trial_trader_refuses_an_empty_window(month):
    bars, minutes = month
    with pytest.raises(LabError, match="validation window holds no bars"):
        TrialTrader(LabConfig(), bars.iloc[:0], minutes, FEATURES, "target_6bar")
