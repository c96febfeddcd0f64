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

from typing import Sequence

from lab.backtest.signals import (THRESHOLD_TOLERANCE, BacktestInputError, ExitParams, StrategySignals,
                                  reaches_entry_threshold)
from lab.config import RulesConfig, StrategyConfig
from lab.strategies.base import P_UP, Strategy, size_text

__all__ = ["direction_signals", "direction_sides", "direction_confidence", "long_only_for_target", "LONG_ONLY_TARGETS",
           "Direction", "DIRECTION"]

#: Targets whose models predict a long trade's outcome, not the direction: they trade long only.
LONG_ONLY_TARGETS = ("target_trade",)


def long_only_for_target(target: str) -> bool:
    """Whether a direction model trained on ``target`` may only go long (``target_trade``)."""
    return target in LONG_ONLY_TARGETS


def direction_confidence(probability):
    """The signal's confidence (size tier, reversal): ``max(p, 1 - p)`` of P(up) (NaN stays NaN)."""
    return np.maximum(probability, 1.0 - probability)


def direction_sides(probability: np.ndarray, rules: RulesConfig, long_only: bool = False) -> np.ndarray:
    """The rule on plain arrays: +1 where P(up) >= ``entry_threshold``, -1 where P(up) <= 1 -
    threshold (0 with ``long_only``), else 0 (int8; NaN gives 0)."""
    values = np.asarray(probability, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        long_ = reaches_entry_threshold(values, rules)
        short = values <= 1.0 - rules.entry_threshold + THRESHOLD_TOLERANCE
    if long_only:
        short = np.zeros_like(long_)
    return np.where(long_, 1, np.where(short, -1, 0)).astype(np.int8)


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
    signal = direction_sides(values, rules, long_only)
    confidence = direction_confidence(values)
    return StrategySignals(
        name="direction",
        signal=pd.Series(signal, index=p.index, name="signal"),
        confidence=pd.Series(confidence, index=p.index, name="confidence"),
        probability=p.rename("probability"),
        exits=ExitParams.from_rules(rules),
    )


class Direction(Strategy):
    """The direction strategy as one object (see the module docstring); exits are the rules'."""

    def exits(self, strategy: StrategyConfig, rules: RulesConfig) -> ExitParams:
        return ExitParams.from_rules(rules)

    def confidence(self, probability):
        return direction_confidence(probability)

    def sides(self, features: Sequence[np.ndarray], probability: np.ndarray, strategy: StrategyConfig,
              rules: RulesConfig, long_only: bool = False) -> np.ndarray:
        return direction_sides(probability, rules, long_only)

    def signals(self, bars: pd.DataFrame, probability: pd.Series, strategy: StrategyConfig, rules: RulesConfig | None,
                *, features: pd.DataFrame | None = None, long_only: bool = False) -> StrategySignals:
        return direction_signals(probability, rules, long_only=long_only)

    def entry_rule_text(self, strategy: StrategyConfig, rules: RulesConfig) -> str:
        return (f"long at P >= {rules.entry_threshold:.2f}, short at P <= {1 - rules.entry_threshold:.2f}; "
                f"{size_text(rules)}")

    def bar_side(self, probability: float, values: Sequence[float], strategy: StrategyConfig, rules: RulesConfig,
                 long_only: bool = False) -> tuple[int, str]:
        """:func:`direction_sides` on one float (the live hot path; tests prove the two agree on every
        probability); a flat bar names ``"warmup"``, ``"threshold"`` or ``"long_only"``."""
        if probability != probability:
            return 0, "warmup"
        if probability >= rules.entry_threshold - THRESHOLD_TOLERANCE:
            return 1, ""
        if probability <= 1.0 - rules.entry_threshold + THRESHOLD_TOLERANCE:
            return (0, "long_only") if long_only else (-1, "")
        return 0, "threshold"

    def bar_exit(self, probability: float, strategy: StrategyConfig) -> bool:
        return False  # no market exit of its own (as exit_flags says, without building an array per bar)


#: The direction strategy: P(up) of a direction model, the rules' exits, no features of its own.
DIRECTION = Direction(name="direction", model_input=P_UP,
                      description="trade the model's P(up) when it is confident enough, either side")
