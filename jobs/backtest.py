"""Entry point ``backtest``: the trading rules, to the letter, on the validation window.

    mlflow run . -e backtest --env-manager local -P run_id=<tune run> [-P strategy=direction]
        [-P volatility_run_id=<tune run of target_vol>] [-P start=2023-03-01 -P end=2023-06-30]

The model of a tune run gives P(up) per bar (direction strategy); breakout and mean reversion
take the volatility model of another tune run. Costs and slippage are always on. Logs every
metric of the plan, breakdowns by confidence tier, time of day and exit reason, a Monte Carlo
interval, the success criteria as a PASS/FAIL table, ``trades.csv``, the equity curve with
drawdown and a self-contained HTML report. Dates inside the test window are refused. The
configuration and data are those of the model's tune run (see :mod:`jobs.lineage`).
"""

from __future__ import annotations

import datetime as dt
import sys

from typing import Mapping

import pandas as pd

from lab import tracking
from lab.backtest import (bootstrap_trades, breakdown, compute_metrics, evaluate_criteria, monte_carlo_metrics,
                          trades_to_csv)
from lab.reports.backtest import equity_figure, figure_png, html_report
from lab.dataset.build import OPTIONAL_SETS
from lab.errors import LabError
from lab.models.evaluation import classification_metrics
from lab.strategies import backtest_strategy, long_only_for_target, targets_for
from lab.dataset.windows import guard_range
from lab.backtest.metrics import daily_pnl
from lab.backtest.metrics import verdict as plan_verdict
from lab.reports.backtest import report_header
from registry import deflated, ledger
from registry.deflated import daily_moments
from jobs.context import resolve_data
from jobs.common import base_parser, config_from_args, load_run_model, prepare, refuse
from jobs.lineage import config_for, require_same_dataset
from lab import tags as tag



def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--run-id", default="", help="tune run whose model gives P(up) (direction strategy)")
    parser.add_argument("--volatility-run-id", default="", help="tune run of target_vol (breakout, mean reversion)")
    parser.add_argument("--strategy", default="", choices=["", "direction", "breakout", "mean_reversion"],
                        help="overrides [strategy] name")
    parser.add_argument("--start", default="", help="first date (YYYY-MM-DD) inside the validation window")
    parser.add_argument("--end", default="", help="last date (YYYY-MM-DD) inside the validation window")
    args = parser.parse_args(argv)
    try:
        # Lineage: the model's own data and settings (a config or data giving another digest is refused).
        built_on = [run for run in (args.run_id, args.volatility_run_id) if run]
        config = (config_for(args, built_on[0], "backtest", **{"strategy.name": args.strategy}) if built_on
                  else config_from_args(args, **{"strategy.name": args.strategy}))
        for other in built_on[1:]:
            require_same_dataset(built_on[0], other, "backtest")
        start = dt.date.fromisoformat(args.start) if args.start else config.windows.validation.start
        end = dt.date.fromisoformat(args.end) if args.end else config.windows.validation.end
        guard_range(config.windows, start, end, "backtest")
        models = _models(config.strategy.name, args.run_id, args.volatility_run_id)
        target = models["direction"].target if "direction" in models else models["volatility"].target
        evidence = args.run_id or args.volatility_run_id
        # Only a backtest of the whole validation window is promotion evidence (no cherry-picked weeks).
        whole = (start, end) == (config.windows.validation.start, config.windows.validation.end)
        with tracking.stage_run("backtest", config, target=target, params={"window": f"{start}..{end}"},
                                tags={tag.EVIDENCE_FOR: evidence, tag.WINDOW: "validation" if whole else "validation-part",
                                      tag.STRATEGY: config.strategy.name}):
            data = resolve_data(config, stage="backtest", run_id=tracking.active_run_id())
            ledger.enter(config, trials=1, market=data.market)  # the trial ledger: every backtest variant counts 1
            dataset = prepare(config, data)
            bars = dataset.tables["validation"].loc[str(start):str(end)]
            if bars.empty:
                raise LabError(f"no validation bars between {start} and {end}; the validation window is "
                               f"{config.windows.validation}")
            minutes = pd.read_parquet(dataset.folder / "minutes_validation.parquet")
            header = report_header(config, runs={"tune": args.run_id, "volatility tune": args.volatility_run_id,
                                                 "backtest": tracking.active_run_id()},
                                   data_source=dataset.source, digest=dataset.digest, window=f"{start}..{end}")
            metrics, _ = backtest_window(config, bars, minutes, models, dataset.feature_names,
                                         f"Validation backtest {start}..{end}", header=header)
            deflated.log_backtest_statistics(config, metrics, data.market)  # trials_on_validation, deflated_sharpe_prob
    except (LabError, ValueError) as exc:
        return refuse("backtest", exc)
    return 0


