"""Strategies: features and model probabilities in, :class:`lab.backtest.StrategySignals` out.

One object per strategy (:class:`lab.strategies.base.Strategy`: model input, feature set, entry
rule, exits, confidence, description), one registry of them (:mod:`lab.strategies.registry`,
:func:`get_strategy`); the features they read live in the feature layer
(:mod:`lab.features.strategy_sets`), and the one engine in :mod:`lab.backtest` executes every
strategy under the same trading rules (:mod:`lab.strategies.run`).

=================  ==========================================  =================================
strategy           inputs                                      exits
=================  ==========================================  =================================
direction          P(up)                                       rules (6 / 8 ticks, 6 bars)
breakout           P(high volatility), breakout features       [strategy.breakout]
mean_reversion     P(high volatility), mean-reversion features  [strategy.mean_reversion] + vol exit
=================  ==========================================  =================================
"""

from __future__ import annotations

from lab.strategies.base import DIRECTION_TARGETS, MODEL_INPUTS, VOLATILITY_TARGETS, ModelInput, Strategy
from lab.strategies.breakout import BREAKOUT, breakout_signals
from lab.strategies.direction import DIRECTION, LONG_ONLY_TARGETS, direction_signals, long_only_for_target
from lab.strategies.mean_reversion import MEAN_REVERSION, mean_reversion_signals
from lab.strategies.registry import (STRATEGIES, STRATEGY_NAMES, entry_rule_text, get_strategy, strategy_exits,
                                     targets_for)
from lab.strategies.run import backtest_strategy, build_signals, strategy_fill_sensitivity

__all__ = [
    "Strategy",
    "ModelInput",
    "MODEL_INPUTS",
    "STRATEGIES",
    "STRATEGY_NAMES",
    "get_strategy",
    "DIRECTION",
    "BREAKOUT",
    "MEAN_REVERSION",
    "DIRECTION_TARGETS",
    "VOLATILITY_TARGETS",
    "targets_for",
    "strategy_exits",
    "entry_rule_text",
    "build_signals",
    "backtest_strategy",
    "strategy_fill_sensitivity",
    "direction_signals",
    "long_only_for_target",
    "LONG_ONLY_TARGETS",
    "breakout_signals",
    "mean_reversion_signals",
]
