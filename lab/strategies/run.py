"""The configured strategy's signals, and its backtest: the one call a job makes."""

from __future__ import annotations

import pandas as pd

from lab.backtest.fills import FillSensitivity, fill_sensitivity
from lab.backtest.run import BacktestResult, run_backtest
from lab.backtest.signals import BacktestInputError, StrategySignals
from lab.config import LabConfig, RulesConfig, StrategyConfig
from lab.strategies.registry import get_strategy

__all__ = ["build_signals", "backtest_strategy", "strategy_fill_sensitivity"]


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
        :func:`lab.strategies.direction.long_only_for_target`).

    Raises
    ------
    BacktestInputError
        Unknown strategy or a missing probability.
    """
    chosen = get_strategy(strategy.name)
    given = {"probability": probability, "volatility_probability": volatility_probability}
    wanted = chosen.model_input
    if given[wanted.argument] is None:
        raise BacktestInputError(f"strategy {chosen.name!r} needs {wanted.argument}= ({wanted.meaning})")
    return chosen.signals(bars, given[wanted.argument], strategy, rules, features=features, long_only=long_only)


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


def strategy_fill_sensitivity(
    config: LabConfig,
    bars: pd.DataFrame,
    minutes: pd.DataFrame | None = None,
    result: BacktestResult | None = None,
    *,
    probability: pd.Series | None = None,
    volatility_probability: pd.Series | None = None,
    features: pd.DataFrame | None = None,
    long_only: bool = False,
) -> FillSensitivity:
    """The configured strategy's backtest under both limit-fill rules (:func:`lab.backtest.fill_sensitivity`).

    Parameters
    ----------
    config, bars, minutes, probability, volatility_probability, features, long_only
        As in :func:`backtest_strategy`.
    result : BacktestResult, optional
        :func:`backtest_strategy`'s result on the same inputs (not run again).

    Returns
    -------
    FillSensitivity
    """
    signals = build_signals(
        config.strategy, bars, probability=probability, volatility_probability=volatility_probability,
        rules=config.rules, features=features, long_only=long_only,
    )
    return fill_sensitivity(bars, signals, minutes, result, rules=config.rules, costs=config.costs,
                            instrument=config.instrument, bar_minutes=config.session.bar_minutes)
