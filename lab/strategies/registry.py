"""The one registry of strategies: name -> :class:`lab.strategies.base.Strategy`.

Every caller that acts on ``[strategy] name`` looks the strategy up here (:func:`get_strategy`)
and asks the object; no code compares strategy names. A new strategy is one module holding its
object and one line in :data:`STRATEGIES` (and its name in :class:`lab.config.StrategyConfig`'s
choices, which a test holds equal to :data:`STRATEGY_NAMES`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from lab.backtest.signals import BacktestInputError, ExitParams
from lab.config import RulesConfig, StrategyConfig
from lab.strategies.base import Strategy
from lab.strategies.breakout import BREAKOUT
from lab.strategies.direction import DIRECTION
from lab.strategies.mean_reversion import MEAN_REVERSION

__all__ = ["STRATEGIES", "STRATEGY_NAMES", "get_strategy", "targets_for", "strategy_exits", "entry_rule_text"]

#: Every strategy by its ``[strategy] name``.
STRATEGIES: Mapping[str, Strategy] = MappingProxyType({s.name: s for s in (DIRECTION, BREAKOUT, MEAN_REVERSION)})
STRATEGY_NAMES = tuple(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``.

    Raises
    ------
    BacktestInputError
        No strategy has that name (the message lists the known ones).
    """
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise BacktestInputError(f"strategy {name!r} is not one of {', '.join(STRATEGY_NAMES)}; set [strategy] name "
                                 "to one of them") from None


def targets_for(strategy: str) -> tuple[str, ...]:
    """The targets whose models feed the strategy called ``strategy``."""
    return get_strategy(strategy).targets


def strategy_exits(strategy: StrategyConfig, rules: RulesConfig) -> ExitParams:
    """The exits of ``strategy``: the rules' for direction, ``[strategy.<name>]``'s for the others."""
    return get_strategy(strategy.name).exits(strategy, rules)


def entry_rule_text(strategy: StrategyConfig, rules: RulesConfig) -> str:
    """One line saying when ``strategy`` enters and what decides the size (for reports)."""
    return get_strategy(strategy.name).entry_rule_text(strategy, rules)
