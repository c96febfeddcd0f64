"""The direction strategy: trade the model's P(up) when it is confident enough.

Long when P(up) >= ``rules.entry_threshold`` (0.60), short when P(up) <= 1 - threshold, nothing
otherwise or when the probability is NaN. Confidence is ``max(p, 1 - p)``. Exits are the rules'
(6-tick target, 8-tick stop, 6-bar time stop). No extra features.

Long only: a model of ``target_trade`` gives P(a long entered at the next open wins), not P(up);
a low value says nothing about a short, so such a model trades long only
(:func:`long_only_for_target`, applied by :func:`direction_signals` with ``long_only=True``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import (THRESHOLD_TOLERANCE, BacktestInputError, ExitParams, StrategySignals,
                                  reaches_entry_threshold)
from lab.config import RulesConfig

__all__ = ["direction_signals", "direction_confidence", "long_only_for_target", "LONG_ONLY_TARGETS"]

#: Targets whose models predict a long trade's outcome, not the direction: they trade long only.
LONG_ONLY_TARGETS = ("target_trade",)


def long_only_for_target(target: str) -> bool:
    """Whether a direction model trained on ``target`` may only go long (``target_trade``)."""
    return target in LONG_ONLY_TARGETS


def direction_confidence(probability):
    """The signal's confidence (size tier, reversal): ``max(p, 1 - p)`` of P(up) (NaN stays NaN)."""
    return np.maximum(probability, 1.0 - probability)


def direction_signals(probability: pd.Series, rules: RulesConfig | None = None, *,
                      long_only: bool = False) -> StrategySignals:
    """Per-bar long/short signals from the model's P(up) at each bar's close.

    Parameters
    ----------
    probability : pandas.Series of float
        P(up) in [0, 1] for each bar (NaN: no signal), indexed like the bars.
    rules : RulesConfig, optional
        ``entry_threshold`` and the exits; default ``RulesConfig()``.
    long_only : bool, default False
        No short signals (a ``target_trade`` model: see :func:`long_only_for_target`).

    Returns
    -------
    StrategySignals

    Examples
    --------
    >>> import pandas as pd
    >>> s = direction_signals(pd.Series([0.5, 0.61, 0.4, float("nan")]))
    >>> s.signal.tolist(), s.confidence.round(2).tolist()
    ([0, 1, -1, 0], [0.5, 0.61, 0.6, nan])
    """
    rules = rules or RulesConfig()
    if not isinstance(probability, pd.Series):
        raise BacktestInputError("probability must be a pandas Series aligned to the bars (P(up), NaN = no signal)")
    p = probability.astype("float64")
    bad = p.notna() & ((p < 0.0) | (p > 1.0))
    if bad.any():
        raise BacktestInputError(
            f"probability must lie in [0, 1] (NaN = no signal); got {p[bad].iloc[0]!r} at {p[bad].index[0]}"
        )
    values = p.to_numpy()
    with np.errstate(invalid="ignore"):
        long_ = reaches_entry_threshold(values, rules)
        short = values <= 1.0 - rules.entry_threshold + THRESHOLD_TOLERANCE
    if long_only:
        short = np.zeros_like(long_)
    signal = np.where(long_, 1, np.where(short, -1, 0)).astype(np.int8)
    confidence = direction_confidence(values)
    return StrategySignals(
        name="direction",
        signal=pd.Series(signal, index=p.index, name="signal"),
        confidence=pd.Series(confidence, index=p.index, name="confidence"),
        probability=p.rename("probability"),
        exits=ExitParams.from_rules(rules),
    )