def _models(strategy: str, run_id: str, volatility_run_id: str) -> dict:
    models = {}
    if strategy == "direction":
        if not run_id:
            raise LabError("the direction strategy needs -P run_id=<tune run> (a model of target_3bar/6bar/12bar/trade)")
        models["direction"] = load_run_model(run_id)
    else:
        if not volatility_run_id:
            raise LabError(f"the {strategy} strategy needs -P volatility_run_id=<tune run of target_vol>")
        models["volatility"] = load_run_model(volatility_run_id)
    (model,) = models.values()
    if model.target not in targets_for(strategy):
        raise LabError(f"run {run_id or volatility_run_id} predicts {model.target}; the {strategy} strategy needs a "
                       f"model of {', '.join(targets_for(strategy))}")
    return models


def backtest_window(config, bars: pd.DataFrame, minutes: pd.DataFrame, models: dict, features: list[str], title: str,
                    prefix: str = "", *, header: Mapping[str, str] | None = None,
                    with_verdict: bool = False) -> tuple[dict[str, float], dict[str, pd.Series]]:
    """Predict, simulate, measure and log one window (validation here, test in final-eval).

    Returns the logged metrics and each model's predictions (``role -> Series`` on the bars).
    """
    probability = volatility = None
    long_only = False
    predictions: dict[str, pd.Series] = {}
    metrics: dict[str, float] = {}
    for role, model in models.items():
        p = pd.Series(model.predict(bars[features]), index=bars.index)
        predictions[role] = p
        labels = bars[model.target]
        known = labels.notna()
        metrics.update({f"{prefix}{role}_{k}": v for k, v in
                        classification_metrics(labels[known].to_numpy(), p[known].to_numpy()).items()})
        if role == "direction":
            probability = p
            long_only = long_only_for_target(model.target)  # target_trade: P(a long wins), not P(up)
        else:
            volatility = p
    # The strategy's own features come from the table, formed with the history before the window.
    own = OPTIONAL_SETS.get(config.strategy.name)
    features_of_strategy = bars[list(own[1])] if own else None
    warn_if_costs_off(config)
    result = backtest_strategy(config, bars, minutes, probability=probability, volatility_probability=volatility,
                               features=features_of_strategy, long_only=long_only)
    metrics = log_backtest(config, result, title, prefix, metrics, header=header, with_verdict=with_verdict)
    return metrics, predictions


def warn_if_costs_off(config) -> None:
    """Warn, and tag the active run ``lab.costs_off``, when commission or slippage is zero."""
    costs = config.costs
    if min(costs.commission_per_contract_usd, costs.entry_slippage_ticks, costs.exit_slippage_ticks) == 0:
        import warnings

        warnings.warn(f"costs are partly off ([costs] {costs}); these numbers overstate what trading would earn",
                      stacklevel=3)
        tracking.set_tags({tag.COSTS_OFF: "true"})


def log_backtest(config, result, title: str, prefix: str = "", metrics: dict[str, float] | None = None, *,
                 header: Mapping[str, str] | None = None, with_verdict: bool = False) -> dict[str, float]:
    """Measure and log one simulated window in the active run (a backtest's or a paper run's artifacts).

    Logs the plan's metrics (``prefix`` + name, added to ``metrics``), the engine counters
    (``engine_*``), a Monte Carlo interval, ``trades.csv``, ``success_criteria.csv``, the
    breakdowns, ``monte_carlo.csv``, ``equity_drawdown.png`` and ``report.html`` (opening with
    ``header``: what the page is about, see :func:`lab.backtest.report_header`; and, with
    ``with_verdict``, the plan's verdict on its criteria); prints a summary. Returns all the metrics logged.
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
                         session_dates=result.session_dates, header=header,
                         verdict=plan_verdict(criteria) if with_verdict else None)
    tracking.log_text(report, "report.html")
    _print_summary(title, metrics, criteria, prefix)
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


if __name__ == "__main__":
    sys.exit(main())
