"""The mean-reversion strategy (PLAN phase 3.6): RSI(7) extremes while low volatility is predicted.

Long when the volatility model's P(high range) is below ``max_volatility_probability``, RSI(7) is
below ``rsi_oversold`` and the close lies at least ``min_ema_deviation_pct`` percent below its
EMA(21); short on the mirror image (RSI above ``rsi_overbought``, close that far above the EMA).
With ``skip_first_and_last_hour`` bars in the session's first or last hour give no signal.
Confidence is ``1 - P(high range)``. Exits: its own target / stop / time stop (4 / 4 ticks, 3 bars)
and, with ``exit_on_high_volatility``, a market exit at the next open once P(high range) reaches
``high_volatility_probability`` (exit reason ``"volatility"``).

Signal rules only: the features it reads (:data:`lab.features.strategy_sets.MEAN_REVERSION_FEATURES`)
live in the feature layer, :mod:`lab.strategy_features`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from typing import Sequence

from lab.backtest.signals import ExitParams, StrategySignals
from lab.config import MeanReversionConfig, RulesConfig, StrategyConfig
from lab.strategies._inputs import aligned_probability, require_feature_columns
from lab.strategies.base import P_HIGH_RANGE, Strategy, size_text
from lab.features.strategy_sets import MEAN_REVERSION_FEATURES, mean_reversion_features

__all__ = ["mean_reversion_signals", "mean_reversion_sides", "high_volatility_exit", "mean_reversion_exits",
           "MEAN_REVERSION_RULE_FEATURES", "HIGH_VOLATILITY_PROBABILITY", "EXIT_SIGNAL_REASON",
           "mean_reversion_confidence", "MeanReversion", "MEAN_REVERSION"]

#: The feature columns the rule reads, in the order :func:`mean_reversion_sides` takes them.
MEAN_REVERSION_RULE_FEATURES = ("mr_rsi_7", "mr_ema21_deviation_pct", "mr_is_midday")
#: The ``exit_reason`` of a trade closed by the high-volatility exit.
EXIT_SIGNAL_REASON = "volatility"
#: P(high range) at or above which an open position leaves at the next open (not yet a config field).
HIGH_VOLATILITY_PROBABILITY = 0.5


def mean_reversion_exits(config: MeanReversionConfig) -> ExitParams:
    """The strategy's own exits: ``[strategy.mean_reversion]`` target and stop (ticks), time stop (bars)."""
    return ExitParams(config.profit_target_ticks, config.stop_loss_ticks, config.time_stop_bars)


def mean_reversion_confidence(volatility_probability):
    """The signal's confidence (size tier, reversal): ``1 - P(high range)``."""
    return 1.0 - volatility_probability


def mean_reversion_sides(rsi_7: np.ndarray, ema21_deviation_pct: np.ndarray, is_midday: np.ndarray,
                         volatility_probability: np.ndarray, config: MeanReversionConfig) -> np.ndarray:
    """The entry rule on plain arrays (one home for the backtest and the live bar): +1, -1 or 0 (int8).

    ``rsi_7`` (0..100), ``ema21_deviation_pct`` (percent of the EMA), ``is_midday`` (1.0 outside
    the session's first and last hour) and ``volatility_probability`` per bar; NaN gives 0.
    """
    rsi7, deviation, midday_flag, p = (np.asarray(x, dtype=np.float64) for x in
                                       (rsi_7, ema21_deviation_pct, is_midday, volatility_probability))
    with np.errstate(invalid="ignore"):
        calm = p < config.max_volatility_probability
        if config.skip_first_and_last_hour:
            calm &= midday_flag == 1.0
        long_ = calm & (rsi7 < config.rsi_oversold) & (deviation <= -config.min_ema_deviation_pct)
        short = calm & (rsi7 > config.rsi_overbought) & (deviation >= config.min_ema_deviation_pct)
    return np.where(long_, 1, np.where(short, -1, 0)).astype(np.int8)


def high_volatility_exit(volatility_probability: np.ndarray, config: MeanReversionConfig,
                         high_volatility_probability: float = HIGH_VOLATILITY_PROBABILITY) -> np.ndarray:
    """Whether an open position leaves at the next open (exit reason ``"volatility"``), per bar (bool)."""
    p = np.asarray(volatility_probability, dtype=np.float64)
    if not config.exit_on_high_volatility:
        return np.zeros(p.shape, bool)
    with np.errstate(invalid="ignore"):
        return p >= high_volatility_probability


