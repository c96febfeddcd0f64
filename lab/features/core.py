"""The 24 technical features of the plan, computed from regular-session 5-minute bars.

Every feature at bar *t* uses bars ``<= t`` only (bar *t* is complete at its close, when the
signal is taken). Indicators run continuously across sessions over the regular-session bars,
except the VWAP, which resets at each session open. Price-based features are scale-free
(fractions of the close), so 2019 (MES ~2,900) and 2025 (~6,000) are comparable.

=====================  =======================================================================
feature                definition (units)
=====================  =======================================================================
return_{1,3,6,12,24}bar close / close k bars ago - 1 (fraction)
close_vs_ema{8,21,50,200} close / EMA(n) of close - 1 (fraction; EMA span n, no bias adjust)
rsi_7, rsi_14          Wilder RSI of close changes (0-100)
macd                   (EMA12 - EMA26) / close (fraction)
macd_signal            EMA9 of macd (fraction)
macd_hist              macd - macd_signal (fraction)
atr_14                 Wilder average true range over 14 bars / close (fraction)
bb_width               (upper - lower) / middle of Bollinger bands (20 bars, 2 std) (fraction)
bar_range              (high - low) / close of this bar (fraction)
volume_ratio_20        volume / mean volume of the last 20 bars (ratio)
volume_trend           mean volume of 5 bars / mean of 20 bars - 1 (fraction)
vwap_deviation         close / session VWAP - 1; VWAP of typical price, resets each session
time_of_day            bar start in ET decimal hours (09:30 -> 9.5)
minutes_since_open     minutes from the session open to the bar start (0 for the first bar)
is_first_hour          1.0 when the bar starts within 60 minutes of the open
is_last_hour           1.0 when the bar starts within 60 minutes of the close (early closes honoured)
=====================  =======================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.errors import DataError
from lab.features.spec import (ATR_PERIOD_BARS, BOLLINGER_BARS, BOLLINGER_STDS, EMA_SPANS_BARS, FIRST_HOUR_MINUTES,
                              LAST_HOUR_MINUTES, MACD_FAST_BARS, MACD_SIGNAL_BARS, MACD_SLOW_BARS, RETURN_LAGS_BARS,
                              RSI_PERIODS_BARS, VOLUME_LONG_BARS, VOLUME_SHORT_BARS)
from lab.features.indicators import atr, ema, feature_frame, rsi

__all__ = ["FEATURE_NAMES", "compute_features", "session_vwap", "rsi"]

FEATURE_NAMES: tuple[str, ...] = (
    "return_1bar",
    "return_3bar",
    "return_6bar",
    "return_12bar",
    "return_24bar",
    "close_vs_ema8",
    "close_vs_ema21",
    "close_vs_ema50",
    "close_vs_ema200",
    "rsi_7",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "atr_14",
    "bb_width",
    "bar_range",
    "volume_ratio_20",
    "volume_trend",
    "vwap_deviation",
    "time_of_day",
    "minutes_since_open",
    "is_first_hour",
    "is_last_hour",
)

_REQUIRED = ("open", "high", "low", "close", "volume", "session", "session_open", "session_close")


def session_vwap(bars: pd.DataFrame) -> pd.Series:
    """Volume-weighted average typical price ((H+L+C)/3), cumulative within each session (points)."""
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
    volume = bars["volume"].astype("float64")
    session = bars["session"]
    cum_pv = (typical * volume).groupby(session, sort=False).cumsum()
    cum_v = volume.groupby(session, sort=False).cumsum()
    return (cum_pv / cum_v.where(cum_v > 0)).fillna(typical)


def compute_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The 24 features for every bar (warm-up rows are *not* dropped here).

    Parameters
    ----------
    bars : DataFrame
        Regular-session bars from :func:`lab.data.bars.regular_session_bars`.

    Returns
    -------
    DataFrame
        Same index, the columns of :data:`FEATURE_NAMES` as float64.
    """
    missing = [c for c in _REQUIRED if c not in bars.columns]
    if missing:
        raise DataError(f"bars lack column(s) {missing}; build them with lab.data.bars.regular_session_bars")
    close = bars["close"]
    c, high, low = close.to_numpy(dtype="float64"), bars["high"].to_numpy(dtype="float64"), bars["low"].to_numpy(dtype="float64")
    volume = bars["volume"].astype("float64")
    v = volume.to_numpy()
    # Arithmetic on arrays (the same operations in the same order as on Series, so the same bits);
    # pandas for the recursive and rolling indicators. Per-operation overhead was most of a short prefix's cost.
    out: dict[str, pd.Series | np.ndarray] = {}
    for k in RETURN_LAGS_BARS:
        out[f"return_{k}bar"] = c / close.shift(k).to_numpy() - 1.0
    for n in EMA_SPANS_BARS:
        out[f"close_vs_ema{n}"] = c / ema(close, n).to_numpy() - 1.0
    for n in RSI_PERIODS_BARS:
        out[f"rsi_{n}"] = rsi(close, n)
    macd = pd.Series((ema(close, MACD_FAST_BARS).to_numpy() - ema(close, MACD_SLOW_BARS).to_numpy()) / c, index=bars.index)
    signal = ema(macd, MACD_SIGNAL_BARS).to_numpy()
    out["macd"], out["macd_signal"], out["macd_hist"] = macd, signal, macd.to_numpy() - signal
    out["atr_14"] = atr(bars, ATR_PERIOD_BARS).to_numpy() / c
    middle = close.rolling(BOLLINGER_BARS).mean().to_numpy()
    out["bb_width"] = 2.0 * BOLLINGER_STDS * close.rolling(BOLLINGER_BARS).std(ddof=0).to_numpy() / middle
    out["bar_range"] = (high - low) / c
    mean_volume_20 = volume.rolling(VOLUME_LONG_BARS).mean().to_numpy()
    out["volume_ratio_20"] = v / mean_volume_20
    out["volume_trend"] = volume.rolling(VOLUME_SHORT_BARS).mean().to_numpy() / mean_volume_20 - 1.0
    out["vwap_deviation"] = c / session_vwap(bars).to_numpy() - 1.0
    stamp = bars.index
    local_minutes = stamp.hour * 60 + stamp.minute
    out["time_of_day"] = pd.Series(local_minutes / 60.0, index=stamp)
    since_open = (stamp - pd.DatetimeIndex(bars["session_open"])).total_seconds() / 60.0
    to_close = (pd.DatetimeIndex(bars["session_close"]) - stamp).total_seconds() / 60.0
    out["minutes_since_open"] = pd.Series(np.asarray(since_open), index=stamp)
    out["is_first_hour"] = pd.Series((np.asarray(since_open) < FIRST_HOUR_MINUTES).astype("float64"), index=stamp)
    out["is_last_hour"] = pd.Series((np.asarray(to_close) <= LAST_HOUR_MINUTES).astype("float64"), index=stamp)
    return feature_frame(out, FEATURE_NAMES, bars.index)
