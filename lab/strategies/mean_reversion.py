"""The mean-reversion strategy (PLAN phase 3.6): RSI(7) extremes while low volatility is predicted.

Long when the volatility model's P(high range) is below ``max_volatility_probability``, RSI(7) is
below ``rsi_oversold`` and the close lies at least ``min_ema_deviation_pct`` percent below its
EMA(21); short on the mirror image (RSI above ``rsi_overbought``, close that far above the EMA).
With ``skip_first_and_last_hour`` bars in the session's first or last hour give no signal.
Confidence is ``1 - P(high range)``. Exits: its own target / stop / time stop (4 / 4 ticks, 3 bars)
and, with ``exit_on_high_volatility``, a market exit at the next open once P(high range) reaches
``high_volatility_probability`` (exit reason ``"volatility"``).

Its feature set (:data:`MEAN_REVERSION_FEATURES`, prefixed ``mr_`` so it never collides with the
24 core features), each at bar *t* from bars ``<= t`` only:

=========================  ==================================================================
feature                    definition (units)
=========================  ==================================================================
mr_rsi_7                   Wilder RSI over 7 bars (0-100)
mr_ema21_deviation_pct     (close / EMA21 - 1) * 100 (percent)
mr_bb_percent_b            (close - lower band) / (upper - lower), Bollinger(20, 2 sd) (fraction)
mr_zscore_20               (close - 20-bar mean) / 20-bar sd (sd units)
mr_is_midday               1.0 when the bar starts >= 60 min after the open and > 60 min before the close
=========================  ==================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import ExitParams, StrategySignals
from lab.config import MeanReversionConfig
from lab.strategies._indicators import aligned_probability, ema, require_columns, rsi

__all__ = ["MEAN_REVERSION_FEATURES", "mean_reversion_features", "mean_reversion_signals"]

MEAN_REVERSION_FEATURES: tuple[str, ...] = (
    "mr_rsi_7",
    "mr_ema21_deviation_pct",
    "mr_bb_percent_b",
    "mr_zscore_20",
    "mr_is_midday",
)

_REQUIRED = ("close", "session_open", "session_close")


def mean_reversion_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The mean-reversion feature set for every bar (warm-up rows NaN, not dropped).

    Parameters
    ----------
    bars : pandas.DataFrame
        Regular-session 5-minute bars (``close`` points, ``session_open``, ``session_close``).

    Returns
    -------
    pandas.DataFrame
        Same index, columns :data:`MEAN_REVERSION_FEATURES`, float64.
    """
    require_columns(bars, _REQUIRED, "mean_reversion_features")
    close = bars["close"].astype("float64")
    middle = close.rolling(20).mean()
    deviation = close.rolling(20).std(ddof=0)
    band = 4.0 * deviation
    stamp = bars.index
    since_open = (stamp - pd.DatetimeIndex(bars["session_open"])).total_seconds().to_numpy() / 60.0
    to_close = (pd.DatetimeIndex(bars["session_close"]) - stamp).total_seconds().to_numpy() / 60.0
    out = pd.DataFrame(
        {
            "mr_rsi_7": rsi(close, 7),
            "mr_ema21_deviation_pct": (close / ema(close, 21) - 1.0) * 100.0,
            "mr_bb_percent_b": (close - (middle - 2.0 * deviation)) / band.where(band > 0),
            "mr_zscore_20": (close - middle) / deviation.where(deviation > 0),
            "mr_is_midday": ((since_open >= 60) & (to_close > 60)).astype("float64"),
        },
        index=bars.index,
    )
    return out.astype("float64").replace([np.inf, -np.inf], np.nan)


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
        Precomputed :func:`mean_reversion_features`; computed if omitted.
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
    require_columns(features, ("mr_rsi_7", "mr_ema21_deviation_pct", "mr_is_midday"), "mean_reversion_signals features")
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
