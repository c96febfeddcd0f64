"""What a strategy hands the engine: a per-bar signed signal, a confidence and exit parameters.

Every strategy (:mod:`lab.strategies`) turns features and model probabilities into a
:class:`StrategySignals`; :func:`lab.backtest.run_backtest` executes it under the one set of
trading rules. Position sizing by confidence tier lives here too, so every strategy sizes alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab.config import RulesConfig
from lab.errors import LabError

__all__ = [
    "BacktestInputError",
    "ExitParams",
    "StrategySignals",
    "position_contracts",
    "is_full_size",
    "reaches_entry_threshold",
    "THRESHOLD_TOLERANCE",
]

#: Probabilities and confidences are compared with this slack, so 1 - 0.6 and 0.4 agree.
THRESHOLD_TOLERANCE = 1e-12


class BacktestInputError(LabError, ValueError):
    """Bars, minutes or signals handed to the backtest do not meet its input contract."""


@dataclass(frozen=True)
class ExitParams:
    """The exits the engine applies to every position of one strategy.

    Attributes
    ----------
    profit_target_ticks : float
        Distance of the profit target (a limit order) from the entry fill, in ticks. > 0.
    stop_loss_ticks : float
        Distance of the stop (a stop-market order) from the entry fill, in ticks. > 0.
    time_stop_bars : int
        Bars held (the entry bar counts as the first) after which the position is closed at
        that bar's close. >= 1.
    """

    profit_target_ticks: float
    stop_loss_ticks: float
    time_stop_bars: int

    def validate(self) -> "ExitParams":
        for name in ("profit_target_ticks", "stop_loss_ticks"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise BacktestInputError(f"exit parameter {name} = {value!r} must be a positive number of ticks")
        if int(self.time_stop_bars) != self.time_stop_bars or self.time_stop_bars < 1:
            raise BacktestInputError(
                f"exit parameter time_stop_bars = {self.time_stop_bars!r} must be a whole number of bars >= 1"
            )
        return self

    @classmethod
    def from_rules(cls, rules: RulesConfig) -> "ExitParams":
        """The default exits of :class:`lab.config.settings.RulesConfig` (6 / 8 ticks, 6 bars)."""
        return cls(rules.profit_target_ticks, rules.stop_loss_ticks, rules.time_stop_bars)


@dataclass(frozen=True)
class StrategySignals:
    """A strategy's decisions, one row per 5-minute bar, all known at that bar's close.

    Attributes
    ----------
    name : str
        The strategy (``"direction"``, ``"breakout"``, ``"mean_reversion"``).
    signal : pandas.Series of int8
        +1 enter long, -1 enter short, 0 nothing, at the next bar's open.
    confidence : pandas.Series of float
        In [0.5, 1] where ``signal != 0``: picks the size tier (full at or above
        ``rules.full_size_threshold``) and qualifies opposite signals for a reversal exit.
    probability : pandas.Series of float
        The model probability recorded with each trade (P(up) for ``direction``; the
        volatility probability for ``breakout`` and ``mean_reversion``). NaN allowed.
    exits : ExitParams
        Profit target, stop and time stop of this strategy.
    exit_signal : pandas.Series of bool, optional
        ``True`` at a bar's close closes an open position at the next bar's open (with exit
        slippage), reason :attr:`exit_signal_reason`. Mean reversion's high-volatility exit.
    exit_signal_reason : str
        The ``exit_reason`` written for exits caused by :attr:`exit_signal`.
    """

    name: str
    signal: pd.Series
    confidence: pd.Series
    probability: pd.Series
    exits: ExitParams
    exit_signal: pd.Series | None = None
    exit_signal_reason: str = "signal"


def is_full_size(confidence: np.ndarray | pd.Series, rules: RulesConfig) -> np.ndarray:
    """``True`` where the confidence reaches the full-size tier.

    Parameters
    ----------
    confidence : array-like of float
        Confidence in [0.5, 1] (NaN counts as not full).
    rules : RulesConfig
        Supplies ``full_size_threshold``.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return conf >= rules.full_size_threshold - THRESHOLD_TOLERANCE


def reaches_entry_threshold(confidence: np.ndarray | pd.Series, rules: RulesConfig) -> np.ndarray:
    """``True`` where the confidence reaches ``rules.entry_threshold`` (a tradeable signal).

    Parameters
    ----------
    confidence : array-like of float
        Confidence (or P(up) for a long) in [0, 1]; NaN counts as not reaching it.
    rules : RulesConfig
        Supplies ``entry_threshold``.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return conf >= rules.entry_threshold - THRESHOLD_TOLERANCE


def position_contracts(confidence: np.ndarray | pd.Series, rules: RulesConfig) -> np.ndarray:
    """Contracts to trade for each confidence: full tier, else half tier, capped by the maximum.

    Parameters
    ----------
    confidence : array-like of float
        Confidence in [0.5, 1].
    rules : RulesConfig
        ``full_size_threshold``, ``full_size_contracts``, ``half_size_contracts`` and
        ``max_position_contracts`` (contracts).

    Returns
    -------
    numpy.ndarray of int64
        Contracts per element, never above ``max_position_contracts``.

    Examples
    --------
    >>> position_contracts([0.62, 0.70, 0.9], RulesConfig()).tolist()
    [1, 2, 2]
    """
    full = is_full_size(confidence, rules)
    sizes = np.where(full, rules.full_size_contracts, rules.half_size_contracts).astype(np.int64)
    return np.minimum(sizes, rules.max_position_contracts)
