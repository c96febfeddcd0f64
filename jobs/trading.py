"""One simulated window, measured and logged: the code the backtest, final-eval and paper entry points share.

:func:`backtest_window` predicts a window with the strategy's model, runs the configured strategy
(:func:`lab.strategies.backtest_strategy`) and logs it; :func:`log_backtest` measures and logs any
simulated window (a backtest's or a paper run's); :func:`warn_if_costs_off` flags a run whose costs
are partly off. Side effects go through :mod:`lab.tracking` into the active run.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import pandas as pd

from lab import tracking
from lab import tags as tag
from lab.backtest import (bootstrap_trades, breakdown, compute_metrics, evaluate_criteria, monte_carlo_metrics,
                          trades_to_csv)
from lab.backtest.metrics import daily_pnl
from lab.backtest.metrics import verdict as plan_verdict
from lab.models.evaluation import classification_metrics
from lab.reports.backtest import equity_figure, figure_png, html_report
from lab.backtest.fills import FillSensitivity
from lab.strategies import backtest_strategy, get_strategy, long_only_for_target, strategy_fill_sensitivity
from registry.deflated import daily_moments

__all__ = ["backtest_window", "log_backtest", "warn_if_costs_off"]


def backtest_window(config, bars: pd.DataFrame, minutes: pd.DataFrame, models: dict, features: list[str], title: str,
                    prefix: str = "", *, header: Mapping[str, str] | None = None) -> tuple[dict[str, float], dict[str, pd.Series]]:
    """Predict, simulate, measure and log one window (validation here, test in final-eval).

    ``models`` maps a role (:attr:`lab.strategies.ModelInput.role`) to its model; the configured
    strategy reads the one of its :attr:`~lab.strategies.Strategy.model_input`. Returns the logged
    metrics and each model's predictions (``role -> Series`` on the bars).
    """
    strategy = get_strategy(config.strategy.name)
    predictions: dict[str, pd.Series] = {}
    metrics: dict[str, float] = {}
    for role, model in models.items():
        p = pd.Series(model.predict(bars[features]), index=bars.index)
        predictions[role] = p
        labels = bars[model.target]
        known = labels.notna()
        metrics.update({f"{prefix}{role}_{k}": v for k, v in
                        classification_metrics(labels[known].to_numpy(), p[known].to_numpy()).items()})
    wanted = strategy.model_input  # the model the strategy reads (none: build_signals names what is missing)
    model = models.get(wanted.role)
    long_only = model is not None and long_only_for_target(model.target)  # target_trade: P(a long wins), not P(up)
    # The strategy's own features come from the table, formed with the history before the window.
    features_of_strategy = bars[list(strategy.features)] if strategy.features else None
    warn_if_costs_off(config)
    inputs = {wanted.argument: predictions.get(wanted.role), "features": features_of_strategy, "long_only": long_only}
    result = backtest_strategy(config, bars, minutes, **inputs)
    fills = strategy_fill_sensitivity(config, bars, minutes, result, **inputs)  # the other fill rule, for the record
    metrics = log_backtest(config, result, title, prefix, metrics, header=header, fills=fills)
    return metrics, predictions


def warn_if_costs_off(config) -> None:
    """Warn, and tag the active run ``lab.costs_off``, when commission or slippage is zero."""
    costs = config.costs
    if min(costs.commission_per_contract_usd, costs.entry_slippage_ticks, costs.exit_slippage_ticks) == 0:
        warnings.warn(f"costs are partly off ([costs] {costs}); these numbers overstate what trading would earn",
                      stacklevel=3)
        tracking.set_tags({tag.COSTS_OFF: "true"})


def log_backtest(config, result, title: str, prefix: str = "", metrics: dict[str, float] | None = None, *,
                 header: Mapping[str, str] | None = None, fills: FillSensitivity | None = None) -> dict[str, float]:
    """Measure and log one simulated window in the active run (a backtest's or a paper run's artifacts).

    Logs the plan's metrics (``prefix`` + name, added to ``metrics``), the engine counters
    (``engine_*``), a Monte Carlo interval, ``trades.csv``, ``success_criteria.csv``, the
    breakdowns, ``monte_carlo.csv``, ``equity_drawdown.png`` and ``report.html`` (opening with
    the plan's verdict on its criteria, then ``header``: what the page is about, see
    :func:`lab.reports.backtest.report_header`); prints a summary. With ``fills`` (the same
    signals under both limit-fill rules) also ``fill_<rule>_trades`` / ``_pnl_usd`` / ``_profit_factor``
    / ``_targets`` and the report's fill-rule line. Returns all the metrics logged.
    """
    metrics = dict(metrics or {})
    trades = result.trades
    metrics.update({f"{prefix}{k}": v for k, v in compute_metrics(trades, result.session_dates).items()})
    metrics.update({f"{prefix}{k}": v for k, v in daily_moments(daily_pnl(trades, result.session_dates)).items()})
    criteria = evaluate_criteria({k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}, config.criteria)
    monte_carlo = bootstrap_trades(trades["pnl_usd"].to_numpy(), seed=config.model.seed) if len(trades) else None
    if monte_carlo is not None:
        metrics.update({f"{prefix}{k}": v for k, v in monte_carlo_metrics(monte_carlo).items()})
    metrics.update({f"{prefix}engine_{k}": v for k, v in result.diagnostics.items()})
    if fills is not None:
        metrics.update(fills.metrics(prefix))
    tracking.log_metrics(metrics)
    tracking.log_text(trades_to_csv(trades), "trades.csv")
    tracking.log_table(criteria, "success_criteria.csv")
    breakdowns = {by: breakdown(trades, by) for by in ("confidence_tier", "time_of_day", "exit_reason", "side")} if len(trades) else {}
    for by, table in breakdowns.items():
        tracking.log_table(table, f"breakdown_{by}.csv", index=True)
    if monte_carlo is not None:
        tracking.log_table(monte_carlo, "monte_carlo.csv", index=True)
    figure = equity_figure(trades, title=title)
    png = figure_png(figure)
    tracking.log_figure(figure, "equity_drawdown.png")
    report = html_report(title, {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)},
                         criteria=criteria, monte_carlo=monte_carlo, breakdowns=breakdowns, trades=trades,
                         figures={"Equity and drawdown": png}, diagnostics=result.diagnostics,
                         session_dates=result.session_dates, header=header, verdict=plan_verdict(criteria),
                         daily_loss_limit_usd=config.rules.daily_loss_limit_usd,
                         fill_line=fills.line() if fills is not None else None)
    tracking.log_text(report, "report.html")
    _print_summary(title, metrics, criteria, prefix)
    if fills is not None:
        print(f"  {fills.line()}")
    return metrics


def _print_summary(title: str, metrics: dict, criteria: pd.DataFrame, prefix: str) -> None:
    get = lambda k: metrics.get(f"{prefix}{k}", float("nan"))  # noqa: E731
    print(f"{title}: {int(get('total_trades'))} trades, win rate {get('win_rate'):.3f}, profit factor "
          f"{get('profit_factor'):.2f}, total P&L ${get('total_pnl_usd'):,.2f}, max drawdown ${get('max_drawdown_usd'):,.2f}, "
          f"{get('trades_per_day'):.2f} trades/day, worst day ${get('worst_day_usd'):,.2f}")
    for key in sorted(k for k in metrics if k.endswith("_auc")):
        print(f"  {key[len(prefix):]}: {metrics[key]:.4f}")
    print("  success criteria:")
    print(criteria.to_string(index=False))
