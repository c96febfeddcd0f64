"""Incremental state of the optional feature sets (breakout, mean reversion).

The definitions are those of the batch sets (``breakout_features``, ``mean_reversion_features``;
their docstrings hold the table of formulas); the parity tests prove the two agree bar for bar.
The values the core state already holds (ATR14, the 20-bar Bollinger mean and deviation, EMA21,
RSI 7/14, the closes, the 20-bar mean volume) are handed in rather than recomputed.
"""

from __future__ import annotations

from typing import Sequence

from lab.features import spec as spec
from lab.features.spec import ema_com, wilder_com
from lab.live._recursions import NAN, Ewm, Ring, RollingMoments, ratio

__all__ = ["BREAKOUT_NAMES", "MEAN_REVERSION_NAMES", "OptionalFeatures"]

BREAKOUT_NAMES: tuple[str, ...] = (
    "bb_squeeze", "consolidation_score", "atr_percentile", "squeeze_duration", "range_contraction",
    "range_position", "dist_from_high", "dist_from_low", "momentum_divergence", "micro_trend",
    "volume_expansion", "cumulative_consolidation", "is_opening_range", "is_pre_close",
)
MEAN_REVERSION_NAMES: tuple[str, ...] = (
    "mr_rsi_7", "mr_ema21_deviation_pct", "mr_bb_percent_b", "mr_zscore_20", "mr_is_midday",
)

# Window lengths of the batch sets (lab.strategy_features): one home, lab.feature_spec.
_ATR_SLOW, _KELTNER, _KELTNER_ATRS = spec.BREAKOUT_ATR_SLOW_BARS, spec.KELTNER_BARS, spec.KELTNER_ATRS
_RANK, _RANGE, _RANGE_MEAN = spec.ATR_RANK_BARS, spec.RANGE_BARS, spec.RANGE_MEAN_BARS
_EXTREMES, _SCORE_MEAN, _DIVERGENCE_LAG = spec.EXTREMES_BARS, spec.SCORE_MEAN_BARS, spec.DIVERGENCE_LAG_BARS
_OPENING_RANGE_MINUTES, _PRE_CLOSE_MINUTES = spec.OPENING_RANGE_MINUTES, spec.PRE_CLOSE_MINUTES
_MIDDAY_MINUTES = spec.MIDDAY_MARGIN_MINUTES


def _sign(x: float) -> float:
    if x != x:
        return NAN
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


class OptionalFeatures:
    """Appends the configured optional sets to a core feature row, one bar at a time."""

    def __init__(self, sets: Sequence[str], ema21: Ewm) -> None:
        self.sets = tuple(sets)
        self._ema21 = ema21
        self._atr20 = Ewm(wilder_com(_ATR_SLOW))
        self._keltner = Ewm(ema_com(_KELTNER))
        self._atr_ranks = Ring(_RANK)
        self._highs12, self._lows12 = Ring(_RANGE), Ring(_RANGE)
        self._ranges = RollingMoments(_RANGE_MEAN)
        self._highs20, self._lows20 = Ring(_EXTREMES), Ring(_EXTREMES)
        self._rsi14 = Ring(_DIVERGENCE_LAG + 1)
        self._scores = RollingMoments(_SCORE_MEAN)
        self._squeeze_run = 0.0

    def append(self, row: list[float], *, high: float, low: float, close: float, volume: float, true_range: float,
               atr14: float, middle: float, deviation: float, rsi7: float, rsi14: float, closes: Ring,
               mean_volume: float, since_open: float, to_close: float) -> None:
        """Append the sets' values for the bar just added to the core state (``closes`` holds it)."""
        if "breakout" in self.sets:
            self._breakout(row, high, low, close, volume, true_range, atr14, middle, deviation, rsi14, closes,
                           mean_volume, since_open, to_close)
        if "mean_reversion" in self.sets:
            ema21 = self._ema21.value
            band = 4.0 * deviation
            row += (
                rsi7,
                (close / ema21 - 1.0) * 100.0,
                ratio(close - (middle - 2.0 * deviation), band) if band > 0 else NAN,
                ratio(close - middle, deviation) if deviation > 0 else NAN,
                1.0 if (since_open >= _MIDDAY_MINUTES and to_close > _MIDDAY_MINUTES) else 0.0,
            )

    def _breakout(self, row, high, low, close, volume, true_range, atr14, middle, deviation, rsi14, closes,
                  mean_volume, since_open, to_close) -> None:
        atr20 = self._atr20.update(true_range)
        keltner = self._keltner.update(close)
        has_deviation = deviation == deviation
        squeeze = (has_deviation and middle + 2 * deviation < keltner + _KELTNER_ATRS * atr20
                   and middle - 2 * deviation > keltner - _KELTNER_ATRS * atr20)
        self._squeeze_run = self._squeeze_run + 1.0 if squeeze else 0.0
        ranks = self._atr_ranks
        ranks.push(atr14)
        atr_percentile = ranks.rank_pct_of_newest()
        self._highs12.push(high)
        self._lows12.push(low)
        window_range = self._highs12.max() - self._lows12.min()
        self._ranges.push(window_range)
        range_contraction = ratio(window_range, self._ranges.mean()) if window_range == window_range else NAN
        contraction_part = min(max(1.5 - range_contraction, 0.0), 1.0) if range_contraction == range_contraction else NAN
        score = ((1.0 if squeeze else 0.0) + (1.0 - atr_percentile) + contraction_part) / 3.0
        self._scores.push(score)
        self._highs20.push(high)
        self._lows20.push(low)
        high20, low20 = self._highs20.max(), self._lows20.min()
        width = high20 - low20
        if width != width:
            position = NAN
        elif width > 0:
            position = (close - low20) / width
        else:
            position = 0.5
        rsi_ring = self._rsi14
        rsi_ring.push(rsi14)
        divergence = (_sign(close - closes.ago(_DIVERGENCE_LAG)) - _sign(rsi14 - rsi_ring.ago(_DIVERGENCE_LAG))) / 2.0
        slope = (2 * close - 2 * closes.ago(4) + closes.ago(1) - closes.ago(3)) / 10.0
        safe_atr = atr14 if atr14 > 0 else NAN
        row += (
            (1.0 if squeeze else 0.0) if has_deviation else NAN,
            score,
            atr_percentile,
            self._squeeze_run if has_deviation else NAN,
            range_contraction,
            position,
            (high20 - close) / safe_atr,
            (close - low20) / safe_atr,
            divergence,
            slope / safe_atr,
            ratio(volume, mean_volume),
            self._scores.mean(),
            1.0 if since_open < _OPENING_RANGE_MINUTES else 0.0,
            1.0 if to_close <= _PRE_CLOSE_MINUTES else 0.0,
        )
