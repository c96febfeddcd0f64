"""The breakout strategy (PLAN phase 3.5): consolidation + predicted volatility + range position.

A consolidating market (``consolidation_score`` at or above a threshold) for which the volatility
model predicts a high-range regime is expected to break out; the side comes from the close's
position in its recent range: near the bottom (``range_position < range_low``) long, near the top
(``> range_high``) short, in the middle nothing. Confidence is the volatility probability.

Signal rules only: the features it reads (:data:`lab.features.strategy_sets.BREAKOUT_FEATURES`) live in
the feature layer, :mod:`lab.strategy_features`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from typing import Sequence

from lab.backtest.signals import ExitParams, StrategySignals
from lab.config import BreakoutConfig, RulesConfig, StrategyConfig
from lab.strategies._inputs import aligned_probability, require_feature_columns
from lab.strategies.base import P_HIGH_RANGE, Strategy, size_text
from lab.features.strategy_sets import BREAKOUT_FEATURES, breakout_features

__all__ = ["breakout_signals", "breakout_sides", "breakout_exits", "BREAKOUT_RULE_FEATURES", "breakout_confidence",
           "Breakout", "BREAKOUT"]

#: The feature columns the rule reads, in the order :func:`breakout_sides` takes them.
BREAKOUT_RULE_FEATURES = ("consolidation_score", "range_position")


def breakout_exits(config: BreakoutConfig) -> ExitParams:
    """The strategy's own exits: ``[strategy.breakout]`` target and stop (ticks) and time stop (bars)."""
    return ExitParams(config.profit_target_ticks, config.stop_loss_ticks, config.time_stop_bars)


def breakout_confidence(volatility_probability):
    """The signal's confidence (size tier, reversal): the volatility probability itself."""
    return volatility_probability


def breakout_sides(consolidation_score: np.ndarray, range_position: np.ndarray, volatility_probability: np.ndarray,
                   config: BreakoutConfig) -> np.ndarray:
    """The rule on plain arrays (one home for the backtest and the live bar): +1 long, -1 short, 0 (int8).

    ``consolidation_score`` (0..1), ``range_position`` (0 = recent low, 1 = recent high) and
    ``volatility_probability`` (P(high range)) per bar, equal shapes; NaN anywhere gives 0.
    """
    score, position, p = (np.asarray(x, dtype=np.float64) for x in
                          (consolidation_score, range_position, volatility_probability))
    with np.errstate(invalid="ignore"):
        setup = (score >= config.min_consolidation_score) & (p >= config.min_volatility_probability)
        long_ = setup & (position < config.range_low)
        short = setup & (position > config.range_high)
    return np.where(long_, 1, np.where(short, -1, 0)).astype(np.int8)


def breakout_signals(
    bars: pd.DataFrame,
    volatility_probability: pd.Series,
    config: BreakoutConfig | None = None,
    *,
    features: pd.DataFrame | None = None,
) -> StrategySignals:
    """Breakout entries: consolidated, high volatility predicted, close near a range edge.

    Long when ``consolidation_score >= min_consolidation_score``, ``volatility_probability >=
    min_volatility_probability`` and ``range_position < range_low``; short under the same two
    conditions with ``range_position > range_high``. NaN inputs give no signal.

    Parameters
    ----------
    bars : pandas.DataFrame
        Regular-session bars (see :func:`lab.features.strategy_sets.breakout_features`).
    volatility_probability : pandas.Series of float
        The volatility model's P(high range) at each bar's close, aligned to ``bars``.
    config : BreakoutConfig, optional
        Thresholds and exits (6-tick target, 8-tick stop, 6 bars by default).
    features : pandas.DataFrame, optional
        Precomputed :func:`lab.features.strategy_sets.breakout_features` (e.g. from the feature
        cache); computed from ``bars`` if omitted.

    Returns
    -------
    StrategySignals
        ``probability`` and ``confidence`` are the volatility probability.
    """
    config = config or BreakoutConfig()
    vol = aligned_probability(volatility_probability, bars, "volatility_probability")
    if features is None:
        features = breakout_features(bars)
    require_feature_columns(features, BREAKOUT_RULE_FEATURES, "breakout_signals")
    score, position = (features[c].reindex(bars.index).to_numpy(np.float64) for c in BREAKOUT_RULE_FEATURES)
    signal = breakout_sides(score, position, vol.to_numpy(), config)
    return StrategySignals(
        name="breakout",
        signal=pd.Series(signal, index=bars.index, name="signal"),
        confidence=breakout_confidence(vol).rename("confidence"),
        probability=vol.rename("probability"),
        exits=breakout_exits(config),
    )


class Breakout(Strategy):
    """The breakout strategy as one object (see the module docstring); settings ``[strategy.breakout]``."""

    def exits(self, strategy: StrategyConfig, rules: RulesConfig) -> ExitParams:
        return breakout_exits(strategy.breakout)

    def confidence(self, probability):
        return breakout_confidence(probability)

    def sides(self, features: Sequence[np.ndarray], probability: np.ndarray, strategy: StrategyConfig,
              rules: RulesConfig, long_only: bool = False) -> np.ndarray:
        return breakout_sides(*features, probability, strategy.breakout)

    def signals(self, bars: pd.DataFrame, probability: pd.Series, strategy: StrategyConfig, rules: RulesConfig | None,
                *, features: pd.DataFrame | None = None, long_only: bool = False) -> StrategySignals:
        return breakout_signals(bars, probability, strategy.breakout, features=features)

    def entry_rule_text(self, strategy: StrategyConfig, rules: RulesConfig) -> str:
        b = strategy.breakout
        return (f"long when consolidation score >= {b.min_consolidation_score:g}, P(high range) >= "
                f"{b.min_volatility_probability:g} and range position < {b.range_low:g}; short with range position > "
                f"{b.range_high:g}; confidence P(high range): {size_text(rules)}")


#: The breakout strategy: P(high range), the breakout feature set, exits of ``[strategy.breakout]``.
BREAKOUT = Breakout(name="breakout", model_input=P_HIGH_RANGE,
                    description="a consolidating market expected to turn volatile, entered from the edge of its range",
                    feature_set="breakout", features=BREAKOUT_FEATURES, rule_features=BREAKOUT_RULE_FEATURES)
