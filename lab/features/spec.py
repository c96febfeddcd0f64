"""One home for the feature definitions the batch pipeline and the live state share.

The window lengths, smoothing constants and small formulas below are imported by
:mod:`lab.indicators` / :mod:`lab.features` (pandas, whole tables) and by :mod:`lab.live`
(one bar at a time, plain floats). Nothing here imports pandas.

Smoothing constants are given as a *centre of mass* ``com``: pandas turns every ``ewm`` argument
into one and smooths with ``alpha = 1 / (1 + com)``; the live state uses the same ``com``, so the
two recursions run with bit-identical constants.
"""

from __future__ import annotations

__all__ = [
    "RETURN_LAGS_BARS", "EMA_SPANS_BARS", "RSI_PERIODS_BARS", "MACD_FAST_BARS", "MACD_SLOW_BARS",
    "MACD_SIGNAL_BARS", "ATR_PERIOD_BARS", "BOLLINGER_BARS", "BOLLINGER_STDS", "VOLUME_LONG_BARS",
    "VOLUME_SHORT_BARS", "FIRST_HOUR_MINUTES", "LAST_HOUR_MINUTES",
    "ema_com", "wilder_com", "smoothing_alpha", "rsi_from_averages",
    "BREAKOUT_ATR_SLOW_BARS", "KELTNER_BARS", "KELTNER_ATRS", "ATR_RANK_BARS", "RANGE_BARS", "RANGE_MEAN_BARS",
    "EXTREMES_BARS", "SCORE_MEAN_BARS", "DIVERGENCE_LAG_BARS", "OPENING_RANGE_MINUTES", "PRE_CLOSE_MINUTES",
    "MIDDAY_MARGIN_MINUTES", "MR_EMA_BARS", "WARMUP_TOLERANCE", "warmup_needed_bars",
]

import math

RETURN_LAGS_BARS: tuple[int, ...] = (1, 3, 6, 12, 24)
EMA_SPANS_BARS: tuple[int, ...] = (8, 21, 50, 200)
RSI_PERIODS_BARS: tuple[int, ...] = (7, 14)
MACD_FAST_BARS, MACD_SLOW_BARS, MACD_SIGNAL_BARS = 12, 26, 9
ATR_PERIOD_BARS = 14
BOLLINGER_BARS = 20
BOLLINGER_STDS = 2.0  # band half-width in standard deviations: width = 2 * 2 sd / middle
VOLUME_LONG_BARS = 20
VOLUME_SHORT_BARS = 5
FIRST_HOUR_MINUTES = 60  # is_first_hour: bar start < open + 60 min
LAST_HOUR_MINUTES = 60  # is_last_hour: bar start >= close - 60 min


# The optional sets (lab.strategy_features; lab.live._optional keeps them bar by bar).
BREAKOUT_ATR_SLOW_BARS = 20  # the slower ATR of the Keltner channel
KELTNER_BARS = 20  # EMA of the Keltner channel's middle
KELTNER_ATRS = 1.5  # Keltner half-width in slow ATRs
ATR_RANK_BARS = 100  # atr_percentile: rank of ATR 14 among the last 100 bars
RANGE_BARS = 12  # window_range: high-low span of the last 12 bars
RANGE_MEAN_BARS = 48  # range_contraction: against its mean over 48 bars
EXTREMES_BARS = 20  # range_position, dist_from_high/low: the last 20 bars' high and low
SCORE_MEAN_BARS = 12  # cumulative_consolidation: mean score over 12 bars
DIVERGENCE_LAG_BARS = 6  # momentum_divergence: price vs RSI 14 change over 6 bars
OPENING_RANGE_MINUTES = 30  # is_opening_range: bar start < open + 30 min
PRE_CLOSE_MINUTES = 30  # is_pre_close: bar start >= close - 30 min
MIDDAY_MARGIN_MINUTES = 60  # mr_is_midday: at least 60 min from the open and the close
MR_EMA_BARS = 21  # mr_ema21_deviation_pct


def ema_com(span: int) -> float:
    """Centre of mass of an EMA of span ``span`` bars: ``(span - 1) / 2`` (alpha = 2 / (span + 1))."""
    return (span - 1) / 2


def wilder_com(period: int) -> float:
    """Centre of mass of Wilder's smoothing over ``period`` bars: ``period - 1`` (alpha = 1 / period)."""
    return float(period - 1)


def smoothing_alpha(com: float) -> float:
    """The weight of the newest value for a centre of mass ``com`` (as pandas computes it)."""
    return 1.0 / (1.0 + com)


def rsi_from_averages(gain: float, loss: float) -> float:
    """RSI (0-100) from the smoothed gain and loss: 100 when nothing fell, 50 when nothing moved."""
    if loss == 0.0:
        return 50.0 if gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


#: Share of an indicator's start value allowed to remain after the warm-up ([session] warmup_bars).
WARMUP_TOLERANCE = 1e-6


def warmup_needed_bars(tolerance: float = WARMUP_TOLERANCE) -> int:
    """Bars until the slowest indicator (EMA 200) keeps less than ``tolerance`` of its start value:
    the start bar plus ``n`` decays with ``(1 - 2/201) ** n < tolerance``.

    >>> warmup_needed_bars()
    1383
    """
    span = max(EMA_SPANS_BARS)
    return math.ceil(math.log(tolerance) / math.log(1.0 - 2.0 / (span + 1))) + 1
