"""Entry point ``walk-forward``: monthly folds over the train window, one model per fold.

    mlflow run . -e walk-forward --env-manager local [-P target=target_6bar] [-P params_from=<tune run id>]
        [-P mode=expanding|rolling]

Expanding (or rolling) folds: train on months 1..N, validate on month N+1, with a purge of the
label horizon between them. Per fold AUC, accuracy, log loss, Brier score, expected calibration
error, train-minus-validation AUC and best iteration, logged as step metrics (step = fold), a fold
table and pictures. ``params_from`` takes the best parameters of a tune run and records that run
as the evidence this walk-forward supports (tag ``lab.evidence_for``); it also takes that run's
configuration and data (see :mod:`jobs.lineage`): ``-P config``/``-P data`` giving another
dataset digest are refused.
"""

from __future__ import annotations

import sys

import pandas as pd

from jobs.common import (
    add_model_options,
    base_parser,
    config_from_args,
    job_main,
    model_overrides,
    prepare,
    refuse,
    tune_run_params,
)
from jobs.context import JobContext, open_job
from jobs.lineage import config_for
from lab import tracking
from lab.errors import LabError
from lab.features.targets import target_horizon_bars
from lab.models.evaluation import reliability_table
from lab.plots.models import fold_auc_figure, reliability_figure
from lab.study.walk_forward import run_walk_forward
from registry import ledger

SUMMARY = ("auc", "accuracy", "log_loss", "brier_score", "ece", "auc_gap", "best_iteration")


@job_main("walk-forward")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    add_model_options(parser)
    parser.add_argument("--params-from", default="", help="tune run id whose best parameters (and engine) to use")
    parser.add_argument("--mode", default="", choices=["", "expanding", "rolling"], help="overrides [walk_forward] mode")
    args = parser.parse_args(argv)
    try:
        params, engine, tags = tune_run_params(args.params_from, args.target) if args.params_from else ({}, "", {})
        overrides = {**model_overrides(args), "walk_forward.mode": args.mode}
        if engine and not args.model:
            overrides["model.engine"] = engine
        # Lineage: the tune run's own data and settings (a config or data giving another digest is refused).
        config = (config_for(args, args.params_from, "walk-forward", **overrides) if args.params_from
                  else config_from_args(args, **overrides))
        with open_job("walk-forward", config, target=args.target, tags=tags, builds_on=[args.params_from],
                      params={f"params.{k}": v for k, v in params.items()}) as job:
            ledger.enter(config, trials=1, market=job.market)  # the trial ledger
            walk_forward(job, args.target, params)
    except LabError as exc:
        return refuse("walk-forward", exc)
    return 0


def walk_forward(job: JobContext, target: str, params: dict) -> None:
    """Run the folds on the train window of the job's data and log them."""
    config = job.config
    dataset = prepare(job)
    table = dataset.tables["train"][[*dataset.feature_names, target]]
    horizon = target_horizon_bars(target, config.targets, config.rules)
    print(f"walk-forward: {config.walk_forward.mode} monthly folds over the train window, target {target}, "
          f"engine {config.model.engine}, purge {horizon} bars", file=sys.stderr)
    out_of_fold: list = []
    from tqdm import tqdm  # optional: progress bars only

    with tqdm(desc="walk-forward folds", unit="fold", file=sys.stderr) as bar:

        def on_fold(done: int, total: int, row) -> None:
            bar.total = total
            bar.set_postfix_str(f"{row['val_start']:%Y-%m} AUC {row['auc']:.3f}")
            bar.update(1)

        folds = run_walk_forward(table, target, config.model, config.walk_forward, params=params, horizon_bars=horizon,
                                 features=dataset.feature_names, predictions=out_of_fold, on_fold=on_fold)
    pooled = pd.concat(out_of_fold)
    reliability = reliability_table(pooled["label"].to_numpy(), pooled["probability"].to_numpy())
    for row in folds.itertuples():
        tracking.log_metrics({f"fold_{k}": getattr(row, k) for k in SUMMARY}, step=int(row.fold))
    summary = {f"wf_{k}_mean": float(folds[k].mean()) for k in SUMMARY}
    summary.update({"wf_auc_std": float(folds["auc"].std(ddof=0)), "wf_auc_min": float(folds["auc"].min()),
                    "wf_auc_max": float(folds["auc"].max()), "wf_folds": len(folds)})
    tracking.log_metrics(summary)
    tracking.log_table(folds, "folds.csv")
    tracking.log_figure(fold_auc_figure(folds), "auc_by_fold.png")
    tracking.log_table(reliability, "reliability.csv")
    tracking.log_figure(reliability_figure(reliability, f"Reliability, out-of-fold, {target}"), "reliability.png")
    tracking.log_table(pooled.reset_index(), "out_of_fold_predictions.csv")
    print(folds[["fold", "val_start", "n_train", "n_val", "auc", "brier_score", "ece", "auc_gap", "best_iteration"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"walk-forward: {len(folds)} folds, AUC {summary['wf_auc_mean']:.4f} +/- {summary['wf_auc_std']:.4f}, "
          f"train-minus-validation AUC {summary['wf_auc_gap_mean']:.4f}")


if __name__ == "__main__":
    sys.exit(main())
