"""The numba engine and the plain-Python reference give the same trades on a year of random data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lab.backtest import ExitParams, StrategySignals
from lab.config import CostsConfig, RulesConfig
from lab.market.instruments import get_instrument
from lab.strategies import direction_signals
from tests.lab.backtest.helpers import assert_same_trades, random_probability

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [1, 2])
def test_engine_matches_reference_on_a_wild_year(wild_year, run_both, seed):
    bars, minutes = wild_year
    signals = direction_signals(random_probability(bars, seed), RulesConfig())
    result, reference = run_both(bars, minutes, signals)
    assert len(bars) > 19_000 and len(result.trades) > 1_000
    assert_same_trades(result.trades, reference)
    d = result.diagnostics
    # the random data exercises every path the rules have
    assert d["both_barriers_in_bar"] > 0 and d["same_minute_stop"] > 0 and d["gap_stop"] > 0
    assert d["daily_loss_limit_hits"] > 0 and d["loss_pauses"] > 0 and d["refused_after_last_entry"] > 0
    assert set(result.trades["exit_reason"]) >= {"target", "stop", "time", "flatten"}
    assert result.trades["resolved_by_minutes"].sum() == d["both_barriers_in_bar"] - d["unresolved_stop"]


@pytest.mark.parametrize("limit_fill, through_ticks", [("touch", 1), ("through", 2)])
def test_engine_matches_reference_under_the_other_fill_rules(wild_year, run_both, limit_fill, through_ticks):
    bars, minutes = wild_year
    rules = RulesConfig(limit_fill=limit_fill, limit_through_ticks=through_ticks)
    signals = direction_signals(random_probability(bars, 1), rules)
    result, reference = run_both(bars, minutes, signals, rules=rules)
    assert_same_trades(result.trades, reference)
    default = run_both(bars, minutes, signals)[0].trades
    targets = (result.trades["exit_reason"] == "target").sum()
    default_targets = (default["exit_reason"] == "target").sum()
    # touch fills every target one tick through fills, and more; two ticks through fills fewer
    assert targets > default_targets if limit_fill == "touch" else targets < default_targets


def test_through_books_no_target_without_a_minute_a_tick_beyond_it(wild_year):
    from lab.backtest import run_backtest

    bars, minutes = wild_year
    trades = run_backtest(bars, direction_signals(random_probability(bars, 2), RulesConfig()), minutes).trades
    hits = trades[trades["exit_reason"] == "target"]
    assert len(hits) > 500
    for trade in hits.itertuples():
        bar = minutes.loc[trade.exit_time:trade.exit_time + pd.Timedelta(seconds=299)]
        beyond = bar["high"] if trade.side == "long" else -bar["low"]
        target = trade.exit_price if trade.side == "long" else -trade.exit_price
        assert (beyond >= target + 0.25 - 1e-9).any(), f"target booked at {trade.exit_time} without a tick beyond it"


def test_engine_matches_reference_on_a_calm_year_with_reversals(calm_year, run_both):
    bars, minutes = calm_year
    rules = RulesConfig(exit_on_opposite_signal=True, pause_minutes=45, daily_loss_limit_usd=60.0)
    signals = direction_signals(random_probability(bars, 3, missing=0.6), rules)
    result, reference = run_both(bars, minutes, signals, rules=rules)
    assert_same_trades(result.trades, reference)
    assert {"reversal", "time", "flatten"} <= set(result.trades["exit_reason"])
    early = result.trades[result.trades["session"] == pd.Timestamp("2022-11-25")]
    assert not early.empty and early["exit_time"].max() <= pd.Timestamp("2022-11-25 12:55", tz="America/New_York")


def test_engine_matches_reference_with_other_costs_sizes_and_exits(wild_year, run_both):
    bars, minutes = wild_year
    rules = RulesConfig(full_size_contracts=3, max_position_contracts=2, half_size_contracts=1,
                        pause_after_consecutive_losses=2, pause_minutes=10, daily_loss_limit_usd=250.0,
                        last_entry_minutes_before_close=30, flatten_minutes_before_close=10)
    costs = CostsConfig(commission_per_contract_usd=1.24, entry_slippage_ticks=2.0, exit_slippage_ticks=0.0)
    signals = dataclasses.replace(direction_signals(random_probability(bars, 4), rules), exits=ExitParams(10.0, 5.0, 3))
    result, reference = run_both(bars, minutes, signals, rules=rules, costs=costs, instrument=get_instrument("ES"))
    assert_same_trades(result.trades, reference)
    assert result.trades["contracts"].max() == 2


def test_engine_matches_reference_without_minutes_and_with_an_exit_signal(wild_year, run_both):
    bars, minutes = wild_year
    rng = np.random.default_rng(5)
    base = direction_signals(random_probability(bars, 5, missing=0.5), RulesConfig())
    signals = dataclasses.replace(
        base, exit_signal=pd.Series(rng.random(len(bars)) < 0.2, index=bars.index), exit_signal_reason="volatility"
    )
    result, reference = run_both(bars, None, signals)
    assert_same_trades(result.trades, reference)
    assert (result.trades["exit_reason"] == "volatility").sum() > 0
    assert not result.trades["resolved_by_minutes"].any()
    assert result.diagnostics["unresolved_stop"] == result.diagnostics["both_barriers_in_bar"] > 0


def test_engine_matches_reference_with_minutes_in_utc(wild_year, run_both):
    bars, minutes = wild_year
    window = bars.loc["2023-03-01":"2023-03-31"]
    utc_minutes = minutes.tz_convert("UTC")
    signals = direction_signals(random_probability(window, 6), RulesConfig())
    result, reference = run_both(window, utc_minutes, signals)
    assert_same_trades(result.trades, reference)


def test_engine_records_the_signal_probability_and_tier(wild_year):
    from lab.backtest import run_backtest

    bars, minutes = wild_year
    p = random_probability(bars, 8)
    result = run_backtest(bars, direction_signals(p), minutes)
    trades = result.trades
    signal_bar = bars.index.get_indexer(trades["entry_time"]) - 1
    np.testing.assert_array_equal(trades["probability"].to_numpy(), p.to_numpy()[signal_bar])
    full = np.maximum(trades["probability"], 1 - trades["probability"]) >= 0.7
    assert (trades.loc[full, "confidence_tier"] == "full").all() and (trades.loc[full, "contracts"] == 2).all()
    assert (trades.loc[~full, "confidence_tier"] == "half").all() and (trades.loc[~full, "contracts"] == 1).all()
    assert (trades["exit_time"] >= trades["entry_time"]).all()
    assert (trades["entry_time"].iloc[1:].to_numpy() >= trades["exit_time"].iloc[:-1].to_numpy()).all()


def test_engine_signal_series_other_than_direction_is_accepted(wild_year, run_both):
    bars, minutes = wild_year
    window = bars.iloc[:3000]
    rng = np.random.default_rng(9)
    signal = pd.Series(rng.choice([-1, 0, 0, 0, 1], len(window)).astype(np.int8), index=window.index)
    confidence = pd.Series(rng.uniform(0.5, 1.0, len(window)), index=window.index)
    signals = StrategySignals("custom", signal, confidence, confidence, ExitParams(4.0, 4.0, 3))
    result, reference = run_both(window, minutes, signals)
    assert_same_trades(result.trades, reference)