def mean_reversion_signals(
    bars: pd.DataFrame,
    volatility_probability: pd.Series,
    config: MeanReversionConfig | None = None,
    *,
    features: pd.DataFrame | None = None,
    high_volatility_probability: float = HIGH_VOLATILITY_PROBABILITY,
) -> StrategySignals:
    """Mean-reversion entries and the high-volatility exit (see the module docstring).

    Parameters
    ----------
    bars : pandas.DataFrame
        Regular-session bars.
    volatility_probability : pandas.Series of float
        The volatility model's P(high range) at each bar's close, aligned to ``bars``.
    config : MeanReversionConfig, optional
        Thresholds and exits; default ``MeanReversionConfig()``.
    features : pandas.DataFrame, optional
        Precomputed :func:`lab.features.strategy_sets.mean_reversion_features`; computed from ``bars``
        if omitted.
    high_volatility_probability : float, default 0.5
        P(high range) at or above which an open position is closed at the next open (when
        ``config.exit_on_high_volatility``). Not yet a configuration field.

    Returns
    -------
    StrategySignals
        ``probability`` is the volatility probability, ``confidence`` is ``1 - probability``.
    """
    config = config or MeanReversionConfig()
    vol = aligned_probability(volatility_probability, bars, "volatility_probability")
    if features is None:
        features = mean_reversion_features(bars)
    require_feature_columns(features, MEAN_REVERSION_RULE_FEATURES, "mean_reversion_signals")
    rsi7, deviation, midday = (features[c].reindex(bars.index).to_numpy(np.float64) for c in MEAN_REVERSION_RULE_FEATURES)
    p = vol.to_numpy()
    signal = mean_reversion_sides(rsi7, deviation, midday, p, config)
    exit_flag = high_volatility_exit(p, config, high_volatility_probability)
    return StrategySignals(
        name="mean_reversion",
        signal=pd.Series(signal, index=bars.index, name="signal"),
        confidence=mean_reversion_confidence(vol).rename("confidence"),
        probability=vol.rename("probability"),
        exits=mean_reversion_exits(config),
        exit_signal=pd.Series(exit_flag, index=bars.index, name="exit_signal"),
        exit_signal_reason=EXIT_SIGNAL_REASON,
    )


class MeanReversion(Strategy):
    """The mean-reversion strategy as one object (see the module docstring); settings ``[strategy.mean_reversion]``."""

    def exits(self, strategy: StrategyConfig, rules: RulesConfig) -> ExitParams:
        return mean_reversion_exits(strategy.mean_reversion)

    def confidence(self, probability):
        return mean_reversion_confidence(probability)

    def sides(self, features: Sequence[np.ndarray], probability: np.ndarray, strategy: StrategyConfig,
              rules: RulesConfig, long_only: bool = False) -> np.ndarray:
        return mean_reversion_sides(*features, probability, strategy.mean_reversion)

    def exit_flags(self, probability: np.ndarray, strategy: StrategyConfig) -> np.ndarray:
        return high_volatility_exit(probability, strategy.mean_reversion)

    def signals(self, bars: pd.DataFrame, probability: pd.Series, strategy: StrategyConfig, rules: RulesConfig | None,
                *, features: pd.DataFrame | None = None, long_only: bool = False) -> StrategySignals:
        return mean_reversion_signals(bars, probability, strategy.mean_reversion, features=features)

    def entry_rule_text(self, strategy: StrategyConfig, rules: RulesConfig) -> str:
        m = strategy.mean_reversion
        text = (f"long when P(high range) < {m.max_volatility_probability:g}, RSI(7) < {m.rsi_oversold:g} and the close "
                f"{m.min_ema_deviation_pct:g} % or more below EMA(21); short on the mirror (RSI(7) > {m.rsi_overbought:g})")
        if m.skip_first_and_last_hour:
            text += ", not in the session's first or last hour"
        if m.exit_on_high_volatility:
            text += f"; market exit at the next open once P(high range) >= {HIGH_VOLATILITY_PROBABILITY:g}"
        return text + f"; confidence 1 - P(high range): {size_text(rules)}"


#: The mean-reversion strategy: P(high range), its feature set, exits of ``[strategy.mean_reversion]``
#: and the high-volatility market exit.
MEAN_REVERSION = MeanReversion(
    name="mean_reversion", model_input=P_HIGH_RANGE,
    description="RSI(7) extremes far from EMA(21) faded while a calm market is predicted",
    feature_set="mean_reversion", features=MEAN_REVERSION_FEATURES, rule_features=MEAN_REVERSION_RULE_FEATURES,
    exit_reason=EXIT_SIGNAL_REASON)
