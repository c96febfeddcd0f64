
import dataclasses

import numpy as np
import pandas as pd
import pytest

from lab.config import CostsConfig, RulesConfig, TargetsConfig
from lab.errors import LabError
from lab.market.instruments import get_instrument
from lab.features.targets import compute_targets, direction_target, target_horizon_bars, trade_target, volatility_target

MES = get_instrument("MES")


@pytest.fixture(scope="module")
def bars(rth_bars_factory):
    return rth_bars_factory("2023-11-01", "2023-12-15", seed=5)


def _session_position(bars):
    return bars.groupby("session").cumcount().to_numpy(), bars.groupby("session")["close"].transform("size").to_numpy()


@pytest.mark.parametrize("h", [3, 6, 12])
def test_direction_target_never_crosses_session_close(bars, h):
    label = direction_target(bars, h, 0.5)
    pos, size = _session_position(bars)
    assert label[pos >= size - h].isna().all()
    assert label[pos < size - h].notna().any()


def test_direction_target_min_move_leaves_small_moves_unlabelled(bars):
    label = direction_target(bars, 3, 0.5)
    close = bars["close"].to_numpy()
    move = pd.Series(np.r_[close[3:] - close[:-3], [np.nan] * 3], index=bars.index)
    ok = label.notna()
    assert (move[ok].abs() >= 0.5).all()
    assert label[ok & (move > 0)].eq(1).all() and label[ok & (move < 0)].eq(0).all()
    pos, size = _session_position(bars)
    assert label[(move.abs() < 0.5) & (pos < size - 3)].isna().all()


def test_volatility_target_never_crosses_session_close_and_ignores_far_future(bars):
    label = volatility_target(bars, 6, 200, 50.0)
    pos, size = _session_position(bars)
    assert label[pos >= size - 6].isna().all()
    assert set(label.dropna().unique()) == {0.0, 1.0}
    # A bar's label depends on bars up to t+6 only.
    cut = 900
    changed = bars.copy()
    changed.iloc[cut + 7 :, changed.columns.get_loc("high")] += 50
    pd.testing.assert_series_equal(label.iloc[: cut + 1], volatility_target(changed, 6, 200, 50.0).iloc[: cut + 1])


def _session_bars(opens, highs, lows, closes, day="2023-03-01", close_time="16:00"):
    start = pd.Timestamp(f"{day} 09:30", tz="America/New_York")
    index = pd.DatetimeIndex([start + pd.Timedelta(minutes=5 * i) for i in range(len(opens))], name="time")
    return pd.DataFrame({
        "open": opens, "high": highs, "low": lows, "close": closes, "volume": 1,
        "session": pd.Timestamp(day), "session_open": start,
        "session_close": pd.Timestamp(f"{day} {close_time}", tz="America/New_York"),
    }, index=index)


def test_trade_target_profit_target_hit_is_a_win():
    # Entry at bar 1 open 100 + 1 tick = 100.25; target 6 ticks = 101.75 reached in bar 2.
    bars = _session_bars([100, 100, 100.5], [100.25, 100.5, 102], [99.75, 99.9, 100.25], [100, 100.5, 101.5])
    label = trade_target(bars, RulesConfig(), CostsConfig(), MES)
    assert label.iloc[0] == 1.0


def test_trade_target_stop_wins_when_both_barriers_in_one_bar():
    bars = _session_bars([100, 100, 100], [100.25, 103, 100], [99.75, 97, 100], [100, 100, 100])
    assert trade_target(bars, RulesConfig(), CostsConfig(), MES).iloc[0] == 0.0


def test_trade_target_time_exit_pays_costs():
    # Drifts up one tick per bar: time exit at the 6th bar's close minus 1 tick slippage.
    n = 9
    closes = [100 + 0.25 * i for i in range(n)]
    bars = _session_bars(closes, [c + 0.25 for c in closes], [c - 0.25 for c in closes], closes)
    label = trade_target(bars, RulesConfig(), CostsConfig(), MES)
    # entry 100.25 + 0.25 = 100.5; exit close of bar 6 (101.5) - 0.25 = 101.25 -> +3 ticks = 3.75 - 0.84 > 0
    assert label.iloc[0] == 1.0


def test_trade_target_unlabelled_after_last_entry_time():
    n = 78
    closes = [100.0] * n
    bars = _session_bars(closes, [100.25] * n, [99.75] * n, closes)
    label = trade_target(bars, RulesConfig(), CostsConfig(), MES)
    times = label.index.strftime("%H:%M")
    assert label[times == "15:40"].notna().all()  # entry at the 15:45 bar: allowed
    assert label[times >= "15:45"].isna().all()  # entry at 15:50 or later: refused


def test_target_horizon_bars_covers_every_target():
    horizons = {t: target_horizon_bars(t, TargetsConfig(), RulesConfig()) for t in
                ("target_3bar", "target_6bar", "target_12bar", "target_vol", "target_trade")}
    assert horizons == {"target_3bar": 3, "target_6bar": 6, "target_12bar": 12, "target_vol": 6, "target_trade": 7}
    assert target_horizon_bars("target_trade") == 7  # defaults: entry on the next bar + a 6-bar time stop
    assert target_horizon_bars("target_trade", rules=RulesConfig(time_stop_bars=10)) == 11
    assert target_horizon_bars("target_vol", TargetsConfig(volatility_horizon_bars=9)) == 9
    with pytest.raises(LabError, match="target = 'target_1bar' has no known horizon"):
        target_horizon_bars("target_1bar")


