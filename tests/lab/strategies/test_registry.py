"""The registry of strategies: each one complete and found by name; no code dispatches on a name."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from lab.backtest import BacktestInputError, ExitParams
from lab.config import TARGET_NAMES, FeaturesConfig, RulesConfig, StrategyConfig
from lab.dataset.build import OPTIONAL_SETS
from lab.errors import ConfigError
from lab.live.features import OPTIONAL_SET_NAMES
from lab.strategies import MODEL_INPUTS, STRATEGIES, STRATEGY_NAMES, Strategy, get_strategy
from tests.conftest import PROJECT_ROOT

#: Values of every column an entry rule reads (a new strategy's rule features belong here too).
RULE_FEATURE_VALUES = {
    "consolidation_score": lambda rng, n: rng.uniform(0, 1, n),
    "range_position": lambda rng, n: rng.uniform(0, 1, n),
    "mr_rsi_7": lambda rng, n: rng.uniform(0, 100, n),
    "mr_ema21_deviation_pct": lambda rng, n: rng.normal(0, 0.3, n),
    "mr_is_midday": lambda rng, n: rng.integers(0, 2, n).astype(float),
}


def test_get_strategy_finds_each_strategy_by_its_name():
    assert STRATEGY_NAMES == ("direction", "breakout", "mean_reversion")
    assert all(get_strategy(name) is STRATEGIES[name] and STRATEGIES[name].name == name for name in STRATEGY_NAMES)


def test_get_strategy_refuses_an_unknown_name_listing_the_known_ones():
    with pytest.raises(BacktestInputError, match="strategy 'momentum' is not one of direction, breakout, mean_reversion"):
        get_strategy("momentum")


def test_the_configuration_accepts_exactly_the_registered_strategies():
    for name in STRATEGY_NAMES:
        StrategyConfig(name=name).validate()
    with pytest.raises(ConfigError, match=re.escape(f"name = 'momentum' is not one of {', '.join(STRATEGY_NAMES)}")):
        StrategyConfig(name="momentum").validate()


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_every_registered_strategy_is_complete(name):
    """Model input, targets, feature set, description, exits; and its batch signals, array rule,
    confidence, exit and one-bar rule agree on random rows (NaNs included)."""
    strategy = get_strategy(name)
    assert isinstance(strategy, Strategy) and strategy.model_input in MODEL_INPUTS and strategy.description
    assert strategy.targets and set(strategy.targets) <= set(TARGET_NAMES)
    if strategy.feature_set:  # an optional set featurize builds and the live state keeps
        FeaturesConfig(optional_sets=(strategy.feature_set,)).validate()
        assert strategy.features == OPTIONAL_SETS[strategy.feature_set][1]
        assert strategy.features == OPTIONAL_SET_NAMES[strategy.feature_set]
    assert set(strategy.rule_features) <= set(strategy.features)
    config, rules = StrategyConfig(name=name), RulesConfig()
    exits = strategy.exits(config, rules)
    assert isinstance(exits, ExitParams) and "contracts at confidence" in strategy.entry_rule_text(config, rules)

    rng = np.random.default_rng(3)
    n = 400
    index = pd.date_range("2023-03-01 10:00", periods=n, freq="5min", tz="America/New_York")
    features = pd.DataFrame({c: RULE_FEATURE_VALUES[c](rng, n) for c in strategy.rule_features}, index=index)
    features = features.mask(rng.random(features.shape) < 0.03)
    p = pd.Series(rng.uniform(0, 1, n), index=index).mask(rng.random(n) < 0.05)
    signals = strategy.signals(pd.DataFrame(index=index), p, config, rules, features=features)
    columns = [features[c].to_numpy() for c in strategy.rule_features]
    sides = strategy.sides(columns, p.to_numpy(), config, rules)
    assert signals.name == name and signals.exits == exits
    assert (sides != 0).sum() > 5
    np.testing.assert_array_equal(signals.signal.to_numpy(), sides)
    np.testing.assert_allclose(signals.confidence.to_numpy(), strategy.confidence(p.to_numpy()))
    flags = strategy.exit_flags(p.to_numpy(), config)
    if flags is None:
        assert signals.exit_signal is None
        flags = np.zeros(n, bool)
    else:
        np.testing.assert_array_equal(signals.exit_signal.to_numpy(), flags)
        assert signals.exit_signal_reason == strategy.exit_reason
    for long_only in (False, True):
        sides = strategy.sides(columns, p.to_numpy(), config, rules, long_only)
        for i in range(n):
            values = tuple(float(column[i]) for column in columns)
            signal, stopped_by = strategy.bar_side(float(p.iloc[i]), values, config, rules, long_only)
            assert signal == sides[i] and (stopped_by == "") == (signal != 0)
            assert strategy.bar_exit(float(p.iloc[i]), config) == flags[i]


#: A comparison with a strategy's name, or a membership test in a literal list of names.
_NAMES = "|".join(STRATEGY_NAMES)
LADDER = re.compile(rf"""(==|!=)\s*['"]({_NAMES})['"]|['"]({_NAMES})['"]\s*(==|!=)"""
                    rf"""|\bin\s*[(\[{{]\s*['"]({_NAMES})['"]""")


def test_no_code_dispatches_on_a_strategy_name():
    """Strategies are asked through the registry; ``if name == "breakout"`` ladders are gone for good."""
    assert LADDER.search('if strategy.name == "breakout":') and LADDER.search("elif 'direction' != role:")
    assert LADDER.search('if name in ("breakout", "mean_reversion"):') and not LADDER.search('name="breakout"')
    found = []
    for package in ("lab", "jobs", "registry", "cli"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if LADDER.search(line):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert found == []
