"""Entry point ``tune``: the hyperparameter grid on the train window, early stopping on validation.

    mlflow run . -e tune --env-manager local [-P target=target_6bar] [-P model=lightgbm|xgboost]
        [-P sampler=grid|tpe -P trials=N] [-P storage=postgresql://...] [-P study_name=...]

One parent MLflow run; each trial is a nested run (parameters, validation metrics, best
iteration). The parent logs the leaderboard (CSV and picture), the best parameters, and the best
model (native LightGBM/XGBoost flavor with signature and input example) retrained once with
those parameters, ready for ``lab promote --run-id <run>``. Re-running with the same study name
resumes: finished grid points are not redone; several workers may share one study through
``-P storage=postgresql://...``.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from lab import paths, tracking
from lab.errors import LabError
from lab.evaluation import reliability_table
from lab.models import TrainingData, feature_importance, predict_proba, train_classifier, with_params
from lab.plots import feature_importance_figure, leaderboard_figure, reliability_figure
from lab.tuning import create_study, default_study_name, open_storage, run_study, search_space, study_progress, trials_table
from jobs.common import add_model_options, base_parser, config_from_args, labelled, model_overrides, prepare


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    add_model_options(parser)
    parser.add_argument("--sampler", default="", choices=["", "grid", "tpe"], help="overrides [tune] sampler")
    parser.add_argument("--trials", default="", help="overrides [tune] trials (0: whole grid; the budget for tpe)")
    parser.add_argument("--storage", default="", help="Optuna storage URL; overrides [tune] storage")
    parser.add_argument("--study-name", default="", help="overrides [tune] study_name")
    for key in ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf"):
        parser.add_argument(f"--{key.replace('_', '-')}", default="", help=f"comma-separated grid values; overrides [tune] {key}")
    args = parser.parse_args(argv)
    try:
        grid = {f"tune.{k}": [float(v) if k == "learning_rate" else int(v) for v in getattr(args, k).split(",")]
                for k in ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf") if getattr(args, k)}
        config = config_from_args(args, **model_overrides(args), **grid, **{
            "tune.sampler": args.sampler, "tune.trials": args.trials, "tune.storage": args.storage,
            "tune.study_name": args.study_name})
        with tracking.stage_run("tune", config, target=args.target) as run:
            tune(config, args.target, run.info.run_id)
    except LabError as exc:
        tracking.record_refusal(exc)
        print(f"tune: error: {exc}", file=sys.stderr)
        return 2
    return 0


def tune(config, target: str, parent_run_id: str) -> None:
    """Run (or resume) the study, log every trial, then log the best model on the parent run."""
    import mlflow

    dataset = prepare(config)
    train_x, train_y = labelled(dataset.tables["train"], dataset.feature_names, target)
    val_x, val_y = labelled(dataset.tables["validation"], dataset.feature_names, target)
    data = TrainingData.from_arrays(train_x, train_y, val_x, val_y)
    space = search_space(config.tune)
    name = config.tune.study_name or default_study_name(target, config.model.engine, dataset.digest)
    storage = open_storage(config.tune.storage, paths.project_root() / ".lab" / "optuna")
    study = create_study(name, storage, space, seed=config.model.seed, sampler=config.tune.sampler)
    n_trials = config.tune.trials or None
    tracking.log_params({"study": name, "study_storage": config.tune.storage or "journal file (.lab/optuna)",
                         "train_rows": len(train_y), "validation_rows": len(val_y)})
    done, total = study_progress(study, n_trials)
    print(f"tune: study {name}: {done}/{total} trials already done; target {target}, engine {config.model.engine}",
          file=sys.stderr)

    from tqdm import tqdm

    bar = tqdm(total=total, initial=done, desc="tune trials", unit="trial", file=sys.stderr)
    timings = {"train_s": 0.0, "log_s": 0.0}

    def log_trial(_study, trial) -> None:
        began = time.perf_counter()
        tracking.log_trial_run(parent_run_id, trial.number, {**trial.params, "target": target, "engine": config.model.engine},
                               {"val_auc": trial.value, **{k: v for k, v in trial.user_attrs.items() if isinstance(v, (int, float))}})
        timings["train_s"] += float(trial.user_attrs.get("fit_seconds", 0.0))
        timings["log_s"] += time.perf_counter() - began

    def progress(done_now: int, total_now: int) -> None:
        bar.n = done_now
        bar.refresh()

    from lab.tuning import make_objective

    started = time.perf_counter()
    ran = run_study(study, make_objective(data, config.model, space), n_trials, callbacks=[log_trial], progress=progress)
    bar.close()
    search_s = time.perf_counter() - started
    leaderboard = trials_table(study)
    if leaderboard.empty:
        raise LabError(f"study {name} has no completed trial; see the failed trials in the Optuna storage")
    best = study.best_trial
    best_params = dict(best.params)
    model_config = with_params(config.model, best_params)
    fitted = train_classifier(data, model_config)
    probability = predict_proba(fitted.booster, val_x)
    model_id = tracking.log_model(fitted, train_x)
    mlflow.set_tags({"lab.dataset_digest": dataset.digest, "lab.features": ",".join(dataset.feature_names),
                     "lab.model_id": model_id, "lab.model_uri": f"models:/{model_id}", "lab.study": name})
    tracking.log_params({f"best.{k}": v for k, v in best_params.items()})
    from lab.evaluation import classification_metrics

    metrics = {f"val_{k}": v for k, v in classification_metrics(val_y, probability).items()}
    metrics.update({"best_iteration": fitted.best_iteration, "trials_run_here": ran, "trials_completed": len(leaderboard),
                    "search_wall_s": search_s, "search_train_s": timings["train_s"], "trial_logging_s": timings["log_s"]})
    tracking.log_metrics(metrics)
    tracking.log_table(leaderboard, "leaderboard.csv")
    tracking.log_figure(leaderboard_figure(leaderboard), "leaderboard.png")
    importance = feature_importance(fitted.booster)
    tracking.log_table(importance, "feature_importance.csv")
    tracking.log_figure(feature_importance_figure(importance, "gain"), "feature_importance_gain.png")
    tracking.log_figure(feature_importance_figure(importance, "split"), "feature_importance_split.png")
    reliability = reliability_table(val_y, probability)
    tracking.log_table(reliability, "reliability.csv")
    tracking.log_figure(reliability_figure(reliability, f"Reliability, validation, {target}"), "reliability.png")
    print(f"tune: {len(leaderboard)} trials ({ran} run here) in {search_s:.1f} s; best validation AUC "
          f"{metrics['val_auc']:.4f} with {best_params}; model {model_id}")
    print(f"  next: mlflow run . -e walk-forward --env-manager local -P params_from={parent_run_id} -P target={target}")


if __name__ == "__main__":
    sys.exit(main())
