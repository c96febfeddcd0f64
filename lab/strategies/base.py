"""What every strategy is: one object holding its model input, features, entry rule, exits and words.

A :class:`Strategy` is a frozen object (one per strategy, in :mod:`lab.strategies.direction`,
:mod:`~lab.strategies.breakout` and :mod:`~lab.strategies.mean_reversion`; looked up by name in
:mod:`lab.strategies.registry`). It holds

- the model it reads (:class:`ModelInput`: P(up) or P(high range), the targets whose models give it),
- its optional feature set (the columns of :data:`lab.dataset.build.OPTIONAL_SETS` it reads),
- its entry rule twice over one home: on arrays (:meth:`Strategy.sides`, what the backtest's
  :meth:`Strategy.signals` and the live bar both call) and as a whole :class:`StrategySignals`,
- its exits (:meth:`Strategy.exits`, ticks and bars), its own market exit
  (:meth:`Strategy.exit_flags`, with :attr:`Strategy.exit_reason`) and its confidence,
- its plain-language description (:attr:`Strategy.description`, :meth:`Strategy.entry_rule_text`).

Callers dispatch through the object, never on its name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np
import pandas as pd

from lab.backtest.signals import ExitParams, StrategySignals
from lab.config import RulesConfig, StrategyConfig

__all__ = ["Strategy", "ModelInput", "P_UP", "P_HIGH_RANGE", "MODEL_INPUTS", "DIRECTION_TARGETS",
           "VOLATILITY_TARGETS", "size_text"]

#: Targets whose models give P(up) (or P(a long wins)): the direction strategy's input.
DIRECTION_TARGETS = ("target_3bar", "target_6bar", "target_12bar", "target_trade")
#: Targets whose models give P(high range): the breakout and mean-reversion strategies' input.
VOLATILITY_TARGETS = ("target_vol",)


class ModelInput(NamedTuple):
    """The model probability a strategy reads."""

    role: str  # the key of a job's models (``"direction"`` or ``"volatility"``)
    argument: str  # the keyword of :func:`lab.strategies.run.build_signals` that takes it
    meaning: str  # what it is, for errors
    targets: tuple[str, ...]  # the targets whose models give it


#: P(up) per bar, from a model of one of :data:`DIRECTION_TARGETS`.
P_UP = ModelInput("direction", "probability", "the model's P(up) per bar", DIRECTION_TARGETS)
#: P(high range) per bar, from a model of ``target_vol``.
P_HIGH_RANGE = ModelInput("volatility", "volatility_probability", "the volatility model's P(high range) per bar",
                          VOLATILITY_TARGETS)
MODEL_INPUTS = (P_UP, P_HIGH_RANGE)


def size_text(rules: RulesConfig) -> str:
    """What decides the size, in words (the size tiers of :func:`lab.backtest.signals.position_contracts`)."""
    return (f"{rules.full_size_contracts} contracts at confidence >= {rules.full_size_threshold:.2f}, else "
            f"{rules.half_size_contracts}")


@dataclass(frozen=True)
class Strategy(ABC):
    """One strategy: its inputs, entry rule, exits, confidence and description (see the module docstring).

    Attributes
    ----------
    name : str
        ``[strategy] name`` that picks it.
    model_input : ModelInput
        The probability it reads (:data:`P_UP` or :data:`P_HIGH_RANGE`).
    description : str
        One plain sentence: what it trades on.
    feature_set : str
        The optional feature set holding its own features (``""``: none).
    features : tuple of str
        The columns of that set (the table's columns the backtest hands it).
    rule_features : tuple of str
        The columns its entry rule reads, in the order :meth:`sides` takes them.
    exit_reason : str
        The ``exit_reason`` of a trade closed by its own market exit (:meth:`exit_flags`).
    """

    name: str
    model_input: ModelInput
    description: str
    feature_set: str = ""
    features: tuple[str, ...] = ()
    rule_features: tuple[str, ...] = ()
    exit_reason: str = "signal"

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets whose models feed it."""
        return self.model_input.targets

    @abstractmethod
    def exits(self, strategy: StrategyConfig, rules: RulesConfig) -> ExitParams:
        """Profit target and stop (ticks) and time stop (bars) of its trades."""

    @abstractmethod
    def confidence(self, probability: Any) -> Any:
        """The confidence (size tier, reversal) of a signal at ``probability`` (float or array; NaN stays NaN)."""

    @abstractmethod
    def sides(self, features: Sequence[np.ndarray], probability: np.ndarray, strategy: StrategyConfig,
              rules: RulesConfig, long_only: bool = False) -> np.ndarray:
        """The entry rule on plain arrays: +1 long, -1 short, 0 nothing per bar (int8); NaN gives 0.

        ``features`` are the arrays of :attr:`rule_features` in that order, ``probability`` the
        model's (:attr:`model_input`), all of one shape.
        """

    @abstractmethod
    def signals(self, bars: pd.DataFrame, probability: pd.Series, strategy: StrategyConfig, rules: RulesConfig | None,
                *, features: pd.DataFrame | None = None, long_only: bool = False) -> StrategySignals:
        """Its signals on ``bars`` (the backtest's input); ``features`` its precomputed feature set."""

    @abstractmethod
    def entry_rule_text(self, strategy: StrategyConfig, rules: RulesConfig) -> str:
        """One line saying when it enters and what decides the size (for reports)."""

    def exit_flags(self, probability: np.ndarray, strategy: StrategyConfig) -> np.ndarray | None:
        """Its own market exit at the next open, per bar (bool), or ``None`` when it has none."""
        return None

    def bar_side(self, probability: float, values: Sequence[float], strategy: StrategyConfig, rules: RulesConfig,
                 long_only: bool = False) -> tuple[int, str]:
        """The entry rule at one bar: the signal (+1 / -1 / 0) and, when 0, which rule stopped it.

        ``"warmup"`` when the probability or a feature value is NaN, else ``"setup"``; the rule
        itself is :meth:`sides` on one-element arrays, so batch and live cannot disagree.
        """
        p = np.array([probability], dtype=np.float64)
        signal = int(self.sides(tuple(np.array([v], dtype=np.float64) for v in values), p, strategy, rules,
                                long_only)[0])
        if signal:
            return signal, ""
        formed = probability == probability and all(v == v for v in values)
        return 0, "setup" if formed else "warmup"

    def bar_exit(self, probability: float, strategy: StrategyConfig) -> bool:
        """Whether its own market exit fires at one bar (:meth:`exit_flags` on a one-element array)."""
        flags = self.exit_flags(np.array([probability], dtype=np.float64), strategy)
        return bool(flags[0]) if flags is not None else False
