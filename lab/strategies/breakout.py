"""The breakout strategy (PLAN phase 3.5): consolidation + predicted volatility + range position.

A consolidating market (Bollinger squeeze, low ATR percentile, contracting range) for which the
volatility model predicts a high-range regime is expected to break out; the side comes from the
close's position in its recent range: near the bottom (``range_position < range_low``) long, near
the top (``> range_high``) short, in the middle nothing. Confidence is the volatility probability.

The 14 features (:data:`BREAKOUT_FEATURES`), each at bar *t* from bars ``<= t`` only; windows run
across sessions like the core features, except the two session-clock flags:

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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import ExitParams, StrategySignals
from lab.config import BreakoutConfig
from lab.strategies._indicators import aligned_probability, atr, ema, require_columns, rsi, run_length

__all__ = ["BREAKOUT_FEATURES", "breakout_features", "breakout_signals"]

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

_REQUIRED = ("open", "high", "low", "close", "volume", "session_open", "session_close")


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
    """
    require_columns(bars, _REQUIRED, "breakout_features")
    close, high, low = bars["close"].astype("float64"), bars["high"], bars["low"]
    volume = bars["volume"].astype("float64")
    atr14 = atr(bars, 14)
    atr20 = atr(bars, 20)
    middle = close.rolling(20).mean()
    deviation = close.rolling(20).std(ddof=0)
    keltner_mid = ema(close, 20)
    inside_upper = middle + 2 * deviation < keltner_mid + 1.5 * atr20
    inside_lower = middle - 2 * deviation > keltner_mid - 1.5 * atr20
    squeeze = inside_upper & inside_lower
    squeeze = squeeze & deviation.notna()
    atr_percentile = atr14.rolling(100).rank(pct=True)
    window_range = high.rolling(12).max() - low.rolling(12).min()
    range_contraction = window_range / window_range.rolling(48).mean()
    contraction_part = (1.5 - range_contraction).clip(0.0, 1.0)
    score = (squeeze.astype("float64") + (1.0 - atr_percentile) + contraction_part) / 3.0
    high20, low20 = high.rolling(20).max(), low.rolling(20).min()
    width = high20 - low20
    position = ((close - low20) / width.where(width > 0)).where(width > 0, 0.5).where(width.notna())
    rsi14 = rsi(close, 14)
    divergence = (np.sign(close - close.shift(6)) - np.sign(rsi14 - rsi14.shift(6))) / 2.0
    slope = (2 * close - 2 * close.shift(4) + close.shift(1) - close.shift(3)) / 10.0
    safe_atr = atr14.where(atr14 > 0)
    stamp = bars.index
    since_open = (stamp - pd.DatetimeIndex(bars["session_open"])).total_seconds().to_numpy() / 60.0
    to_close = (pd.DatetimeIndex(bars["session_close"]) - stamp).total_seconds().to_numpy() / 60.0
    out = pd.DataFrame(
        {
            "bb_squeeze": squeeze.astype("float64").where(deviation.notna()),
            "consolidation_score": score,
            "atr_percentile": atr_percentile,
            "squeeze_duration": run_length(squeeze).where(deviation.notna()),
            "range_contraction": range_contraction,
            "range_position": position,
            "dist_from_high": (high20 - close) / safe_atr,
            "dist_from_low": (close - low20) / safe_atr,
            "momentum_divergence": divergence,
            "micro_trend": slope / safe_atr,
            "volume_expansion": volume / volume.rolling(20).mean(),
            "cumulative_consolidation": score.rolling(12).mean(),
            "is_opening_range": (since_open < 30).astype("float64"),
            "is_pre_close": (to_close <= 30).astype("float64"),
        },
        index=bars.index,
    )
    return out[list(BREAKOUT_FEATURES)].astype("float64").replace([np.inf, -np.inf], np.nan)


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
        Regular-session bars (see :func:`breakout_features`).
    volatility_probability : pandas.Series of float
        The volatility model's P(high range) at each bar's close, aligned to ``bars``.
    config : BreakoutConfig, optional
        Thresholds and exits (6-tick target, 8-tick stop, 6 bars by default).
    features : pandas.DataFrame, optional
        Precomputed :func:`breakout_features` (e.g. from the feature cache); computed if omitted.

    Returns
    -------
    StrategySignals
        ``probability`` and ``confidence`` are the volatility probability.
    """
    config = config or BreakoutConfig()
    vol = aligned_probability(volatility_probability, bars, "volatility_probability")
    if features is None:
        features = breakout_features(bars)
    require_columns(features, ("consolidation_score", "range_position"), "breakout_signals features")
    score = features["consolidation_score"].reindex(bars.index).to_numpy(np.float64)
    position = features["range_position"].reindex(bars.index).to_numpy(np.float64)
    p = vol.to_numpy()
    with np.errstate(invalid="ignore"):
        setup = (score >= config.min_consolidation_score) & (p >= config.min_volatility_probability)
        long_ = setup & (position < config.range_low)
        short = setup & (position > config.range_high)
    signal = np.where(long_, 1, np.where(short, -1, 0))
    return StrategySignals(
        name="breakout",
        signal=pd.Series(signal.astype(np.int8), index=bars.index, name="signal"),
        confidence=vol.rename("confidence"),
        probability=vol.rename("probability"),
        exits=ExitParams(config.profit_target_ticks, config.stop_loss_ticks, config.time_stop_bars),
    )
