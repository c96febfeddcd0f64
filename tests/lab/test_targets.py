
import numpy as np
import pandas as pd
import pytest

from lab.config import CostsConfig, RulesConfig, TargetsConfig
from lab.instruments import get_instrument
from lab.targets import compute_targets, direction_target, target_horizon_bars, trade_target, volatility_target

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


def test_compute_targets_columns(bars):
    targets = compute_targets(bars, TargetsConfig(volatility_lookback_bars=200), RulesConfig(), CostsConfig(), MES)
    assert list(targets.columns) == ["target_3bar", "target_6bar", "target_12bar", "target_vol", "target_trade"]


def test_trade_target_agrees_with_the_backtest_engine(bars):
    """target_trade and the engine implement one set of rules: isolated long signals, same outcome."""
    from lab.backtest import run_backtest
    from lab.strategies import direction_signals

    rules = RulesConfig(daily_loss_limit_usd=1e9, pause_after_consecutive_losses=0)
    labels = trade_target(bars, rules, CostsConfig(), MES)
    probability = pd.Series(np.nan, index=bars.index)
    probability.iloc[::9] = 0.65  # 9 bars apart: each trade is over before the next signal
    trades = run_backtest(bars, direction_signals(probability, rules), None, rules=rules, costs=CostsConfig(),
                          instrument=MES).trades
    position = bars.index.get_indexer(pd.DatetimeIndex(trades["entry_time"])) - 1
    assert len(trades) > 250
    np.testing.assert_array_equal(labels.iloc[position].to_numpy(), (trades["pnl_usd"] > 0).to_numpy(dtype=float))
    signalled = labels.iloc[::9]
    assert signalled.notna().sum() == len(trades)  # no entry refused that the label would accept, and back
