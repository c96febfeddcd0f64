"""The three strategies: features (look-ahead free), signal rules, exits, dispatch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.backtest import BacktestInputError, run_backtest
from lab.config import BreakoutConfig, LabConfig, MeanReversionConfig, RulesConfig, StrategyConfig
from lab.errors import DataError
from lab.strategies import backtest_strategy, breakout_signals, build_signals, direction_signals, mean_reversion_signals
from lab.features.strategy_sets import BREAKOUT_FEATURES, MEAN_REVERSION_FEATURES, breakout_features, mean_reversion_features
from tests.lab.backtest.helpers import assert_same_trades, reference_trades
from tests.lab.backtest.synthetic import at, scenario, year_of_data


@pytest.fixture(scope="module")
def quarter():
    """Nov 2022 - Jan 2023 (the early closes of 25 Nov and 23 Dec included)."""
    return year_of_data(seed=21, start="2022-11-01", end="2023-01-31", step_ticks=2, jump_rate=0.01)


def volatility(bars: pd.DataFrame, seed: int) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).uniform(0.0, 1.0, len(bars)), index=bars.index)


# -- direction ---------------------------------------------------------------------------------


def test_direction_signals_thresholds_are_inclusive():
    p = pd.Series([0.60, 0.5999, 0.40, 0.4001, 0.95, np.nan, 0.0])
    s = direction_signals(p, RulesConfig())
    assert s.signal.tolist() == [1, 0, -1, 0, 1, 0, -1]
    assert s.confidence.iloc[2] == pytest.approx(0.60) and s.confidence.iloc[6] == 1.0
    assert (s.exits.profit_target_ticks, s.exits.stop_loss_ticks, s.exits.time_stop_bars) == (6.0, 8.0, 6)


def test_direction_signals_refuses_values_outside_0_1():
    with pytest.raises(BacktestInputError, match=r"probability must lie in \[0, 1\].*1.2"):
        direction_signals(pd.Series([0.5, 1.2]))


# -- breakout ----------------------------------------------------------------------------------


def test_breakout_features_names_ranges_and_clock_flags(quarter):
    bars, _ = quarter
    f = breakout_features(bars)
    assert tuple(f.columns) == BREAKOUT_FEATURES and len(BREAKOUT_FEATURES) == 14
    warm = f.iloc[200:]
    assert not warm.isna().any().any()
    assert warm["range_position"].between(0, 1).all() and warm["atr_percentile"].between(0, 1).all()
    assert set(warm["bb_squeeze"].unique()) <= {0.0, 1.0} and warm["consolidation_score"].between(0, 1).all()
    assert f.loc[at("2022-11-02", "09:55"), "is_opening_range"] == 1.0
    assert f.loc[at("2022-11-02", "10:00"), "is_opening_range"] == 0.0
    assert f.loc[at("2022-11-02", "15:30"), "is_pre_close"] == 1.0
    assert f.loc[at("2022-11-25", "12:30"), "is_pre_close"] == 1.0  # early close at 13:00


def test_breakout_features_use_only_past_bars(quarter):
    bars, _ = quarter
    full = breakout_features(bars)
    cut = 1500
    part = breakout_features(bars.iloc[:cut])
    pd.testing.assert_frame_equal(part, full.iloc[:cut], check_exact=False, rtol=1e-9, atol=1e-12)


def test_breakout_signals_rule():
    index = pd.date_range("2023-03-01 10:00", periods=6, freq="5min", tz="America/New_York")
    bars = pd.DataFrame(index=index)
    features = pd.DataFrame(
        {"consolidation_score": [0.7, 0.7, 0.7, 0.5, 0.7, 0.7], "range_position": [0.2, 0.8, 0.5, 0.2, 0.2, 0.9]},
        index=index,
    )
    vol = pd.Series([0.6, 0.8, 0.9, 0.9, 0.4, np.nan], index=index)
    s = breakout_signals(bars, vol, BreakoutConfig(), features=features)
    assert s.signal.tolist() == [1, -1, 0, 0, 0, 0]
    assert s.confidence.iloc[1] == 0.8 and s.name == "breakout"
    assert (s.exits.profit_target_ticks, s.exits.stop_loss_ticks, s.exits.time_stop_bars) == (6.0, 8.0, 6)


def test_breakout_signals_refuse_misaligned_probability(quarter):
    bars, _ = quarter
    with pytest.raises(BacktestInputError, match="volatility_probability is not aligned to the bars"):
        breakout_signals(bars, volatility(bars, 1).iloc[5:])


def test_breakout_backtest_matches_the_reference(quarter):
    bars, minutes = quarter
    config = BreakoutConfig(min_consolidation_score=0.4, min_volatility_probability=0.3)
    signals = breakout_signals(bars, volatility(bars, 2), config)
    assert (signals.signal != 0).sum() > 100
    result = run_backtest(bars, signals, minutes)
    assert len(result.trades) > 50
    assert_same_trades(result.trades, reference_trades(bars, minutes, signals))


# -- mean reversion ----------------------------------------------------------------------------


def test_mean_reversion_features_names_and_past_only(quarter):
    bars, _ = quarter
    full = mean_reversion_features(bars)
    assert tuple(full.columns) == MEAN_REVERSION_FEATURES
    assert full.iloc[50:]["mr_rsi_7"].between(0, 100).all()
    assert full.loc[at("2022-11-02", "10:25"), "mr_is_midday"] == 0.0
    assert full.loc[at("2022-11-02", "10:30"), "mr_is_midday"] == 1.0
    assert full.loc[at("2022-11-02", "15:00"), "mr_is_midday"] == 0.0
    part = mean_reversion_features(bars.iloc[:1000])
    pd.testing.assert_frame_equal(part, full.iloc[:1000], check_exact=False, rtol=1e-9, atol=1e-12)


def test_mean_reversion_signals_rule_and_exit_flag():
    index = pd.date_range("2023-03-01 11:00", periods=6, freq="5min", tz="America/New_York")
    features = pd.DataFrame(
        {
            "mr_rsi_7": [25.0, 75.0, 25.0, 25.0, 25.0, 50.0],
            "mr_ema21_deviation_pct": [-0.4, 0.4, -0.1, -0.4, -0.4, 0.0],
            "mr_is_midday": [1.0, 1.0, 1.0, 1.0, 0.0, 1.0],
        },
        index=index,
    )
    vol = pd.Series([0.3, 0.1, 0.3, 0.45, 0.3, 0.6], index=index)
    s = mean_reversion_signals(pd.DataFrame(index=index), vol, MeanReversionConfig(), features=features)
    assert s.signal.tolist() == [1, -1, 0, 0, 0, 0]
    assert s.confidence.iloc[1] == pytest.approx(0.9)
    assert s.exit_signal.tolist() == [False, False, False, False, False, True]
    assert s.exit_signal_reason == "volatility"
    assert (s.exits.profit_target_ticks, s.exits.stop_loss_ticks, s.exits.time_stop_bars) == (4.0, 4.0, 3)
    relaxed = mean_reversion_signals(
        pd.DataFrame(index=index), vol, MeanReversionConfig(skip_first_and_last_hour=False, exit_on_high_volatility=False),
        features=features,
    )
    assert relaxed.signal.tolist() == [1, -1, 0, 0, 1, 0] and not relaxed.exit_signal.any()


def test_mean_reversion_high_volatility_exit_at_the_next_open():
    quiet = (4000.0, 4000.0, 4000.0, 4000.0)
    bars, minutes = scenario("2023-03-01", [("11:00", *quiet), ("11:05", *quiet), ("11:10", 4000.5, 4000.5, 4000.5, 4000.5)])
    features = pd.DataFrame(
        {"mr_rsi_7": 50.0, "mr_ema21_deviation_pct": 0.0, "mr_is_midday": 1.0}, index=bars.index
    )
    features.loc[at("2023-03-01", "11:00"), ["mr_rsi_7", "mr_ema21_deviation_pct"]] = (20.0, -0.5)
    vol = pd.Series(0.3, index=bars.index)
    vol[at("2023-03-01", "11:05")] = 0.7
    signals = mean_reversion_signals(bars, vol, features=features)
    (trade,) = run_backtest(bars, signals, minutes).trades.itertuples()
    assert trade.entry_time == at("2023-03-01", "11:05") and trade.side == "long"
    assert trade.exit_reason == "volatility" and trade.exit_time == at("2023-03-01", "11:10")
    assert trade.exit_price == 4000.25 and trade.contracts == 2  # confidence 0.7 -> full size
    assert trade.probability == 0.3


# -- dispatch ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["direction", "breakout", "mean_reversion"])
def test_backtest_strategy_runs_each_strategy(quarter, name):
    bars, minutes = quarter
    config = LabConfig(strategy=StrategyConfig(name=name))
    p = pd.Series(np.random.default_rng(4).uniform(0.2, 0.8, len(bars)), index=bars.index)
    result = backtest_strategy(config, bars, minutes, probability=p, volatility_probability=volatility(bars, 5))
    assert result.settings["strategy"] == name and result.diagnostics["bars"] == len(bars)


def test_build_signals_refuses_missing_probabilities(quarter):
    bars, _ = quarter
    with pytest.raises(BacktestInputError, match="strategy 'direction' needs probability="):
        build_signals(StrategyConfig(name="direction"), bars)
    with pytest.raises(BacktestInputError, match="strategy 'breakout' needs volatility_probability="):
        build_signals(StrategyConfig(name="breakout"), bars, probability=volatility(bars, 1))


def test_breakout_features_refuse_bars_without_volume(quarter):
    bars, _ = quarter
    with pytest.raises(DataError, match=r"breakout_features needs bar column\(s\) volume"):
        breakout_features(bars.drop(columns="volume"))


def test_direction_signals_long_only_drops_shorts_for_target_trade_models():
    from lab.strategies import long_only_for_target

    p = pd.Series([0.65, 0.2, 0.5, 0.75])
    both = direction_signals(p, RulesConfig())
    longs = direction_signals(p, RulesConfig(), long_only=True)
    assert both.signal.tolist() == [1, -1, 0, 1] and longs.signal.tolist() == [1, 0, 0, 1]
    assert long_only_for_target("target_trade") and not long_only_for_target("target_6bar")


def test_backtest_strategy_long_only_trades_no_short(quarter):
    bars, minutes = quarter
    p = pd.Series(np.random.default_rng(6).uniform(0.2, 0.8, len(bars)), index=bars.index)
    config = LabConfig()
    both = backtest_strategy(config, bars, minutes, probability=p).trades
    longs = backtest_strategy(config, bars, minutes, probability=p, long_only=True).trades
    assert (both["side"] == "short").any() and (longs["side"] == "long").all() and len(longs) > 20
    # the same trades as masking P(up) below 0.5, which jobs/backtest.py did before the rule moved here
    pd.testing.assert_frame_equal(longs, backtest_strategy(config, bars, minutes, probability=p.where(p >= 0.5)).trades)
