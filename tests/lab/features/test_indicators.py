"""The default warm-up forms every indicator: less than 1e-6 of its start value is left."""

import numpy as np
import pandas as pd

from lab.config import SessionConfig
from lab.features.indicators import ema, rsi, wilder


def _start_error(compute, n: int) -> float:
    """Relative change of the indicator at bar ``n`` when its first input jumps (the start-value error)."""
    rng = np.random.default_rng(5)
    close = pd.Series(4000.0 + np.cumsum(rng.normal(0.0, 1.0, n + 1)))
    moved = close.copy()
    moved.iloc[0] += 1000.0  # a start value far from the rest
    base, other = compute(close).iloc[n], compute(moved).iloc[n]
    return abs(other - base) / abs(base)


def test_default_warmup_leaves_less_than_1e_minus_6_of_every_start_value() -> None:
    n = SessionConfig().warmup_bars
    # Reference formula: an EMA with alpha keeps (1 - alpha)**n of its start value.
    assert (1.0 - 2.0 / 201.0) ** n < 1e-6 and (1.0 - 1.0 / 14.0) ** n < 1e-6
    for span in (8, 12, 21, 26, 50, 200):
        assert _start_error(lambda c: ema(c, span), n) < 1e-6 * 1000.0 / 4000.0, span
    assert _start_error(lambda c: wilder(c, 14), n) < 1e-6
    assert abs(rsi(pd.Series(np.r_[5000.0, 4000.0 + np.arange(n)]), 14).iloc[n]
               - rsi(pd.Series(np.r_[4000.0, 4000.0 + np.arange(n)]), 14).iloc[n]) < 1e-6 * 100


def test_shorter_warmup_leaves_a_visible_start_error() -> None:
    assert _start_error(lambda c: ema(c, 200), 200) > 1e-3 * 0.1
