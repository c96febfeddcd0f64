"""The backtest core: rules-exact simulation of per-bar signals, statistics.

Pure computation: DataFrames and arrays in, DataFrames, dicts and bytes out; no MLflow, no
paths. The rules and their exact semantics are documented in :mod:`lab.backtest.run`.

Typical use::

    from lab.backtest import run_backtest, compute_metrics, evaluate_criteria
    from lab.strategies.direction import direction_signals

    result = run_backtest(bars, direction_signals(p_up, rules), minutes, rules=rules, costs=costs)
    metrics = compute_metrics(result.trades, result.session_dates)
    table = evaluate_criteria(metrics, criteria)
"""

from __future__ import annotations

from lab.backtest.engine import COUNTER_NAMES
from lab.backtest.fills import FillOutcome, FillSensitivity, fill_sensitivity
from lab.backtest.metrics import (
    EXIT_REASONS,
    breakdown,
    compute_metrics,
    criteria_passed,
    daily_pnl,
    equity_curve,
    evaluate_criteria,
    max_drawdown_usd,
    profit_factor,
)
from lab.backtest.monte_carlo import bootstrap_trades, monte_carlo_metrics
from lab.backtest.run import TRADE_COLUMNS, BacktestResult, empty_trades, run_backtest, trades_to_csv
from lab.backtest.signals import (BacktestInputError, ExitParams, StrategySignals, is_full_size, position_contracts,
                                  reaches_entry_threshold)

__all__ = [
    "BacktestInputError",
    "BacktestResult",
    "COUNTER_NAMES",
    "EXIT_REASONS",
    "ExitParams",
    "FillOutcome",
    "FillSensitivity",
    "StrategySignals",
    "TRADE_COLUMNS",
    "bootstrap_trades",
    "breakdown",
    "compute_metrics",
    "criteria_passed",
    "daily_pnl",
    "empty_trades",
    "equity_curve",
    "evaluate_criteria",
    "fill_sensitivity",
    "is_full_size",
    "max_drawdown_usd",
    "monte_carlo_metrics",
    "position_contracts",
    "profit_factor",
    "reaches_entry_threshold",
    "run_backtest",
    "trades_to_csv",
]
