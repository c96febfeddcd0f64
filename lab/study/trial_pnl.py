"""Every tune trial a strategy: its model trades the validation window under the rules.

After a trial's model is trained, :class:`TrialTrader` predicts every validation bar with it and
runs the engine (:func:`lab.strategies.backtest_strategy`: the configuration's rules, costs,
instrument and the strategy the target feeds). What is kept is the trial's P&L per validation
session, USD net of costs, 0 on a session without trades: the column of the study's P&L matrix
on which PBO, SPA and the deflated Sharpe are computed (:mod:`registry.deflated`).

Which strategy a target feeds (:func:`strategy_for_target`): the configured ``[strategy] name``
when that strategy takes this target's model (``lab.strategies.targets_for``); otherwise the
first strategy that does: ``direction`` for the direction targets (``target_trade`` long only),
``breakout`` for ``target_vol`` when the configuration names ``direction``. Breakout and mean
reversion need only the volatility model's P(high range) and the bars' own features, so a
``target_vol`` trial is traded without a second model.

Cost (``backtest_seconds`` in each trial's user attrs, ``search_backtest_s`` on the tune run),
measured on a year of validation (19,428 bars) at a load average of 15 on 2 cores: 0.12-0.13 s a
trial (the engine about 40 ms, the rest the prediction of the bars the AUC does not score: the
objective predicts every bar once and takes the labelled rows from it), plus about 1.5 s once
per worker process for its first backtest. ``lab demo``'s tune: 1.8 s of a 45 s job (4.1 %); an
8-point tune with one worker: 1.8 s of 354 s (0.5 %).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lab.backtest.metrics import daily_pnl
from lab.config import LabConfig
from lab.errors import LabError
from lab.models.boosters import predict_proba
from lab.strategies import STRATEGY_NAMES, backtest_strategy, get_strategy, long_only_for_target, targets_for

__all__ = ["TrialOutcome", "TrialTrader", "strategy_for_target", "daily_sharpe"]


def strategy_for_target(configured: str, target: str) -> str:
    """The strategy a trial of ``target`` is traded with (module docstring).

    >>> strategy_for_target("direction", "target_vol"), strategy_for_target("mean_reversion", "target_vol")
    ('breakout', 'mean_reversion')
    >>> strategy_for_target("breakout", "target_6bar")
    'direction'
    """
    if target in targets_for(configured):
        return configured
    for name in STRATEGY_NAMES:
        if target in targets_for(name):
            return name
    raise LabError(f"no strategy takes a model of {target!r}; the strategies take "
                   + "; ".join(f"{name}: {', '.join(targets_for(name))}" for name in STRATEGY_NAMES))


def daily_sharpe(daily: np.ndarray) -> float:
    """Mean / standard deviation (ddof 1) of a daily P&L series, per session (not annualised); NaN when flat."""
    values = np.asarray(daily, dtype=np.float64)
    if len(values) < 2:
        return math.nan
    std = values.std(ddof=1)
    return float(values.mean() / std) if std > 0 else math.nan


@dataclass(frozen=True)
class TrialOutcome:
    """What a trial's model earned on the validation window.

    Attributes
    ----------
    daily_pnl : pandas.Series
        USD per session, every validation session present (0 without trades), net of costs;
        index naive session dates.
    trades : int
    seconds : float
        Wall time of the prediction and the backtest.
    """

    daily_pnl: pd.Series
    trades: int
    seconds: float

    @property
    def total_pnl_usd(self) -> float:
        return float(self.daily_pnl.sum())

    @property
    def sharpe_daily(self) -> float:
        """Per-session Sharpe of the daily P&L; 0 for a trial that never traded (it earned nothing, surely).

        The study's deflated Sharpe leaves such a trial out of V (it has no Sharpe estimate), and
        CSCV scores its flat halves 0 (:mod:`lab.stats.pbo`).
        """
        return 0.0 if self.trades == 0 else daily_sharpe(self.daily_pnl.to_numpy())


class TrialTrader:
    """Trade a trial's booster on the validation bars; built once per worker, called once per trial.

    Parameters
    ----------
    config : LabConfig
        Rules, costs, instrument, ``session.bar_minutes`` and ``[strategy]``.
    bars : pandas.DataFrame
        The validation table (bars, features, targets), every bar, labelled or not.
    minutes : pandas.DataFrame or None
        The validation 1-minute bars (decide a target and a stop inside one bar).
    feature_names : list of str
        The model's inputs, in training order.
    target : str
        The study's target: picks the strategy (:func:`strategy_for_target`).
    """

    def __init__(self, config: LabConfig, bars: pd.DataFrame, minutes: pd.DataFrame | None,
                 feature_names: list[str], target: str) -> None:
        if bars.empty:
            raise LabError("the validation window holds no bars: a trial cannot be traded on it")
        self.strategy = strategy_for_target(config.strategy.name, target)
        self.config = config if self.strategy == config.strategy.name else config.replace({"strategy.name": self.strategy})
        self.bars = bars
        self.minutes = minutes
        self.X = np.ascontiguousarray(bars[list(feature_names)].to_numpy(np.float64))
        self.long_only = long_only_for_target(target)
        #: The bars where ``target`` is labelled: the objective's validation rows, in order (their
        #: probabilities are taken from :meth:`predict`'s instead of a second prediction).
        self.labelled = bars[target].notna().to_numpy() if target in bars.columns else np.zeros(len(bars), bool)
        strategy = get_strategy(self.strategy)
        self.argument = strategy.model_input.argument  # probability= or volatility_probability=
        self.features = bars[list(strategy.features)] if strategy.features else None

    def __call__(self, booster: Any) -> TrialOutcome:
        """Predict every validation bar with ``booster`` and trade it: the trial's daily P&L."""
        began = time.perf_counter()
        outcome = self.trade(self.predict(booster))
        return TrialOutcome(outcome.daily_pnl, outcome.trades, time.perf_counter() - began)

    def predict(self, booster: Any) -> np.ndarray:
        """The model's probability on every validation bar (P(up), or P(high range) for ``target_vol``)."""
        return predict_proba(booster, self.X)

    def trade(self, probability: np.ndarray) -> TrialOutcome:
        """Trade a probability per validation bar (:meth:`predict`'s) under the rules: the daily P&L.

        ``seconds`` counts the backtest only.
        """
        began = time.perf_counter()
        probability = pd.Series(np.asarray(probability, dtype=np.float64), index=self.bars.index)
        result = backtest_strategy(self.config, self.bars, self.minutes, **{self.argument: probability},
                                   features=self.features, long_only=self.long_only and self.argument == "probability")
        daily = daily_pnl(result.trades, result.session_dates)
        return TrialOutcome(daily, int(len(result.trades)), time.perf_counter() - began)
