"""The mean-reversion strategy (PLAN phase 3.6): RSI(7) extremes while low volatility is predicted.

Long when the volatility model's P(high range) is below ``max_volatility_probability``, RSI(7) is
below ``rsi_oversold`` and the close lies at least ``min_ema_deviation_pct`` percent below its
EMA(21); short on the mirror image (RSI above ``rsi_overbought``, close that far above the EMA).
With ``skip_first_and_last_hour`` bars in the session's first or last hour give no signal.
Confidence is ``1 - P(high range)``. Exits: its own target / stop / time stop (4 / 4 ticks, 3 bars)
and, with ``exit_on_high_volatility``, a market exit at the next open once P(high range) reaches
``high_volatility_probability`` (exit reason ``"volatility"``).

Signal rules only: the features it reads (:data:`lab.strategy_features.MEAN_REVERSION_FEATURES`)
live in the feature layer, :mod:`lab.strategy_features`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import ExitParams, StrategySignals
from lab.config import MeanReversionConfig
from lab.strategies._inputs import aligned_probability, require_feature_columns
from lab.strategy_features import mean_reversion_features

__all__ = ["mean_reversion_signals"]


def mean_reversion_signals(
    bars: pd.DataFrame,
    volatility_probability: pd.Series,
    config: MeanReversionConfig | None = None,
    *,
    features: pd.DataFrame | None = None,
    high_volatility_probability: float = 0.5,
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
        Precomputed :func:`lab.strategy_features.mean_reversion_features`; computed from ``bars``
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
    require_feature_columns(features, ("mr_rsi_7", "mr_ema21_deviation_pct", "mr_is_midday"), "mean_reversion_signals")
    rsi7 = features["mr_rsi_7"].reindex(bars.index).to_numpy(np.float64)
    deviation = features["mr_ema21_deviation_pct"].reindex(bars.index).to_numpy(np.float64)
    midday = features["mr_is_midday"].reindex(bars.index).to_numpy(np.float64) == 1.0
    p = vol.to_numpy()
    with np.errstate(invalid="ignore"):
        calm = p < config.max_volatility_probability
        if config.skip_first_and_last_hour:
            calm &= midday
        long_ = calm & (rsi7 < config.rsi_oversold) & (deviation <= -config.min_ema_deviation_pct)
        short = calm & (rsi7 > config.rsi_overbought) & (deviation >= config.min_ema_deviation_pct)
        exit_flag = (p >= high_volatility_probability) if config.exit_on_high_volatility else np.zeros(len(p), bool)
    signal = np.where(long_, 1, np.where(short, -1, 0)).astype(np.int8)
    return StrategySignals(
        name="mean_reversion",
        signal=pd.Series(signal, index=bars.index, name="signal"),
        confidence=(1.0 - vol).rename("confidence"),
        probability=vol.rename("probability"),
        exits=ExitParams(config.profit_target_ticks, config.stop_loss_ticks, config.time_stop_bars),
        exit_signal=pd.Series(exit_flag, index=bars.index, name="exit_signal"),
        exit_signal_reason="volatility",
    )
