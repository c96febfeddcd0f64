"""The strategies' optional feature sets: breakout (14) and mean reversion (5), pandas only.

Dataset features, not signal rules: :mod:`lab.dataset` puts them in every table (formed with the
history before each window) and ``[features] optional_sets`` adds them to the models' inputs; the
strategies in :mod:`lab.strategies` only read them. Editing a strategy's signal thresholds
therefore never changes the dataset digest. Pure pandas/numpy: no numba, no backtest imports.

Each feature at bar *t* uses bars ``<= t`` only; windows run across sessions like the core
features of :mod:`lab.features`, except the session-clock flags. Warm-up rows are NaN, not dropped.

Breakout (:data:`BREAKOUT_FEATURES`, PLAN phase 3.5):

=========================  ==================================================================
feature                    definition (units)
=========================  ==================================================================
bb_squeeze                 1.0 when Bollinger(20, 2 sd) lies inside Keltner(EMA20 +- 1.5 ATR20)
consolidation_score        mean of bb_squeeze, 1 - atr_percentile, clip(1.5 - range_contraction, 0, 1) (0-1)
atr_percentile             rank of ATR14 among its last 100 values (fraction, 1 = highest)
squeeze_duration           consecutive squeeze bars ending here (bars)
range_contraction          12-bar high-low range / its mean over the last 48 bars (ratio)
range_position             (close - 20-bar low) / (20-bar high - 20-bar low) (0-1; 0.5 if flat)
dist_from_high             (20-bar high - close) / ATR14 (ATRs)
dist_from_low              (close - 20-bar low) / ATR14 (ATRs)
momentum_divergence        (sign of 6-bar price change - sign of 6-bar RSI14 change) / 2 (-1..1)
micro_trend                least-squares slope of the last 5 closes / ATR14 (ATRs per bar)
volume_expansion           volume / mean volume of the last 20 bars (ratio)
cumulative_consolidation   mean consolidation_score of the last 12 bars (0-1)
is_opening_range           1.0 when the bar starts within 30 minutes of the session open
is_pre_close               1.0 when the bar starts within 30 minutes of the session close
=========================  ==================================================================

Mean reversion (:data:`MEAN_REVERSION_FEATURES`, PLAN phase 3.6; prefixed ``mr_`` so they never
collide with the 24 core features):

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

from lab.features import spec as spec
from lab.errors import DataError
from lab.features.indicators import atr, ema, feature_frame, rsi

__all__ = [
    "BREAKOUT_FEATURES",
    "MEAN_REVERSION_FEATURES",
    "breakout_features",
    "mean_reversion_features",
    "require_columns",
]

BREAKOUT_FEATURES: tuple[str, ...] = (
    "bb_squeeze",
    "consolidation_score",
    "atr_percentile",
    "squeeze_duration",
    "range_contraction",
    "range_position",
    "dist_from_high",
    "dist_from_low",
    "momentum_divergence",
    "micro_trend",
    "volume_expansion",
    "cumulative_consolidation",
    "is_opening_range",
    "is_pre_close",
)

MEAN_REVERSION_FEATURES: tuple[str, ...] = (
    "mr_rsi_7",
    "mr_ema21_deviation_pct",
    "mr_bb_percent_b",
    "mr_zscore_20",
    "mr_is_midday",
)

_BREAKOUT_REQUIRED = ("open", "high", "low", "close", "volume", "session_open", "session_close")
_MEAN_REVERSION_REQUIRED = ("close", "session_open", "session_close")


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], who: str) -> None:
    """Raise :class:`lab.errors.DataError` naming the columns ``frame`` lacks for ``who``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{who} needs bar column(s) {', '.join(missing)}; pass the lab's regular-session bars "
            "(open/high/low/close/volume plus session, session_open, session_close)"
        )


def _run_length(flag: pd.Series) -> pd.Series:
    """Consecutive ``True`` values ending at each row (0 where ``flag`` is ``False``)."""
    flag = flag.astype(bool)
    groups = (~flag).cumsum()
    return flag.astype(np.int64).groupby(groups.to_numpy(), sort=False).cumsum().astype("float64")


