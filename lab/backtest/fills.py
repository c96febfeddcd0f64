"""Fill sensitivity: what the same signals make when the profit target fills on a touch and when only through it.

The target is a resting limit. Whether a minute that only *touches* it fills the order depends on
the queue at that price (``[rules] limit_fill``, decided in :func:`lab.rules.barrier_touches`).
A backtest states the rule it ran under and what the other rule would have made:
:func:`fill_sensitivity` re-runs the engine on the same bars, minutes and signals under both
rules. Pure computation: DataFrames in, a small record out.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pandas as pd

from lab.backtest.metrics import profit_factor
from lab.backtest.run import BacktestResult, run_backtest
from lab.backtest.signals import StrategySignals
from lab.config import CostsConfig, RulesConfig
from lab.market.instruments import Instrument
from lab.rules import LIMIT_FILLS

__all__ = ["FillOutcome", "FillSensitivity", "fill_outcome", "fill_sensitivity", "other_fill_rules", "sensitivity_of"]


@dataclass(frozen=True)
class FillOutcome:
    """One backtest's result under one fill rule.

    Attributes
    ----------
    trades : int
        Closed trades.
    pnl_usd : float
        Net P&L after commission and slippage, USD.
    profit_factor : float
        Gross profit / gross loss (``inf`` with no loss, ``nan`` with no trade).
    targets : int
        Trades that left at the profit target.
    """

    trades: int
    pnl_usd: float
    profit_factor: float
    targets: int


@dataclass(frozen=True)
class FillSensitivity:
    """The same signals under both limit-fill rules.

    Attributes
    ----------
    limit_fill : str
        The configured rule (``"through"`` or ``"touch"``): the backtest's own numbers.
    limit_through_ticks : int
        Ticks beyond the target that ``"through"`` demands.
    through, touch : FillOutcome
        The outcome under each rule.
    """

    limit_fill: str
    limit_through_ticks: int
    through: FillOutcome
    touch: FillOutcome

    @property
    def other(self) -> str:
        """The rule the backtest did not run under."""
        return "touch" if self.limit_fill == "through" else "through"

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """``fill_<rule>_trades``, ``fill_<rule>_pnl_usd``, ``fill_<rule>_profit_factor``,
        ``fill_<rule>_targets`` for both rules (counts, USD, ratio), each name after ``prefix``."""
        out: dict[str, float] = {}
        for rule in LIMIT_FILLS:
            outcome = getattr(self, rule)
            out.update({f"{prefix}fill_{rule}_trades": float(outcome.trades),
                        f"{prefix}fill_{rule}_pnl_usd": round(outcome.pnl_usd, 2),
                        f"{prefix}fill_{rule}_profit_factor": outcome.profit_factor,
                        f"{prefix}fill_{rule}_targets": float(outcome.targets)})
        return out

    def line(self) -> str:
        """One sentence for a report's header: the rule used and what the other one makes.

        E.g. ``Fill rule: through (1 tick); under touch: 412 trades, $1,234.50, profit factor 1.31``.
        """
        other = getattr(self, self.other)
        pnl = f"-${-other.pnl_usd:,.2f}" if other.pnl_usd < 0 else f"${other.pnl_usd:,.2f}"
        factor = "n/a" if math.isnan(other.profit_factor) else f"{other.profit_factor:.2f}"
        return (f"Fill rule: {self._name(self.limit_fill)}; under {self._name(self.other)}: {other.trades} trades, "
                f"{pnl}, profit factor {factor}")

    def _name(self, rule: str) -> str:
        if rule == "touch":
            return rule
        ticks = self.limit_through_ticks
        return f"through ({ticks} tick{'' if ticks == 1 else 's'})"


def fill_outcome(result: BacktestResult) -> FillOutcome:
    """Trades, net P&L (USD), profit factor and target exits of one backtest."""
    trades = result.trades
    pnl = trades["pnl_usd"].to_numpy(dtype=float)
    return FillOutcome(trades=len(trades), pnl_usd=float(pnl.sum()), profit_factor=profit_factor(pnl),
                       targets=int((trades["exit_reason"] == "target").sum()))


def other_fill_rules(rules: RulesConfig) -> RulesConfig:
    """The rules with the other limit-fill rule (``through`` keeps ``limit_through_ticks``)."""
    other = "touch" if rules.limit_fill == "through" else "through"
    return dataclasses.replace(rules, limit_fill=other)


def fill_sensitivity(
    bars: pd.DataFrame,
    signals: StrategySignals,
    minutes: pd.DataFrame | None = None,
    result: BacktestResult | None = None,
    *,
    rules: RulesConfig,
    costs: CostsConfig,
    instrument: Instrument,
    bar_minutes: int = 5,
    reversal_min_confidence: float | None = None,
) -> FillSensitivity:
    """The backtest of ``signals`` under both limit-fill rules.

    Parameters
    ----------
    bars, signals, minutes
        As handed to :func:`lab.backtest.run_backtest`.
    result : BacktestResult, optional
        The backtest already run under ``rules`` (not run again); default: run it here.
    rules, costs, instrument, bar_minutes, reversal_min_confidence
        As handed to :func:`lab.backtest.run_backtest`; ``rules.limit_fill`` is the configured rule.

    Returns
    -------
    FillSensitivity
    """
    def run(with_rules: RulesConfig) -> BacktestResult:
        return run_backtest(bars, signals, minutes, rules=with_rules, costs=costs, instrument=instrument,
                            bar_minutes=bar_minutes, reversal_min_confidence=reversal_min_confidence)

    own = result if result is not None else run(rules)
    return sensitivity_of(rules, own, run(other_fill_rules(rules)))


def sensitivity_of(rules: RulesConfig, own: BacktestResult, other: BacktestResult) -> FillSensitivity:
    """The fill sensitivity of two runs of the same signals: ``own`` under ``rules``, ``other`` under
    :func:`other_fill_rules` of them (the backtest's two engine runs, or the paper trader and its shadow)."""
    by_rule = {rules.limit_fill: fill_outcome(own), other_fill_rules(rules).limit_fill: fill_outcome(other)}
    return FillSensitivity(rules.limit_fill, rules.limit_through_ticks, through=by_rule["through"],
                           touch=by_rule["touch"])
