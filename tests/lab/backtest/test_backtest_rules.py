"""Hand-built scenarios, one rule each, checked to the cent (MES: tick 0.25 = $1.25,
1 tick slippage in and out, $0.84 commission per contract per round trip)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.backtest import run_backtest
from lab.config import CostsConfig, RulesConfig
from lab.strategies import direction_signals
from tests.lab.backtest.helpers import assert_same_trades, reference_trades
from tests.lab.backtest.synthetic import at, scenario, set_minutes

DAY = "2023-03-01"  # a Wednesday, EST (-05:00)
QUIET = (4000.0, 4000.0, 4000.0, 4000.0)


def probabilities(bars: pd.DataFrame, values: dict[str, float]) -> pd.Series:
    """NaN everywhere but at the given ``"YYYY-MM-DD HH:MM"`` or ``"HH:MM"`` (on DAY) bars."""
    p = pd.Series(np.nan, index=bars.index)
    for when, value in values.items():
        stamp = pd.Timestamp(when if " " in when else f"{DAY} {when}", tz="America/New_York")
        p[stamp] = value
    return p


def backtest(bars, minutes, p, rules=None, costs=None, check_reference=True):
    rules = rules or RulesConfig()
    signals = direction_signals(p, rules)
    result = run_backtest(bars, signals, minutes, rules=rules, costs=costs)
    if check_reference:
        assert_same_trades(result.trades, reference_trades(bars, minutes, signals, rules, costs))
    return result


def test_entry_is_next_open_plus_slippage_and_target_fills_in_the_entry_bar():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, 4002.0, 3999.5, 4001.5)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.entry_time == at(DAY, "10:05") and trade.exit_time == at(DAY, "10:05")
    assert trade.side == "long" and trade.contracts == 1 and trade.confidence_tier == "half"
    assert trade.entry_price == 4000.25 and trade.exit_price == 4001.75  # target: a limit, no slippage
    assert trade.exit_reason == "target" and trade.bars_held == 1
    assert trade.pnl_usd == pytest.approx(6 * 1.25 - 0.84, abs=1e-9)  # 6.66
    assert trade.probability == 0.65 and trade.mfe_ticks == 6.0 and trade.mae_ticks == 3.0


def test_entry_bar_stop_fills_at_stop_less_slippage_full_size():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, 4000.5, 3998.0, 3998.5)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.75}))
    (trade,) = result.trades.itertuples()
    assert trade.contracts == 2 and trade.confidence_tier == "full"
    assert trade.exit_reason == "stop" and trade.exit_price == 3998.0  # stop 3998.25 - 1 tick
    assert trade.pnl_usd == pytest.approx(-9 * 1.25 * 2 - 0.84 * 2, abs=1e-9)  # -24.18
    assert trade.mae_ticks == 8.0


def test_short_entry_slippage_and_commission_to_the_cent():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, 4000.0, 3997.75, 3998.5)])
    costs = CostsConfig(commission_per_contract_usd=1.10, entry_slippage_ticks=2.0, exit_slippage_ticks=1.0)
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.38}), costs=costs)
    (trade,) = result.trades.itertuples()
    assert trade.side == "short" and trade.entry_price == 3999.5  # 4000.00 - 2 ticks
    assert trade.exit_reason == "target" and trade.exit_price == 3998.0  # 6 ticks below the fill
    assert trade.pnl_usd == pytest.approx(6 * 1.25 - 1.10, abs=1e-9)  # 6.40


def test_stop_gap_at_the_open_fills_at_the_open_less_slippage():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 3996.0, 3997.0, 3995.0, 3996.5)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "stop" and trade.exit_time == at(DAY, "10:10")
    assert trade.exit_price == 3995.75  # open 3996.00 - 1 tick, not the 3998.25 stop
    assert trade.pnl_usd == pytest.approx(-18 * 1.25 - 0.84, abs=1e-9)
    assert result.diagnostics["gap_stop"] == 1 and trade.bars_held == 1


def test_target_gap_at_the_open_fills_at_the_target_price():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 4003.0, 4003.5, 4002.5, 4003.0)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "target" and trade.exit_price == 4001.75 and trade.exit_time == at(DAY, "10:10")


def test_time_stop_exits_at_the_close_of_the_sixth_bar_held():
    bars, minutes = scenario(DAY, [("10:00", *QUIET)] + [(f"10:{m:02d}", 4000.0, 4000.5, 3999.5, 4000.5) for m in range(5, 35, 5)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.entry_time == at(DAY, "10:05") and trade.exit_reason == "time"
    assert trade.exit_time == at(DAY, "10:35")  # the 10:30 bar's close
    assert trade.bars_held == 6 and trade.exit_price == 4000.25  # close 4000.50 - 1 tick
    assert trade.pnl_usd == pytest.approx(-0.84, abs=1e-9)


def test_both_barriers_in_one_bar_resolved_by_minutes_stop_first():
    # an up bar: the scenario's minutes walk open -> low -> high -> close, so the stop comes first
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 4000.0, 4002.0, 3998.0, 4001.0)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "stop" and trade.exit_price == 3998.0 and trade.resolved_by_minutes
    d = result.diagnostics
    assert (d["both_barriers_in_bar"], d["resolved_by_minutes_stop"], d["resolved_by_minutes_target"]) == (1, 1, 0)


def test_both_barriers_in_one_bar_resolved_by_minutes_target_first():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 4000.0, 4002.0, 3998.0, 4001.0)])
    minutes = set_minutes(minutes, at(DAY, "10:10"), [
        (4000.0, 4000.5, 4000.0, 4000.5), (4000.5, 4002.0, 4000.5, 4001.5), (4001.5, 4001.5, 3998.0, 3998.5),
        (3998.5, 4001.0, 3998.5, 4001.0), (4001.0, 4001.0, 4001.0, 4001.0),
    ])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "target" and trade.exit_price == 4001.75 and trade.resolved_by_minutes
    assert result.diagnostics["resolved_by_minutes_target"] == 1


def test_both_barriers_in_one_minute_take_the_stop():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 4000.0, 4002.0, 3998.0, 4001.0)])
    minutes = set_minutes(minutes, at(DAY, "10:10"), [
        (4000.0, 4000.0, 4000.0, 4000.0), (4000.0, 4002.0, 3998.0, 4001.0), (4001.0, 4001.0, 4001.0, 4001.0),
        (4001.0, 4001.0, 4001.0, 4001.0), (4001.0, 4001.0, 4001.0, 4001.0),
    ])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "stop" and trade.exit_price == 3998.0 and trade.resolved_by_minutes
    assert result.diagnostics["same_minute_stop"] == 1


def test_both_barriers_without_minutes_take_the_stop_unresolved():
    bars, _ = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 4000.0, 4002.0, 3998.0, 4001.0)])
    result = backtest(bars, None, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "stop" and not trade.resolved_by_minutes
    assert result.diagnostics["unresolved_stop"] == 1


def test_daily_loss_limit_stops_entries_for_the_rest_of_the_day():
    losing = (4000.0, 4000.5, 3998.0, 4000.0)  # every long entered at this open is stopped in the bar
    rows = [(f"{h}:{m:02d}", *losing) for h in (10, 11) for m in range(0, 60, 5)]
    day1, min1 = scenario(DAY, rows)
    day2, min2 = scenario("2023-03-02", [("10:00", *QUIET), ("10:05", 4000.0, 4002.0, 4000.0, 4002.0)])
    bars, minutes = pd.concat([day1, day2]), pd.concat([min1, min2])
    signal_times = {f"{DAY} {h}:{m:02d}": 0.8 for h in (10, 11) for m in range(0, 60, 5)}
    signal_times["2023-03-02 10:00"] = 0.8
    rules = RulesConfig(pause_after_consecutive_losses=0)
    result = backtest(bars, minutes, probabilities(bars, signal_times), rules=rules)
    first_day = result.trades[result.trades["session"] == pd.Timestamp(DAY)]
    assert len(first_day) == 5  # 4 x -24.18 = -96.72, the 5th reaches -120.90
    assert first_day["pnl_usd"].sum() == pytest.approx(-120.90, abs=1e-9)
    assert first_day["exit_time"].max() == at(DAY, "10:25")
    assert result.diagnostics["daily_loss_limit_hits"] == 1 and result.diagnostics["refused_daily_loss_limit"] > 10
    second = result.trades[result.trades["session"] == pd.Timestamp("2023-03-02")]
    assert len(second) == 1 and second["exit_reason"].iloc[0] == "target"  # a new day, trading again


def test_pause_after_three_losses_blocks_entries_for_thirty_minutes():
    losing = (4000.0, 4000.5, 3998.0, 4000.0)
    bars, minutes = scenario(DAY, [(f"10:{m:02d}", *losing) for m in range(0, 60, 5)])
    result = backtest(bars, minutes, probabilities(bars, {f"10:{m:02d}": 0.65 for m in range(0, 60, 5)}))
    entries = list(result.trades["entry_time"])
    assert entries[:3] == [at(DAY, "10:05"), at(DAY, "10:10"), at(DAY, "10:15")]
    assert result.trades["exit_time"].iloc[2] == at(DAY, "10:15")
    assert entries[3] == at(DAY, "10:45")  # third loss's exit 10:15 + 30 minutes
    assert entries[3:] == [at(DAY, "10:45"), at(DAY, "10:50"), at(DAY, "10:55")]  # then a second pause
    # refused: entries at 10:20, 10:25, 10:30, 10:35, 10:40 and 11:00
    assert result.diagnostics["loss_pauses"] == 2 and result.diagnostics["refused_loss_pause"] == 6


def test_last_entry_boundary_entry_at_1545_allowed():
    bars, minutes = scenario(DAY, [("15:40", *QUIET)])
    result = backtest(bars, minutes, probabilities(bars, {"15:40": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.entry_time == at(DAY, "15:45")


def test_last_entry_boundary_entry_at_1550_refused():
    bars, minutes = scenario(DAY, [("15:45", *QUIET)])
    result = backtest(bars, minutes, probabilities(bars, {"15:45": 0.65}))
    assert result.trades.empty and result.diagnostics["refused_after_last_entry"] == 1


def test_flatten_at_the_1555_open_with_slippage():
    bars, minutes = scenario(DAY, [("15:40", *QUIET), ("15:45", *QUIET), ("15:50", *QUIET), ("15:55", 4000.5, 4001.0, 4000.0, 4000.5)])
    result = backtest(bars, minutes, probabilities(bars, {"15:40": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "flatten" and trade.exit_time == at(DAY, "15:55")
    assert trade.exit_price == 4000.25 and trade.bars_held == 2  # open 4000.50 - 1 tick; 15:45 and 15:50 held
    assert trade.pnl_usd == pytest.approx(-0.84, abs=1e-9)


def test_early_close_flattens_at_1255_and_refuses_entries_after_1245():
    early = "2023-11-24"  # day after Thanksgiving: XNYS closes at 13:00
    bars, minutes = scenario(early, [("12:40", *QUIET), ("12:45", *QUIET), ("12:50", *QUIET), ("12:55", *QUIET)], close="13:00")
    p = probabilities(bars, {f"{early} 12:40": 0.65, f"{early} 12:45": 0.35})
    result = backtest(bars, minutes, p)
    (trade,) = result.trades.itertuples()
    assert trade.entry_time == at(early, "12:45") and trade.exit_reason == "flatten"
    assert trade.exit_time == at(early, "12:55") and trade.exit_price == 3999.75
    assert bars.index[-1] == at(early, "12:55")


def test_signal_on_the_sessions_last_bar_does_not_carry_overnight():
    day1, min1 = scenario(DAY, [("15:55", *QUIET)])
    day2, min2 = scenario("2023-03-02", [("09:30", *QUIET)])
    bars, minutes = pd.concat([day1, day2]), pd.concat([min1, min2])
    result = backtest(bars, minutes, probabilities(bars, {f"{DAY} 15:55": 0.9}))
    assert result.trades.empty


def test_one_position_at_a_time_ignores_signals_while_in_position():
    rows = [("10:00", *QUIET)] + [(f"10:{m:02d}", 4000.0, 4000.5, 3999.5, 4000.0) for m in range(5, 40, 5)]
    bars, minutes = scenario(DAY, rows)
    result = backtest(bars, minutes, probabilities(bars, {f"10:{m:02d}": 0.65 for m in range(0, 40, 5)}))
    assert list(result.trades["entry_time"])[:2] == [at(DAY, "10:05"), at(DAY, "10:35")]  # after the 6-bar time stop
    assert result.trades["contracts"].max() == 1
    assert result.diagnostics["ignored_in_position"] == 6  # signals at 10:05-10:25 and 10:35


def test_reversal_exits_at_next_open_and_opens_the_other_side():
    rows = [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", *QUIET), ("10:15", *QUIET), ("10:20", 4000.5, 4000.5, 4000.5, 4000.5)]
    bars, minutes = scenario(DAY, rows)
    rules = RulesConfig(exit_on_opposite_signal=True)
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65, "10:10": 0.35, "10:15": 0.2}), rules=rules)
    first, second = result.trades.itertuples()
    assert first.exit_reason == "reversal" and first.exit_time == at(DAY, "10:20")
    assert first.exit_price == 4000.25  # open 4000.50 - 1 tick; the 0.35 (confidence 0.65) did not reverse
    assert second.side == "short" and second.entry_time == at(DAY, "10:20") and second.entry_price == 4000.25


def test_reversal_is_off_by_default():
    rows = [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", *QUIET)]
    bars, minutes = scenario(DAY, rows)
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65, "10:05": 0.1}))
    assert result.trades["exit_reason"].tolist() == ["time"]


TOUCH = RulesConfig(limit_fill="touch")
THROUGH_TWO = RulesConfig(limit_fill="through", limit_through_ticks=2)


@pytest.mark.parametrize("rules, fills", [(RulesConfig(), False), (TOUCH, True)])
def test_target_only_touched_fills_under_touch_and_not_under_through(rules, fills):
    # target 4001.75; the 10:05 bar's high touches it, no minute trades above it
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, 4001.75, 3999.5, 4001.5)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}), rules=rules)
    (trade,) = result.trades.itertuples()
    assert (trade.exit_reason == "target") is fills
    assert trade.mfe_ticks == 6.0  # the touch is seen either way


@pytest.mark.parametrize("high, rules, fills", [(4002.0, RulesConfig(), True), (4002.0, THROUGH_TWO, False),
                                                (4002.25, THROUGH_TWO, True)])
def test_through_fills_at_the_target_when_a_price_trades_the_ticks_beyond_it(high, rules, fills):
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, high, 3999.5, 4001.5)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}), rules=rules)
    (trade,) = result.trades.itertuples()
    assert (trade.exit_reason == "target") is fills
    if fills:
        assert trade.exit_price == 4001.75  # the limit's price, never the better one traded through


@pytest.mark.parametrize("open_, rules, fills", [(4001.75, RulesConfig(), False), (4001.75, TOUCH, True),
                                                 (4002.0, RulesConfig(), True)])
def test_target_gap_needs_an_open_beyond_the_target_under_through(open_, rules, fills):
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", open_, open_, open_ - 0.5, open_)])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}), rules=rules)
    (trade,) = result.trades.itertuples()
    assert (trade.exit_reason == "target" and trade.exit_time == at(DAY, "10:10")) is fills


def test_minute_touching_the_target_before_the_stop_is_no_fill_under_through():
    # the bar trades through the target (4002.0 > 4001.75), but only after the stop; the first minute only touches
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 4000.0, 4002.0, 3998.0, 4001.0)])
    minutes = set_minutes(minutes, at(DAY, "10:10"), [
        (4000.0, 4001.75, 4000.0, 4001.5), (4001.5, 4001.5, 3998.0, 3998.5), (3998.5, 4002.0, 3998.5, 4001.0),
        (4001.0, 4001.0, 4001.0, 4001.0), (4001.0, 4001.0, 4001.0, 4001.0),
    ])
    through = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    touch = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}), rules=TOUCH)
    assert through.trades["exit_reason"].tolist() == ["stop"] and touch.trades["exit_reason"].tolist() == ["target"]
    assert through.trades["resolved_by_minutes"].all() and touch.trades["resolved_by_minutes"].all()


def test_stops_are_stop_orders_under_either_fill_rule():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, 4000.5, 3998.25, 3998.5)])
    for rules in (RulesConfig(), TOUCH):
        (trade,) = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}), rules=rules).trades.itertuples()
        assert trade.exit_reason == "stop" and trade.exit_price == 3998.0  # touched at 3998.25, less 1 tick


def test_engine_cache_is_keyed_to_the_shared_rules_module():
    """numba's disk cache tracks engine.py only: the digest of lab/rules.py it compiles in must be current."""
    from lab.backtest import engine

    assert engine.rules_source_sha256() == engine.RULES_SOURCE_SHA256, (
        f"lab/rules.py changed: set RULES_SOURCE_SHA256 = {engine.rules_source_sha256()!r} in lab/backtest/engine.py")


