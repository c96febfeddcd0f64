"""Look-ahead-free indicator primitives shared by the features and the strategies (points)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.features.spec import ema_com, wilder_com

__all__ = ["wilder", "ema", "rsi", "true_range", "atr", "feature_frame"]


def wilder(values: pd.Series, period: int) -> pd.Series:
    """Wilder's smoothing: an EMA with alpha = 1 / ``period`` bars."""
    return values.ewm(com=wilder_com(period), adjust=False).mean()


def ema(values: pd.Series, span: int) -> pd.Series:
    """Exponential moving average with span ``span`` bars (no bias adjustment)."""
    return values.ewm(com=ema_com(span), adjust=False).mean()


def rsi(close: pd.Series, period: int) -> pd.Series:
    """Wilder RSI (0-100) of ``close`` changes over ``period`` bars; 50 where nothing moved, NaN on the first bar."""
    change = close.diff().to_numpy()
    # np.maximum keeps the first bar's NaN, as Series.clip does; the arithmetic below is numpy's (pandas's
    # per-operation overhead was most of an RSI on the audit's short prefixes).
    gain = wilder(pd.Series(np.maximum(change, 0.0), index=close.index), period).to_numpy()
    loss = wilder(pd.Series(np.maximum(-change, 0.0), index=close.index), period).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + gain / loss)
    out = np.where(loss == 0, 100.0, out)
    out = np.where((loss == 0) & (gain == 0), 50.0, out)
    return pd.Series(np.where(np.isnan(change), np.nan, out), index=close.index, name=close.name)


def true_range(bars: pd.DataFrame) -> pd.Series:
    """max(high - low, |high - previous close|, |low - previous close|), points (the first bar: high - low)."""
    high, low, close = (bars[c].to_numpy(dtype="float64") for c in ("high", "low", "close"))
    previous = np.r_[np.nan, close[:-1]]
    # fmax skips NaN like DataFrame.max(axis=1): the first bar, without a previous close, gets high - low
    return pd.Series(np.fmax(np.fmax(high - low, np.abs(high - previous)), np.abs(low - previous)), index=bars.index)


def atr(bars: pd.DataFrame, period: int) -> pd.Series:
    """Wilder average true range over ``period`` bars, points."""
    return wilder(true_range(bars), period)


def feature_frame(columns: dict[str, pd.Series | np.ndarray], names: tuple[str, ...] | list[str],
                  index: pd.Index) -> pd.DataFrame:
    """The float64 frame of ``columns`` in the order of ``names``, infinities as NaN.

    Each value is a Series on ``index`` (as every feature of the bars is) or an array of its length;
    one 2-D array is filled instead of a frame of Series reordered, converted and replaced.
    """
    values = np.empty((len(names), len(index)), dtype=np.float64)  # one row per column: pandas's own layout
    for position, name in enumerate(names):
        values[position] = np.asarray(columns[name], dtype=np.float64)
    values[np.isinf(values)] = np.nan
    return pd.DataFrame(values.T, index=index, columns=list(names), copy=False)  # values is ours: not copied again
