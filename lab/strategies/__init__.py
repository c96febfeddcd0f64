"""Strategies: features and model probabilities in, :class:`lab.backtest.StrategySignals` out.

Each strategy holds its signal rule only; the features it reads live in the feature layer
(:mod:`lab.strategy_features`), and the one engine in :mod:`lab.backtest` executes every strategy
under the same trading rules.

=================  ==========================================  =================================
strategy           inputs                                      exits
=================  ==========================================  =================================
direction          P(up)                                       rules (6 / 8 ticks, 6 bars)
breakout           P(high volatility), breakout features       [strategy.breakout]
mean_reversion     P(high volatility), mean-reversion features  [strategy.mean_reversion] + vol exit
=================  ==========================================  =================================
"""

from __future__ import annotations

import pandas as pd

from lab.backtest.run import BacktestResult, run_backtest
from lab.backtest.signals import BacktestInputError, ExitParams, StrategySignals
from lab.config import LabConfig, RulesConfig, StrategyConfig
from lab.strategies.breakout import breakout_exits, breakout_signals
from lab.strategies.direction import LONG_ONLY_TARGETS, direction_signals, long_only_for_target
from lab.strategies.mean_reversion import HIGH_VOLATILITY_PROBABILITY, mean_reversion_exits, mean_reversion_signals

__all__ = [
    "STRATEGY_NAMES",
    "DIRECTION_TARGETS",
    "VOLATILITY_TARGETS",
    "targets_for",
    "strategy_exits",
    "entry_rule_text",
    "build_signals",
    "backtest_strategy",
    "direction_signals",
    "long_only_for_target",
    "LONG_ONLY_TARGETS",
    "breakout_signals",
    "mean_reversion_signals",
]

STRATEGY_NAMES = ("direction", "breakout", "mean_reversion")
#: Targets whose models give P(up) (or P(a long wins)): the direction strategy's input.
DIRECTION_TARGETS = ("target_3bar", "target_6bar", "target_12bar", "target_trade")
#: Targets whose models give P(high range): the breakout and mean-reversion strategies' input.
VOLATILITY_TARGETS = ("target_vol",)


def targets_for(strategy: str) -> tuple[str, ...]:
    """The targets whose models feed ``strategy`` (:data:`DIRECTION_TARGETS` or :data:`VOLATILITY_TARGETS`)."""
    if strategy not in STRATEGY_NAMES:
        raise BacktestInputError(f"strategy {strategy!r} is not one of {', '.join(STRATEGY_NAMES)}")
    return DIRECTION_TARGETS if strategy == "direction" else VOLATILITY_TARGETS


def strategy_exits(strategy: StrategyConfig, rules: RulesConfig) -> ExitParams:
    """The exits of ``strategy``: the rules' for direction, ``[strategy.<name>]``'s for the others."""
    targets_for(strategy.name)  # refuses an unknown name
    if strategy.name == "breakout":
        return breakout_exits(strategy.breakout)
    if strategy.name == "mean_reversion":
        return mean_reversion_exits(strategy.mean_reversion)
    return ExitParams.from_rules(rules)


def entry_rule_text(strategy: StrategyConfig, rules: RulesConfig) -> str:
    """One line saying when ``strategy`` enters and what decides the size (for reports)."""
    full = f"{rules.full_size_contracts} contracts at confidence >= {rules.full_size_threshold:.2f}, else " \
           f"{rules.half_size_contracts}"
    if strategy.name == "breakout":
        b = strategy.breakout
        return (f"long when consolidation score >= {b.min_consolidation_score:g}, P(high range) >= "
                f"{b.min_volatility_probability:g} and range position < {b.range_low:g}; short with range position > "
                f"{b.range_high:g}; confidence P(high range): {full}")
    if strategy.name == "mean_reversion":
        m = strategy.mean_reversion
        text = (f"long when P(high range) < {m.max_volatility_probability:g}, RSI(7) < {m.rsi_oversold:g} and the close "
                f"{m.min_ema_deviation_pct:g} % or more below EMA(21); short on the mirror (RSI(7) > {m.rsi_overbought:g})")
        if m.skip_first_and_last_hour:
            text += ", not in the session's first or last hour"
        if m.exit_on_high_volatility:
            text += f"; market exit at the next open once P(high range) >= {HIGH_VOLATILITY_PROBABILITY:g}"
        return text + f"; confidence 1 - P(high range): {full}"
    return (f"long at P >= {rules.entry_threshold:.2f}, short at P <= {1 - rules.entry_threshold:.2f}; {full}")


def build_signals(
    strategy: StrategyConfig,
    bars: pd.DataFrame,
    *,
    probability: pd.Series | None = None,
    volatility_probability: pd.Series | None = None,
    rules: RulesConfig | None = None,
    features: pd.DataFrame | None = None,
    long_only: bool = False,
) -> StrategySignals:
    """The signals of the strategy named by ``strategy.name``.

    Parameters
    ----------
    strategy : StrategyConfig
        ``name`` picks the strategy; ``breakout`` / ``mean_reversion`` hold its settings.
    bars : pandas.DataFrame
        Regular-session 5-minute bars.
    probability : pandas.Series, optional
        P(up) per bar; required by ``direction``.
    volatility_probability : pandas.Series, optional
        P(high range) per bar; required by ``breakout`` and ``mean_reversion``.
    rules : RulesConfig, optional
        Entry threshold and exits of ``direction``.
    features : pandas.DataFrame, optional
        The strategy's precomputed optional feature set; computed from ``bars`` if omitted.
    long_only : bool, default False
        ``direction`` only: no short signals (a ``target_trade`` model, see
        :func:`long_only_for_target`).

    Raises
    ------
    BacktestInputError
        Unknown strategy or a missing probability.
    """
    name = strategy.name
    if name == "direction":
        if probability is None:
            raise BacktestInputError("strategy 'direction' needs probability= (the model's P(up) per bar)")
        return direction_signals(probability, rules, long_only=long_only)
    if name in ("breakout", "mean_reversion") and volatility_probability is None:
        raise BacktestInputError(
            f"strategy {name!r} needs volatility_probability= (the volatility model's P(high range) per bar)"
        )
    if name == "breakout":
        return breakout_signals(bars, volatility_probability, strategy.breakout, features=features)
    if name == "mean_reversion":
        return mean_reversion_signals(bars, volatility_probability, strategy.mean_reversion, features=features)
    raise BacktestInputError(f"strategy {name!r} is not one of {', '.join(STRATEGY_NAMES)}")


def backtest_strategy(
    config: LabConfig,
    bars: pd.DataFrame,
    minutes: pd.DataFrame | None = None,
    *,
    probability: pd.Series | None = None,
    volatility_probability: pd.Series | None = None,
    features: pd.DataFrame | None = None,
    long_only: bool = False,
) -> BacktestResult:
    """Build the configured strategy's signals and run them through the rules: one call per job.

    Parameters
    ----------
    config : LabConfig
        ``strategy``, ``rules``, ``costs``, the instrument and ``session.bar_minutes``.
    bars, minutes : pandas.DataFrame
        5-minute regular-session bars and (optionally) the 1-minute bars beneath them.
    probability, volatility_probability, features, long_only : optional
        As in :func:`build_signals`.

    Returns
    -------
    BacktestResult
    """
    signals = build_signals(
        config.strategy, bars, probability=probability, volatility_probability=volatility_probability,
        rules=config.rules, features=features, long_only=long_only,
    )
    return run_backtest(
        bars, signals, minutes, rules=config.rules, costs=config.costs, instrument=config.instrument,
        bar_minutes=config.session.bar_minutes,
    )
