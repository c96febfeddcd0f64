"""Look-ahead-free indicator primitives shared by the features and the strategies (points)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.features.spec import ema_com, wilder_com

__all__ = ["wilder", "ema", "rsi", "true_range", "atr"]


def wilder(values: pd.Series, period: int) -> pd.Series:
    """Wilder's smoothing: an EMA with alpha = 1 / ``period`` bars."""
    return values.ewm(com=wilder_com(period), adjust=False).mean()


def ema(values: pd.Series, span: int) -> pd.Series:
    """Exponential moving average with span ``span`` bars (no bias adjustment)."""
    return values.ewm(com=ema_com(span), adjust=False).mean()


def rsi(close: pd.Series, period: int) -> pd.Series:
    """Wilder RSI (0-100) of ``close`` changes over ``period`` bars; 50 where nothing moved, NaN on the first bar."""
    change = close.diff()
    gain = wilder(change.clip(lower=0.0), period)
    loss = wilder((-change).clip(lower=0.0), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + gain / loss)
    out = out.mask(loss == 0, 100.0).mask((loss == 0) & (gain == 0), 50.0)
    return out.where(change.notna())


def true_range(bars: pd.DataFrame) -> pd.Series:
    """max(high - low, |high - previous close|, |low - previous close|), points."""
    previous = bars["close"].shift(1)
    return pd.concat(
        [bars["high"] - bars["low"], (bars["high"] - previous).abs(), (bars["low"] - previous).abs()], axis=1
    ).max(axis=1)


def atr(bars: pd.DataFrame, period: int) -> pd.Series:
    """Wilder average true range over ``period`` bars, points."""
    return wilder(true_range(bars), period)
