"""Small, look-ahead-free indicator helpers shared by the strategies (points, not fractions)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import BacktestInputError
from lab.indicators import atr, ema, rsi, wilder

__all__ = ["require_columns", "wilder", "ema", "rsi", "atr", "run_length", "aligned_probability"]


def require_columns(bars: pd.DataFrame, columns: tuple[str, ...], who: str) -> None:
    """Raise :class:`BacktestInputError` naming the columns ``bars`` lacks for ``who``."""
    missing = [c for c in columns if c not in bars.columns]
    if missing:
        raise BacktestInputError(
            f"{who} needs bar column(s) {', '.join(missing)}; pass the lab's regular-session bars "
            "(open/high/low/close/volume plus session, session_open, session_close)"
        )


def run_length(flag: pd.Series) -> pd.Series:
    """Consecutive ``True`` values ending at each row (0 where ``flag`` is ``False``)."""
    flag = flag.astype(bool)
    groups = (~flag).cumsum()
    return flag.astype(np.int64).groupby(groups.to_numpy(), sort=False).cumsum().astype("float64")


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