def test_walk_forward_purges_with_the_labels_horizon():
    import lab.study.walk_forward

    assert lab.study.walk_forward.target_horizon_bars is target_horizon_bars  # one definition, not a copy


def test_compute_targets_columns(bars):
    targets = compute_targets(bars, TargetsConfig(volatility_lookback_bars=200), RulesConfig(), CostsConfig(), MES)
    assert list(targets.columns) == ["target_3bar", "target_6bar", "target_12bar", "target_vol", "target_trade"]


#: Every rules variant the trade label expresses: exits, entry and flatten cut-offs (equal ones
#: included: the 15:45 bar is then both the last entry and the flatten bar), no flatten bar in the
#: session (flatten at the close), costs and the instrument's tick.
LABEL_VARIANTS = {
    "defaults": (RulesConfig(), CostsConfig(), "MES"),
    "one_bar_time_stop": (RulesConfig(time_stop_bars=1), CostsConfig(), "MES"),
    "long_time_stop_wide_exits": (RulesConfig(time_stop_bars=12, profit_target_ticks=16, stop_loss_ticks=12),
                                  CostsConfig(), "MES"),
    "tight_exits": (RulesConfig(profit_target_ticks=2, stop_loss_ticks=3, time_stop_bars=4), CostsConfig(), "MES"),
    "cut_offs_equal": (RulesConfig(last_entry_minutes_before_close=15, flatten_minutes_before_close=15),
                       CostsConfig(), "MES"),
    "cut_offs_equal_at_5": (RulesConfig(last_entry_minutes_before_close=5, flatten_minutes_before_close=5),
                            CostsConfig(), "MES"),
    "cut_offs_wide": (RulesConfig(last_entry_minutes_before_close=30, flatten_minutes_before_close=10),
                      CostsConfig(), "MES"),
    "no_flatten_bar": (RulesConfig(last_entry_minutes_before_close=0, flatten_minutes_before_close=0),
                       CostsConfig(), "MES"),
    "no_slippage": (RulesConfig(), CostsConfig(entry_slippage_ticks=0, exit_slippage_ticks=0), "MES"),
    "costly": (RulesConfig(), CostsConfig(commission_per_contract_usd=4.0, entry_slippage_ticks=2,
                                          exit_slippage_ticks=3), "MES"),
    "es_contract": (RulesConfig(profit_target_ticks=5, stop_loss_ticks=7), CostsConfig(commission_per_contract_usd=4.0),
                    "ES"),
}


@pytest.fixture(scope="module")
def jumpy_bars():
    """Nov 2022 - Jan 2023 with 2 % jumps (gaps through stops and targets) and early closes."""
    from tests.lab.backtest.synthetic import year_of_data

    bars, _ = year_of_data(seed=31, start="2022-11-01", end="2023-01-31", step_ticks=3, jump_rate=0.02)
    return bars


#: The limit-fill rules: the default (one tick through), touch, and two ticks through.
FILL_RULES = {"through": {}, "touch": {"limit_fill": "touch"},
              "through_2": {"limit_fill": "through", "limit_through_ticks": 2}}


@pytest.mark.parametrize("fill", sorted(FILL_RULES))
@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(LABEL_VARIANTS))
def test_trade_target_agrees_with_the_backtest_engine(bars, jumpy_bars, variant, fill):
    """target_trade and the engine implement one set of rules: isolated long signals, same outcome,
    and the same entries refused, for every rules variant the label can express, under each fill rule."""
    from lab.backtest import run_backtest
    from lab.strategies import direction_signals

    base, costs, symbol = LABEL_VARIANTS[variant]
    rules = dataclasses.replace(base, daily_loss_limit_usd=1e9, pause_after_consecutive_losses=0, **FILL_RULES[fill])
    rules.validate()
    instrument = get_instrument(symbol)
    spacing = rules.time_stop_bars + 3  # each trade is over before the next signal
    compared = 0
    for frame in (bars, jumpy_bars):
        labels = trade_target(frame, rules, costs, instrument)
        for offset in range(spacing):
            probability = pd.Series(np.nan, index=frame.index)
            probability.iloc[offset::spacing] = 0.65
            trades = run_backtest(frame, direction_signals(probability, rules), None, rules=rules, costs=costs,
                                  instrument=instrument).trades
            position = frame.index.get_indexer(pd.DatetimeIndex(trades["entry_time"])) - 1
            np.testing.assert_array_equal(labels.iloc[position].to_numpy(),
                                          (trades["pnl_usd"] > 0).to_numpy(dtype=float))
            signalled = labels.iloc[offset::spacing]
            assert signalled.notna().sum() == len(trades)  # no entry refused that the label would accept, and back
            compared += len(trades)
    assert compared > 2_000
