"""The paper trader books, bar by bar, exactly the trades of the backtest on the same bars and probabilities."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lab.backtest import run_backtest, trades_to_csv
from lab.config import BreakoutConfig, CostsConfig, MeanReversionConfig, RulesConfig, StrategyConfig
from lab.paper import PaperBar, PaperTrader
from lab.strategies import build_signals, direction_signals
from lab.features.strategy_sets import breakout_features, mean_reversion_features
from tests.lab.backtest.helpers import random_probability
from tests.lab.backtest.synthetic import at, five_minute_bars, random_minutes, scenario


@pytest.fixture(scope="module")
def quarter():
    """Three months of wild synthetic minutes (gaps, both-barrier bars), early closes included (Jul 3)."""
    minutes = random_minutes("2023-06-01", "2023-08-31", seed=5, step_ticks=3, jump_rate=0.02, wide_rate=0.03)
    return five_minute_bars(minutes, "2023-06-01", "2023-08-31"), minutes


def paper_bars(bars: pd.DataFrame, minutes: pd.DataFrame):
    """The bars as the paper trader receives them: one PaperBar each, with its own minutes."""
    starts = bars.index.as_unit("ns").asi8
    minute_ns = minutes.index.as_unit("ns").asi8
    lo = np.searchsorted(minute_ns, starts)
    hi = np.searchsorted(minute_ns, starts + 5 * 60_000_000_000)
    opens, closes = (pd.DatetimeIndex(bars[c].array).as_unit("ns").asi8 for c in ("session_open", "session_close"))
    mo, mh, ml = (minutes[c].to_numpy(np.float64) for c in ("open", "high", "low"))
    for i, row in enumerate(bars[["open", "high", "low", "close"]].itertuples(index=False)):
        yield PaperBar(int(starts[i]), float(row.open), float(row.high), float(row.low), float(row.close), int(opens[i]),
                       int(closes[i]), minute_ns[lo[i]:hi[i]], mo[lo[i]:hi[i]], mh[lo[i]:hi[i]], ml[lo[i]:hi[i]])


def paper_run(bars, minutes, probability, rules, costs, long_only=False):
    trader = PaperTrader(rules, costs, long_only=long_only)
    orders = []
    for bar, p in zip(paper_bars(bars, minutes), probability.to_numpy(np.float64)):
        orders += trader.on_bar(bar, float(p))
    orders += trader.finish()
    return trader, orders


def assert_parity(bars, minutes, probability, rules, costs=None, long_only=False):
    costs = costs or CostsConfig()
    backtest = run_backtest(bars, direction_signals(probability, rules, long_only=long_only), minutes, rules=rules,
                            costs=costs)
    trader, orders = paper_run(bars, minutes, probability, rules, costs, long_only)
    paper = trader.result()
    assert trades_to_csv(paper.trades) == trades_to_csv(backtest.trades)
    assert paper.diagnostics == backtest.diagnostics
    assert list(paper.session_dates) == list(backtest.session_dates)
    exits = [o for o in orders if o.action == "exit"]
    entries = [o for o in orders if o.action == "entry"]
    assert len(exits) == len(entries) == len(backtest.trades)
    assert [o.pnl_usd for o in exits] == backtest.trades["pnl_usd"].tolist()
    assert [o.price for o in exits] == backtest.trades["exit_price"].tolist()
    return backtest, trader


VARIANTS = {
    "defaults": {},
    "tight loss limit": {"daily_loss_limit_usd": 15.0},
    "pause after two losses": {"pause_after_consecutive_losses": 2, "pause_minutes": 45},
    "reversals": {"exit_on_opposite_signal": True, "full_size_threshold": 0.65},
    "wide barriers and long holds": {"profit_target_ticks": 14, "stop_loss_ticks": 12, "time_stop_bars": 20},
    "early cut-offs": {"last_entry_minutes_before_close": 40, "flatten_minutes_before_close": 20},
    "targets fill on a touch": {"limit_fill": "touch"},
    "targets fill two ticks through": {"limit_fill": "through", "limit_through_ticks": 2},
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_paper_trader_books_the_backtests_trades_to_the_cent(quarter, variant):
    bars, minutes = quarter
    rules = dataclasses.replace(RulesConfig(), **VARIANTS[variant])
    probability = random_probability(bars, seed=3, missing=0.2, low=0.2, high=0.8)
    backtest, _ = assert_parity(bars, minutes, probability, rules)
    assert len(backtest.trades) > 50


def test_paper_trader_parity_exercises_loss_limit_pause_and_flatten(quarter):
    bars, minutes = quarter
    rules = dataclasses.replace(RulesConfig(), daily_loss_limit_usd=60.0, pause_after_consecutive_losses=2,
                                entry_threshold=0.55)
    probability = random_probability(bars, seed=4, missing=0.1)
    backtest, _ = assert_parity(bars, minutes, probability, rules)
    d = backtest.diagnostics
    assert d["daily_loss_limit_hits"] > 0 and d["refused_daily_loss_limit"] > 0
    assert d["loss_pauses"] > 0 and d["refused_loss_pause"] > 0
    assert d["both_barriers_in_bar"] > 0 and d["gap_stop"] > 0
    wide = dataclasses.replace(rules, profit_target_ticks=80, stop_loss_ticks=80, time_stop_bars=300)
    backtest, _ = assert_parity(bars, minutes, probability, wide)
    assert (backtest.trades["exit_reason"] == "flatten").sum() > 5


def test_paper_trader_long_only_keeps_parity(quarter):
    bars, minutes = quarter
    probability = random_probability(bars, seed=8)
    backtest, trader = assert_parity(bars, minutes, probability, RulesConfig(), long_only=True)
    assert set(backtest.trades["side"]) == {"long"}
    assert "long_only" in set(trader.signals()["stopped_by"])


def test_paper_trader_flattens_at_the_close_of_a_session_missing_its_last_bars(quarter):
    """Data ending at 15:40 on one day and mid-session at the very end: the provisional close is redone as the last."""
    bars, minutes = quarter
    day = bars["session"] == pd.Timestamp("2023-06-15")
    cut = day & (bars.index.tz_localize(None).time >= pd.Timestamp("15:45").time())
    bars = bars.loc[~cut].iloc[:-20]
    rules = dataclasses.replace(RulesConfig(), time_stop_bars=200, profit_target_ticks=80, stop_loss_ticks=80)
    probability = random_probability(bars, seed=9, missing=0.0)
    probability[at("2023-06-15", "15:30")] = 0.9
    backtest, trader = assert_parity(bars, minutes, probability, rules)
    flattened = backtest.trades.loc[backtest.trades["exit_reason"] == "flatten", "exit_time"]
    assert (flattened == at("2023-06-15", "15:45")).any()


def test_paper_trader_reports_entry_and_exit_orders_of_one_trade():
    bars, minutes = scenario("2023-03-01", [("10:00", 4000.0, 4000.5, 3999.5, 4000.0),
                                             ("10:05", 4000.0, 4002.5, 4000.0, 4002.0)])
    probability = pd.Series(np.nan, index=bars.index)
    probability[at("2023-03-01", "10:00")] = 0.75
    trader, orders = paper_run(bars, minutes, probability, RulesConfig(), CostsConfig())
    assert [(o.action, o.side, o.contracts, o.reason) for o in orders] == [("entry", "long", 2, "signal"),
                                                                          ("exit", "long", 2, "target")]
    entry, exit_ = orders
    assert entry.time == "2023-03-01T10:05:00-05:00" and entry.price == 4000.25
    assert entry.target == 4001.75 and entry.stop == 3998.25
    assert exit_.price == 4001.75 and exit_.pnl_usd == round(6 * 1.25 * 2 - 0.84 * 2, 2)
    assert trader.position == ("flat", 0)


def test_paper_trader_on_time_closes_a_session_whose_last_bars_never_came():
    bars, minutes = scenario("2023-03-01", [("15:30", 4000.0, 4000.5, 3999.5, 4000.0)], fill_to_close=False)
    bars = pd.concat([bars.iloc[:-1], bars.iloc[-1:]])
    probability = pd.Series(np.nan, index=bars.index)
    probability.iloc[-2] = 0.65
    trader = PaperTrader(dataclasses.replace(RulesConfig(), time_stop_bars=50), CostsConfig())
    orders = []
    for bar, p in zip(paper_bars(bars, minutes), probability):
        orders += trader.on_bar(bar, float(p))
    assert trader.position == ("long", 1)
    assert trader.on_time(int(at("2023-03-01", "15:59").value)) == []
    late = trader.on_time(int(at("2023-03-01", "16:00").value))
    assert [(o.action, o.reason, o.time) for o in late] == [("exit", "flatten", "2023-03-01T15:35:00-05:00")]
    assert trader.finish() == []


STRATEGY_VARIANTS = {
    "breakout": StrategyConfig(name="breakout", breakout=BreakoutConfig(min_consolidation_score=0.3,
                                                                        min_volatility_probability=0.4)),
    "breakout with its own wide exits": StrategyConfig(name="breakout", breakout=BreakoutConfig(
        min_consolidation_score=0.3, profit_target_ticks=16, stop_loss_ticks=12, time_stop_bars=10)),
    "mean reversion": StrategyConfig(name="mean_reversion", mean_reversion=MeanReversionConfig(
        max_volatility_probability=0.6, rsi_oversold=40, rsi_overbought=60, min_ema_deviation_pct=0.02)),
    "mean reversion with wide exits": StrategyConfig(name="mean_reversion", mean_reversion=MeanReversionConfig(
        max_volatility_probability=0.6, rsi_oversold=40, rsi_overbought=60, min_ema_deviation_pct=0.02,
        profit_target_ticks=16, stop_loss_ticks=12, time_stop_bars=10)),
    "mean reversion, whole session, no volatility exit": StrategyConfig(
        name="mean_reversion", mean_reversion=MeanReversionConfig(
            max_volatility_probability=0.6, rsi_oversold=40, rsi_overbought=60, min_ema_deviation_pct=0.02,
            skip_first_and_last_hour=False, exit_on_high_volatility=False)),
}
#: Rule variants crossed with every strategy: reversals (where a strategy's confidence qualifies an
#: opposite signal, and precedes mean reversion's volatility exit) and the risk limits.
STRATEGY_RULES = {
    "risk limits": {"pause_after_consecutive_losses": 2, "daily_loss_limit_usd": 40.0},
    "reversals": {"exit_on_opposite_signal": True, "full_size_threshold": 0.55},
}


@pytest.mark.slow
@pytest.mark.parametrize("rule_variant", list(STRATEGY_RULES))
@pytest.mark.parametrize("variant", list(STRATEGY_VARIANTS))
def test_paper_trader_books_a_volatility_strategys_trades_to_the_cent(quarter, variant, rule_variant):
    """Breakout and mean reversion: the strategy's features and P(high range) per bar, its own exits and
    (mean reversion) the high-volatility exit give the backtest's trades, counters and reasons."""
    bars, minutes = quarter
    strategy = STRATEGY_VARIANTS[variant]
    rules = dataclasses.replace(RulesConfig(), **STRATEGY_RULES[rule_variant])
    features = pd.concat([breakout_features(bars), mean_reversion_features(bars)], axis=1)
    volatility = random_probability(bars, seed=11, missing=0.05, low=0.0, high=1.0)
    backtest = run_backtest(bars, build_signals(strategy, bars, volatility_probability=volatility, features=features),
                            minutes, rules=rules, costs=CostsConfig())
    trader = PaperTrader(rules, CostsConfig(), strategy=strategy)
    values = features[list(trader.features)].to_numpy(np.float64)
    orders = []
    for i, (bar, p) in enumerate(zip(paper_bars(bars, minutes), volatility.to_numpy(np.float64))):
        orders += trader.on_bar(bar, float(p), tuple(values[i]))
    orders += trader.finish()
    paper = trader.result()
    assert len(backtest.trades) > 30
    assert trades_to_csv(paper.trades) == trades_to_csv(backtest.trades)
    assert paper.diagnostics == backtest.diagnostics
    assert paper.settings["strategy"] == strategy.name
    assert [o.pnl_usd for o in orders if o.action == "exit"] == backtest.trades["pnl_usd"].tolist()
    reasons = set(backtest.trades["exit_reason"])
    if strategy.name == "mean_reversion" and strategy.mean_reversion.exit_on_high_volatility:
        assert "volatility" in reasons
    if rules.exit_on_opposite_signal and "wide exits" in variant:  # positions held long enough to see one
        assert "reversal" in reasons
    stopped = set(trader.signals()["stopped_by"])
    assert {"setup", "warmup", ""} <= stopped


def test_paper_trader_refuses_a_bar_without_the_strategys_feature_values(quarter):
    bars, minutes = quarter
    trader = PaperTrader(RulesConfig(), CostsConfig(), strategy=StrategyConfig(name="breakout"))
    with pytest.raises(ValueError, match="consolidation_score"):
        trader.on_bar(next(paper_bars(bars, minutes)), 0.7)
