"""Input checks shared by the strategies' signal rules (features and probabilities they read)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import BacktestInputError

__all__ = ["require_feature_columns", "aligned_probability"]


def require_feature_columns(features: pd.DataFrame, columns: tuple[str, ...], who: str) -> None:
    """Raise :class:`BacktestInputError` naming the feature columns ``features`` lacks for ``who``."""
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise BacktestInputError(
            f"{who} needs feature column(s) {', '.join(missing)}; pass the table's columns of "
            "lab.strategy_features (or omit features= to compute them from the bars)"
        )


def aligned_probability(probability: pd.Series, bars: pd.DataFrame, name: str) -> pd.Series:
    """``probability`` as float64 on ``bars.index``; refuse misaligned or out-of-range input."""
    if not isinstance(probability, pd.Series):
        probability = pd.Series(np.asarray(probability, dtype=np.float64), index=bars.index)
    if len(probability) != len(bars) or not probability.index.equals(bars.index):
        raise BacktestInputError(
            f"{name} is not aligned to the bars ({len(probability)} rows vs {len(bars)}); "
            "reindex it with .reindex(bars.index)"
        )
    values = probability.astype("float64")
    bad = values.notna() & ((values < 0.0) | (values > 1.0))
    if bad.any():
        raise BacktestInputError(
            f"{name} must be a probability in [0, 1] (NaN = no signal); got {values[bad].iloc[0]!r} "
            f"at {values[bad].index[0]}"
        )
    return values
