"""Entry point ``analyze``: the plan's Phase 4 on the validation window, for one tune run.

    mlflow run . -e analyze --env-manager local -P run_id=<tune run> [-P threshold=0.55]

With the tune run's own data and configuration (:mod:`jobs.lineage`: a ``-P config``/``-P data``
giving another dataset digest is refused), on the validation window only: a threshold
sweep 0.50..0.75 by 0.01 (win rate, profit factor, trades per day and P&L per threshold; every
point is a trial on the validation window and counted as one), robustness of the backtest at the
configured threshold (or ``-P threshold``) by month and by volatility regime (terciles of trailing
realised volatility) with its month-to-month stability, overfitting (train vs validation vs
walk-forward AUC), winning vs losing trades by time of day, confidence tier and bars held, and
the top features by gain with each feature's correlation with the target. Logs CSVs, pictures
and a one-page ``report.html`` to one run.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile

import pandas as pd

from jobs.common import base_parser, job_main, load_run_model, prepare, refuse
from jobs.context import JobContext, open_job
from jobs.lineage import config_for
from lab import tags as tag
from lab import tracking
from lab.config import LabConfig
from lab.config.parsing import parse_number_param
from lab.errors import LabError
from lab.models.boosters import feature_importance
from lab.models.evaluation import roc_auc
from lab.plots.analysis import group_pnl_figure, threshold_sweep_figure
from lab.reports.backtest import figure_png, html_report
from lab.strategies import DIRECTION_TARGETS, backtest_strategy, long_only_for_target
from lab.study.analysis import (
    SWEEP_THRESHOLDS,
    analysis_summary,
    auc_overfitting,
    by_month,
    by_volatility_regime,
    feature_correlations,
    threshold_sweep,
    winners_and_losers,
)
from registry import ledger
from registry.evidence import find_evidence, run_facts


@job_main("analyze")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--run-id", default="", help="tune run whose model is analysed (a direction target)")
    parser.add_argument("--threshold", default="", help="entry threshold of the robustness backtest "
                                                        "(default: [rules] entry_threshold)")
    args = parser.parse_args(argv)
    try:
        given = parse_number_param("-P threshold", args.threshold, "0.6") if args.threshold else None
        if not args.run_id:
            raise LabError("analyze needs -P run_id=<tune run> (the run whose model to analyse)")
        config = config_for(args, args.run_id, "analyze")  # the tune run's own data and settings
        model = load_run_model(args.run_id)
        if model.target not in DIRECTION_TARGETS:
            raise LabError(f"run {args.run_id} predicts {model.target}; analyze sweeps a direction model's entry "
                           f"threshold, so it needs one of {', '.join(DIRECTION_TARGETS)}")
        threshold = config.rules.entry_threshold if given is None else given
        if not 0.5 < threshold <= 1.0:
            raise LabError(f"-P threshold = {args.threshold!r} must lie in (0.5, 1] (an entry probability); "
                           "write e.g. 0.6")
        with open_job("analyze", config, target=model.target, params={"robustness_threshold": threshold},
                      tags={tag.EVIDENCE_FOR: args.run_id, tag.WINDOW: "validation"}, builds_on=[args.run_id]) as job:
            analyze(job, model, threshold)
    except (LabError, ValueError) as exc:
        return refuse("analyze", exc)
    return 0


def with_threshold(config: LabConfig, threshold: float) -> LabConfig:
    """``config`` with ``[rules] entry_threshold = threshold`` (full size kept at or above it)."""
    rules = dataclasses.replace(config.rules, entry_threshold=threshold,
                                full_size_threshold=max(config.rules.full_size_threshold, threshold))
    return dataclasses.replace(config, rules=rules, strategy=dataclasses.replace(config.strategy, name="direction"))


def analyze(job: JobContext, model, threshold: float) -> dict[str, float]:
    """Compute every Phase 4 table of ``model`` on the validation window, log them and the report."""
    config = job.config
    dataset = prepare(job)
    ledger.enter(config, trials=len(SWEEP_THRESHOLDS), market=job.market)  # every sweep point is a look at the validation window
    bars = dataset.tables["validation"]
    minutes = pd.read_parquet(dataset.folder / "minutes_validation.parquet")
    features = list(model.features)
    probability = pd.Series(model.predict(bars[features]), index=bars.index)
    long_only = long_only_for_target(model.target)

    def backtest_at(entry_threshold: float):
        result = backtest_strategy(with_threshold(config, entry_threshold), bars, minutes, probability=probability,
                                   long_only=long_only)
        return result.trades, result.session_dates

    print(f"analyze: threshold sweep, {len(SWEEP_THRESHOLDS)} backtests of the validation window", file=sys.stderr)
    sweep = threshold_sweep(backtest_at, SWEEP_THRESHOLDS)
    trades, _ = backtest_at(threshold)
    monthly = by_month(trades)
    regimes = by_volatility_regime(trades, bars)
    trade_tables = {by: winners_and_losers(trades, by) for by in ("time_of_day", "confidence_tier", "bars_held")}

    train = dataset.tables["train"]
    labelled = train[model.target].notna()
    train_auc = roc_auc(train.loc[labelled, model.target].to_numpy(float),
                        model.predict(train.loc[labelled, features]))
    candidate = run_facts(model.run_id)
    tune_metrics = candidate.metrics
    folds = _walk_forward_folds(candidate)
    overfitting = auc_overfitting(train_auc, tune_metrics.get("val_auc", float("nan")), folds)
    importance = feature_importance(model.booster)
    correlations = feature_correlations(train, features, model.target, importance)
    top = importance.sort_values("gain", ascending=False).head(10)

    summary = analysis_summary(sweep, monthly, overfitting, correlations)
    tracking.log_metrics(summary)
    summary["trials_on_validation"] = float(ledger.log_count(config, market=job.market))  # logged by the ledger itself
    tables = {"threshold_sweep.csv": sweep, "by_month.csv": monthly, "by_volatility_regime.csv": regimes,
              "overfitting_auc.csv": overfitting, "feature_correlations.csv": correlations,
              "top_features_by_gain.csv": top,
              **{f"winners_losers_by_{by}.csv": table for by, table in trade_tables.items()}}
    for name, table in tables.items():
        tracking.log_table(table, f"analysis/{name}")
    figures = {"Threshold sweep": threshold_sweep_figure(sweep, config.rules.entry_threshold),
               f"P&L by month (threshold {threshold:.2f})": group_pnl_figure(monthly, "month", "P&L by month"),
               f"P&L by volatility regime (threshold {threshold:.2f})":
                   group_pnl_figure(regimes, "volatility_regime", "P&L by volatility regime (trailing 78-bar std)")}
    pngs = {name: figure_png(figure) for name, figure in figures.items()}
    for name, figure in figures.items():
        tracking.log_figure(figure, f"analysis/{_slug(name)}.png")
    report = html_report(
        f"Phase 4 analysis of {model.run_id} ({model.target}), validation {config.windows.validation}",
        summary,
        breakdowns={"Threshold sweep": sweep.set_index("threshold"),
                    "Train vs validation vs walk-forward AUC": overfitting.set_index("window"),
                    f"By month (threshold {threshold:.2f})": monthly.set_index("month"),
                    f"By volatility regime (threshold {threshold:.2f})": regimes.set_index("volatility_regime"),
                    **{f"Winners and losers by {by}": table.set_index(by) for by, table in trade_tables.items()},
                    "Top 10 features by gain": top.set_index("feature"),
                    "Feature correlation with the target (training window)": correlations.set_index("feature")},
        figures=pngs,
        header={"tune run": model.run_id, "target": model.target, "dataset digest": dataset.digest,
                "data": dataset.source, "window": f"validation {config.windows.validation}",
                "sweep": f"{len(sweep)} thresholds {SWEEP_THRESHOLDS[0]:.2f}..{SWEEP_THRESHOLDS[-1]:.2f}, "
                         "each a trial on the validation window"},
    )
    tracking.log_text(report, "report.html")
    best = sweep.loc[sweep["total_pnl_usd"].idxmax()]
    print(f"analyze {model.run_id} ({model.target}) on validation {config.windows.validation}:")
    print(f"  AUC train {train_auc:.4f}, validation {overfitting['auc'].iloc[1]:.4f}"
          + (f", walk-forward {overfitting['auc'].iloc[2]:.4f}" if len(overfitting) > 2 else ", no walk-forward run"))
    print(f"  sweep: {int((sweep['trades'] > 0).sum())} of {len(sweep)} thresholds trade; best P&L "
          f"${best['total_pnl_usd']:,.2f} at {best['threshold']:.2f}")
    print(f"  at {threshold:.2f}: {len(trades):,} trades over {len(monthly)} months, "
          f"{summary['stability_profitable_months_share'] if len(monthly) else float('nan'):.2f} of months profitable")
    print(f"  strongest feature correlation with {model.target}: {correlations['feature'].iloc[0]} "
          f"{correlations['pearson'].iloc[0]:+.4f} (the plan found 0.019 on real data)")
    return summary


def _walk_forward_folds(candidate) -> pd.DataFrame | None:
    """The fold table of the walk-forward the gate would count for this tune run (same digest), if any."""
    evidence = find_evidence(candidate, "walk-forward")
    if evidence.run is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        return pd.read_csv(tracking.download_artifact(evidence.run.run_id, "folds.csv", folder))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_").replace("__", "_")


if __name__ == "__main__":
    sys.exit(main())