def test_exit_minute_is_the_minute_that_reached_the_barrier_inside_the_exit_bar():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, 4002.0, 3999.5, 4001.5)])
    minutes = set_minutes(minutes, at(DAY, "10:05"), [
        (4000.0, 4000.5, 3999.5, 4000.5), (4000.5, 4001.0, 4000.5, 4001.0), (4001.0, 4001.0, 4000.5, 4000.5),
        (4000.5, 4002.0, 4000.5, 4001.5), (4001.5, 4001.5, 4001.5, 4001.5),
    ])
    result = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65}))
    (trade,) = result.trades.itertuples()
    assert trade.exit_reason == "target" and trade.exit_time == at(DAY, "10:05")  # the rules count from the bar
    assert trade.exit_minute == at(DAY, "10:08")  # the fourth minute reached the 4001.75 target


def test_exit_minute_of_a_bar_resolved_by_minutes_is_the_resolving_minute():
    bars, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 4000.0, 4002.0, 3998.0, 4001.0)])
    minutes = set_minutes(minutes, at(DAY, "10:10"), [
        (4000.0, 4000.5, 4000.0, 4000.5), (4000.5, 4002.0, 4000.5, 4001.5), (4001.5, 4001.5, 3998.0, 3998.5),
        (3998.5, 4001.0, 3998.5, 4001.0), (4001.0, 4001.0, 4001.0, 4001.0),
    ])
    (trade,) = backtest(bars, minutes, probabilities(bars, {"10:00": 0.65})).trades.itertuples()
    assert trade.exit_reason == "target" and trade.resolved_by_minutes and trade.exit_minute == at(DAY, "10:11")


def test_exit_minute_equals_exit_time_at_an_open_or_a_close_and_is_unknown_without_minutes():
    gap, minutes = scenario(DAY, [("10:00", *QUIET), ("10:05", *QUIET), ("10:10", 3996.0, 3997.0, 3995.0, 3996.5)])
    (trade,) = backtest(gap, minutes, probabilities(gap, {"10:00": 0.65})).trades.itertuples()
    assert trade.exit_minute == trade.exit_time == at(DAY, "10:10")
    timed, minutes = scenario(DAY, [("10:00", *QUIET)] + [(f"10:{m:02d}", 4000.0, 4000.5, 3999.5, 4000.5)
                                                         for m in range(5, 35, 5)])
    (trade,) = backtest(timed, minutes, probabilities(timed, {"10:00": 0.65})).trades.itertuples()
    assert trade.exit_reason == "time" and trade.exit_minute == trade.exit_time == at(DAY, "10:35")
    inside, _ = scenario(DAY, [("10:00", *QUIET), ("10:05", 4000.0, 4002.0, 3999.5, 4001.5)])
    (trade,) = backtest(inside, None, probabilities(inside, {"10:00": 0.65})).trades.itertuples()
    assert trade.exit_reason == "target" and pd.isna(trade.exit_minute)