def _clock_minutes(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from the session open to each bar start, and from each bar start to the session close."""
    stamp = bars.index
    since_open = (stamp - pd.DatetimeIndex(bars["session_open"])).total_seconds().to_numpy() / 60.0
    to_close = (pd.DatetimeIndex(bars["session_close"]) - stamp).total_seconds().to_numpy() / 60.0
    return since_open, to_close


def breakout_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The 14 breakout features for every bar (warm-up rows are NaN, not dropped).

    Parameters
    ----------
    bars : pandas.DataFrame
        Regular-session 5-minute bars (``open``/``high``/``low``/``close`` points, ``volume``,
        ``session_open``, ``session_close``).

    Returns
    -------
    pandas.DataFrame
        Same index, columns :data:`BREAKOUT_FEATURES`, float64.

    Raises
    ------
    DataError
        A required bar column is missing.
    """
    require_columns(bars, _BREAKOUT_REQUIRED, "breakout_features")
    close, high, low = bars["close"].astype("float64"), bars["high"], bars["low"]
    volume = bars["volume"].astype("float64")
    # pandas for the recursive and rolling indicators, numpy for the arithmetic between them (the same
    # operations in the same order, so the same bits; pandas's per-operation overhead was most of the
    # cost on the look-ahead audit's short prefixes). NaN compares False in both.
    c, v = close.to_numpy(), volume.to_numpy()
    atr14 = atr(bars, spec.ATR_PERIOD_BARS)
    a14, a20 = atr14.to_numpy(), atr(bars, spec.BREAKOUT_ATR_SLOW_BARS).to_numpy()
    middle = close.rolling(spec.BOLLINGER_BARS).mean().to_numpy()
    deviation = close.rolling(spec.BOLLINGER_BARS).std(ddof=0).to_numpy()
    formed = ~np.isnan(deviation)
    keltner_mid = ema(close, spec.KELTNER_BARS).to_numpy()
    with np.errstate(invalid="ignore"):
        inside_upper = middle + spec.BOLLINGER_STDS * deviation < keltner_mid + spec.KELTNER_ATRS * a20
        inside_lower = middle - spec.BOLLINGER_STDS * deviation > keltner_mid - spec.KELTNER_ATRS * a20
    squeeze = inside_upper & inside_lower & formed
    atr_percentile = atr14.rolling(spec.ATR_RANK_BARS).rank(pct=True).to_numpy()
    window_range = (high.rolling(spec.RANGE_BARS).max().to_numpy() - low.rolling(spec.RANGE_BARS).min().to_numpy())
    range_contraction = window_range / pd.Series(window_range).rolling(spec.RANGE_MEAN_BARS).mean().to_numpy()
    contraction_part = np.clip(1.5 - range_contraction, 0.0, 1.0)
    score = (squeeze.astype("float64") + (1.0 - atr_percentile) + contraction_part) / 3.0
    high20 = high.rolling(spec.EXTREMES_BARS).max().to_numpy()
    low20 = low.rolling(spec.EXTREMES_BARS).min().to_numpy()
    width = high20 - low20
    with np.errstate(invalid="ignore"):
        wide = width > 0
        position = np.where(wide, (c - low20) / np.where(wide, width, np.nan), 0.5)
    position[np.isnan(width)] = np.nan
    rsi14 = rsi(close, spec.RSI_PERIODS_BARS[1]).to_numpy()
    divergence = (np.sign(c - _shifted(c, spec.DIVERGENCE_LAG_BARS))
                  - np.sign(rsi14 - _shifted(rsi14, spec.DIVERGENCE_LAG_BARS))) / 2.0
    slope = (2 * c - 2 * _shifted(c, 4) + _shifted(c, 1) - _shifted(c, 3)) / 10.0
    with np.errstate(invalid="ignore"):
        safe_atr = np.where(a14 > 0, a14, np.nan)
    since_open, to_close = _clock_minutes(bars)
    return feature_frame(
        {
            "bb_squeeze": np.where(formed, squeeze.astype("float64"), np.nan),
            "consolidation_score": score,
            "atr_percentile": atr_percentile,
            "squeeze_duration": np.where(formed, _run_length(pd.Series(squeeze, index=bars.index)).to_numpy(), np.nan),
            "range_contraction": range_contraction,
            "range_position": position,
            "dist_from_high": (high20 - c) / safe_atr,
            "dist_from_low": (c - low20) / safe_atr,
            "momentum_divergence": divergence,
            "micro_trend": slope / safe_atr,
            "volume_expansion": v / volume.rolling(spec.VOLUME_LONG_BARS).mean().to_numpy(),
            "cumulative_consolidation": pd.Series(score).rolling(spec.SCORE_MEAN_BARS).mean().to_numpy(),
            "is_opening_range": (since_open < spec.OPENING_RANGE_MINUTES).astype("float64"),
            "is_pre_close": (to_close <= spec.PRE_CLOSE_MINUTES).astype("float64"),
        },
        BREAKOUT_FEATURES,
        bars.index,
    )


def _shifted(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` k rows later (``Series.shift(k)`` on an array): NaN for the first k rows."""
    out = np.full(len(values), np.nan)
    out[k:] = values[: len(values) - k]
    return out


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

    Raises
    ------
    DataError
        A required bar column is missing.
    """
    require_columns(bars, _MEAN_REVERSION_REQUIRED, "mean_reversion_features")
    close = bars["close"].astype("float64")
    middle = close.rolling(spec.BOLLINGER_BARS).mean()
    deviation = close.rolling(spec.BOLLINGER_BARS).std(ddof=0)
    band = 4.0 * deviation
    since_open, to_close = _clock_minutes(bars)
    return feature_frame(
        {
            "mr_rsi_7": rsi(close, spec.RSI_PERIODS_BARS[0]),
            "mr_ema21_deviation_pct": (close / ema(close, spec.MR_EMA_BARS) - 1.0) * 100.0,
            "mr_bb_percent_b": (close - (middle - 2.0 * deviation)) / band.where(band > 0),
            "mr_zscore_20": (close - middle) / deviation.where(deviation > 0),
            "mr_is_midday": ((since_open >= spec.MIDDAY_MARGIN_MINUTES) & (to_close > spec.MIDDAY_MARGIN_MINUTES)).astype("float64"),
        },
        MEAN_REVERSION_FEATURES,
        bars.index,
    )
