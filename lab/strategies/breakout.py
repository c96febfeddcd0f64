"""The breakout strategy (PLAN phase 3.5): consolidation + predicted volatility + range position.

A consolidating market (``consolidation_score`` at or above a threshold) for which the volatility
model predicts a high-range regime is expected to break out; the side comes from the close's
position in its recent range: near the bottom (``range_position < range_low``) long, near the top
(``> range_high``) short, in the middle nothing. Confidence is the volatility probability.

Signal rules only: the features it reads (:data:`lab.strategy_features.BREAKOUT_FEATURES`) live in
the feature layer, :mod:`lab.strategy_features`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import ExitParams, StrategySignals
from lab.config import BreakoutConfig
from lab.strategies._inputs import aligned_probability, require_feature_columns
from lab.strategy_features import breakout_features

__all__ = ["breakout_signals"]


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
        Regular-session bars (see :func:`lab.strategy_features.breakout_features`).
    volatility_probability : pandas.Series of float
        The volatility model's P(high range) at each bar's close, aligned to ``bars``.
    config : BreakoutConfig, optional
        Thresholds and exits (6-tick target, 8-tick stop, 6 bars by default).
    features : pandas.DataFrame, optional
        Precomputed :func:`lab.strategy_features.breakout_features` (e.g. from the feature
        cache); computed from ``bars`` if omitted.

    Returns
    -------
    StrategySignals
        ``probability`` and ``confidence`` are the volatility probability.
    """
    config = config or BreakoutConfig()
    vol = aligned_probability(volatility_probability, bars, "volatility_probability")
    if features is None:
        features = breakout_features(bars)
    require_feature_columns(features, ("consolidation_score", "range_position"), "breakout_signals")
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
