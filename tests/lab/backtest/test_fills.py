"""Fill sensitivity: the same signals under both limit-fill rules, and the report's sentence."""

from __future__ import annotations

import math

import pytest

from lab.backtest import FillOutcome, FillSensitivity, fill_sensitivity, run_backtest
from lab.backtest.fills import fill_outcome, other_fill_rules
from lab.config import CostsConfig, RulesConfig
from lab.market.instruments import get_instrument
from lab.strategies import direction_signals
from tests.lab.backtest.helpers import random_probability

MES = get_instrument("MES")


def test_fill_sensitivity_reruns_the_signals_under_the_other_rule(wild_year):
    bars, minutes = wild_year
    rules = RulesConfig()
    signals = direction_signals(random_probability(bars, 8), rules)
    own = run_backtest(bars, signals, minutes, rules=rules)
    touch = run_backtest(bars, signals, minutes, rules=RulesConfig(limit_fill="touch"))
    sensitivity = fill_sensitivity(bars, signals, minutes, own, rules=rules, costs=CostsConfig(), instrument=MES)
    assert sensitivity.through == fill_outcome(own) and sensitivity.touch == fill_outcome(touch)
    assert sensitivity.touch.targets > sensitivity.through.targets > 0
    assert sensitivity.through.trades == len(own.trades)
    assert sensitivity.through.pnl_usd == pytest.approx(own.trades["pnl_usd"].sum())
    # without the result it runs the configured rule itself: the same figures
    again = fill_sensitivity(bars, signals, minutes, rules=rules, costs=CostsConfig(), instrument=MES)
    assert again == sensitivity


def test_fill_sensitivity_under_touch_runs_through_with_its_ticks(wild_year):
    bars, minutes = wild_year
    rules = RulesConfig(limit_fill="touch", limit_through_ticks=2)
    signals = direction_signals(random_probability(bars, 9), rules)
    sensitivity = fill_sensitivity(bars, signals, minutes, rules=rules, costs=CostsConfig(), instrument=MES)
    two_through = run_backtest(bars, signals, minutes, rules=RulesConfig(limit_through_ticks=2))
    assert sensitivity.limit_fill == "touch" and sensitivity.other == "through"
    assert sensitivity.through == fill_outcome(two_through)
    assert other_fill_rules(rules) == RulesConfig(limit_fill="through", limit_through_ticks=2)


def test_fill_sensitivity_metrics_name_both_rules():
    sensitivity = FillSensitivity("through", 1, through=FillOutcome(10, 12.345, 1.2, 6),
                                  touch=FillOutcome(11, 40.0, math.inf, 8))
    assert sensitivity.metrics("test_") == {
        "test_fill_through_trades": 10.0, "test_fill_through_pnl_usd": 12.35, "test_fill_through_profit_factor": 1.2,
        "test_fill_through_targets": 6.0, "test_fill_touch_trades": 11.0, "test_fill_touch_pnl_usd": 40.0,
        "test_fill_touch_profit_factor": math.inf, "test_fill_touch_targets": 8.0}


@pytest.mark.parametrize("rule, ticks, line", [
    ("through", 1, "Fill rule: through (1 tick); under touch: 412 trades, -$1,234.50, profit factor 0.91"),
    ("touch", 2, "Fill rule: touch; under through (2 ticks): 400 trades, $10.00, profit factor 1.05"),
])
def test_fill_sensitivity_line_states_the_rule_and_the_other_rules_figures(rule, ticks, line):
    through, touch = FillOutcome(400, 10.0, 1.05, 200), FillOutcome(412, -1234.5, 0.91, 260)
    assert FillSensitivity(rule, ticks, through=through, touch=touch).line() == line


def test_fill_sensitivity_line_of_no_trade_says_no_profit_factor():
    empty = FillOutcome(0, 0.0, math.nan, 0)
    assert FillSensitivity("through", 1, empty, empty).line().endswith("0 trades, $0.00, profit factor n/a")
