"""Entry point ``tune``: the hyperparameter grid on the train window, early stopping on validation.

    mlflow run . -e tune --env-manager local [-P target=target_6bar] [-P model=lightgbm|xgboost]
        [-P sampler=grid|tpe -P trials=N] [-P storage=postgresql://...] [-P study_name=...]

One parent MLflow run; each trial is a nested run (parameters, validation metrics, best
iteration). The parent logs the leaderboard (CSV and picture), the best parameters, and the best
model (native LightGBM/XGBoost flavor with signature and input example) retrained once with
those parameters, ready for ``lab promote --run-id <run>``. Re-running with the same study name
resumes: finished grid points are not redone; several workers may share one study through
``-P storage=postgresql://...``.

Every trial is a strategy: its model trades the validation window under the rules and costs
(:mod:`lab.study.trial_pnl`); each trial run logs ``sharpe_daily``, ``total_pnl_usd`` and
``trades``, and the parent logs the study's P&L matrix ``study/trial_daily_pnl.csv`` with the
statistics the gate reads (``pbo``, ``spa_pvalue``, ``deflated_sharpe_prob``,
``trial_sharpe_variance`` and their inputs; :mod:`registry.deflated`).

The default study storage follows the tracking store: a journal file under
``.lab/optuna/<store key>/``, the key naming the tracking URI and the store's creation (see
:func:`lab.tracking.store_key`), so a fresh store starts fresh studies and the same store resumes
them. The default study name holds target, engine, dataset digest and a hash of the grid, the
sampler and the untuned model settings, so two searches never meet under one name. A resumed
study whose completed trials have no trial run in this store is tagged ``lab.study_runs_missing``.
A killed tune resumed with the same command re-runs the killed points (the killed run is marked
KILLED); a best model chosen from an incomplete grid is tagged ``lab.incomplete_grid``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import optuna
import pandas as pd

from jobs.common import (
    add_model_options,
    base_parser,
    config_from_args,
    job_main,
    labelled,
    model_overrides,
    prepare,
    refuse,
)
from jobs.context import JobContext, open_job
from jobs.hints import entry_point_command
from lab import paths
from lab import tags as tag
from lab import tracking
from lab.config import TuneConfig
from lab.config.parsing import parse_number_param
from lab.config.settings import MODEL_BOUNDS, check_model_value
from lab.errors import ConfigError, LabError
from lab.models.boosters import (
    TrainedModel,
    TrainingData,
    feature_importance,
    predict_proba,
    train_classifier,
    with_params,
)
from lab.models.evaluation import classification_metrics, reliability_table
from lab.plots.models import feature_importance_figure, leaderboard_figure, reliability_figure
from lab.stats import week_starts
from lab.stats.requirements import constant_predictions_warning, study_window_warning, window_span
from lab.study.trial_pnl import TrialTrader
from lab.study.tuning import (
    create_study,
    default_study_name,
    grid_points,
    make_objective,
    open_storage,
    period_auc_matrix,
    recover_stale_trials,
    run_study,
    search_size,
    search_space,
    study_identity,
    study_progress,
    trial_pnl_matrix,
    trial_run_name,
    trials_table,
)
from registry import deflated, ledger


@job_main("tune")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    add_model_options(parser)
    parser.add_argument("--sampler", default="", choices=["", "grid", "tpe"], help="overrides [tune] sampler")
    parser.add_argument("--trials", default="", help="overrides [tune] trials (0: whole grid; the budget for tpe)")
    parser.add_argument("--storage", default="", help="Optuna storage URL; overrides [tune] storage")
    parser.add_argument("--study-name", default="", help="overrides [tune] study_name")
    parser.add_argument("--workers", default="", help="parallel trial processes here; overrides [tune] workers")
    for key in ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf"):
        parser.add_argument(f"--{key.replace('_', '-')}", default="", help=f"comma-separated grid values; overrides [tune] {key}")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar and the summary say it all
    try:
        grid = grid_overrides(args)
        config = config_from_args(args, **model_overrides(args), **grid, **{
            "tune.sampler": args.sampler, "tune.trials": args.trials, "tune.storage": args.storage,
            "tune.study_name": args.study_name, "tune.workers": args.workers})
        with open_job("tune", config, target=args.target) as job:
            tune(job, args.target)
    except LabError as exc:
        return refuse("tune", exc)
    return 0


def tune(job: JobContext, target: str) -> None:
    """Run (or resume) the study, log every trial, then log the best model on the parent run.

    The worker processes start first (spawned, ``workers - 1`` of them: this process is a worker
    too) and load their libraries while this one reads the data; they receive the search's inputs
    built here once (:class:`StudyInputs`: the labelled arrays, the LightGBM datasets binned once and
    shared as binary files in a temporary folder, the week of each validation row, the validation
    bars the trials trade) instead of reading and binning the data again. Each worker keeps the
    model of its best trial and hands it back, so the best model is not trained a second time.
    """
    started = time.perf_counter()
    # no process is started that could get no point: a one-point grid trains here
    workers = min(job.config.tune.workers or os.cpu_count() or 1, planned_trials(job.config.tune))
    with tempfile.TemporaryDirectory(prefix="lab-tune-") as shared, _worker_pool(workers - 1) as pool:
        _tune(job, target, started, workers, pool, shared)


def _tune(job: JobContext, target: str, started: float, workers: int, pool, shared: str) -> None:
    from tqdm import tqdm  # optional: progress bars only

    config, parent_run_id = job.config, job.run_id
    dataset = prepare(job)
    if (short := study_window_warning(*window_span(dataset.tables["validation"]))) is not None:
        warnings.warn(short, stacklevel=2)
        print(f"tune: WARNING: {short}", file=sys.stderr)
    ledger.enter(config, trials=0, market=job.market)  # the trial ledger: each nested trial run counts 1
    if workers > 1 and config.model.num_threads == 0:
        job = job.with_config(config.replace({"model.num_threads": 1}))  # measured: N processes x 1 thread beat 1 x N
        config = job.config
    name = config.tune.study_name or (default_study_name(target, config.model.engine, dataset.digest) + "-"
                                      + study_identity(search_space(config.tune), config.tune.sampler,
                                                       fixed_model_settings(config)))
    journal = journal_dir()
    tracking.run_record(parent_run_id)
    tracking.set_tags({tag.STUDY: name}, parent_run_id)
    inputs = study_inputs(config, dataset, target, shared if workers > 1 else None)
    study, n_trials = _open_study(config, name, journal)
    data = inputs.data
    tracking.log_params({"study": name, "study_storage": config.tune.storage or f"journal file {journal}",
                         "worker_processes": workers, "train_rows": len(data.y_train), "validation_rows": len(data.y_val)})
    _recover(study, name, parent_run_id)
    done, total = study_progress(study, n_trials)
    print(f"tune: study {name}: {done}/{total} trials already done; target {target}, engine {config.model.engine}, "
          f"{workers} worker process(es)", file=sys.stderr)
    bar = tqdm(total=total, initial=done, desc="tune trials", unit="trial", file=sys.stderr)

    def progress(done_now: int, total_now: int) -> None:
        bar.n = done_now
        bar.refresh()

    search_started = time.perf_counter()
    extra = min(workers - 1, max(total - done - 1, 0))  # no work is sent to a process when there is none
    others = [pool.submit(study_worker, job, inputs, target, name, journal) for _ in range(extra)]
    ran, _, _, kept = _run_trials(study, inputs, job, target, n_trials, progress)
    worker_mlflow_s = 0.0
    models = [kept]
    for future in others:
        more, more_mlflow_s, _, theirs = future.result()  # a worker's waits overlap this process's work
        ran, worker_mlflow_s = ran + more, worker_mlflow_s + more_mlflow_s
        models.append(theirs)
    progress(*study_progress(study, n_trials))
    bar.close()
    search_s = time.perf_counter() - search_started
    leaderboard = trials_table(study)
    if leaderboard.empty:
        raise LabError(f"study {name} has no completed trial; see the failed trials in the Optuna storage")
    done, total = study_progress(study, n_trials)
    if done < total:
        message = (f"the grid is incomplete: {done} of {total} points finished (see the failed trials in the "
                   "Optuna storage); the best model below is the best of those only")
        warnings.warn(message, stacklevel=2)
        print(f"tune: WARNING: {message}", file=sys.stderr)
        tracking.set_tags({tag.INCOMPLETE_GRID: f"{done}/{total}"})
    best_params = dict(study.best_trial.params)
    fitted = best_model(study.best_trial, models) or train_classifier(data, with_params(config.model, best_params))
    val_x = dataset_frame(dataset, "validation", target)
    probability = predict_proba(fitted.booster, val_x)
    model_id = tracking.log_model(fitted, dataset_frame(dataset, "train", target))
    tracking.set_tags({tag.DATASET_DIGEST: dataset.digest, tag.FEATURES: ",".join(dataset.feature_names),
                       tag.MODEL_ID: model_id, tag.MODEL_URI: f"models:/{model_id}", tag.STUDY: name,
                       tag.LEDGER_NESTED: str(len(leaderboard))}, parent_run_id)
    tracking.log_params({f"best.{k}": v for k, v in best_params.items()})
    metrics = {f"val_{k}": v for k, v in classification_metrics(data.y_val, probability).items()}
    metrics["val_prediction_spread"] = float(np.ptp(probability)) if len(probability) else float("nan")
    if (constant := constant_predictions_warning(probability)) is not None:
        warnings.warn(constant, stacklevel=2)
        print(f"tune: WARNING: {constant}", file=sys.stderr)
    copied = int(leaderboard[tag.SAME_MODEL_AS].notna().sum()) if tag.SAME_MODEL_AS in leaderboard else 0
    metrics.update({"best_iteration": fitted.best_iteration, "trials_run_here": ran,
                    "best_model_retrained": float(not any(k.model is fitted for k in models)), "trials_completed": len(leaderboard),
                    "trials_same_model": copied,
                    "search_wall_s": search_s, "search_train_s": float(leaderboard.get("fit_seconds", pd.Series(dtype=float)).sum()),
                    # every trial traded on validation (lab.study.trial_pnl): its share of the search
                    "search_backtest_s": float(leaderboard.get("backtest_seconds", pd.Series(dtype=float)).sum()),
                    })
    importance = feature_importance(fitted.booster)
    reliability = reliability_table(data.y_val, probability)
    counted = ledger.log_count(config, market=job.market)  # trials_on_validation: N of the deflated Sharpe
    deflated.log_study_statistics(trial_pnl_matrix(study), period_auc_matrix(study), counted,
                                  seed=config.model.seed)  # pbo, spa_pvalue, deflated_sharpe_prob
    tracking.log_table(leaderboard, "leaderboard.csv")
    tracking.log_figure(leaderboard_figure(leaderboard), "leaderboard.png")
    tracking.log_table(importance, "feature_importance.csv")
    tracking.log_figure(feature_importance_figure(importance, "gain"), "feature_importance_gain.png")
    tracking.log_figure(feature_importance_figure(importance, "split"), "feature_importance_split.png")
    tracking.log_table(reliability, "reliability.csv")
    tracking.log_figure(reliability_figure(reliability, f"Reliability, validation (it also stopped the training), {target}"),
                        "reliability.png")
    metrics["tune_wall_s"] = time.perf_counter() - started
    # every MLflow call of this job, in this process and the workers (this last call excepted), and
    # the part the job waited for (the rest overlapped training)
    metrics["mlflow_s"] = tracking.seconds_in_mlflow() + worker_mlflow_s
    metrics["mlflow_blocking_s"] = tracking.seconds_in_mlflow(blocking=True)
    tracking.log_metrics(metrics)
    same = f", {copied} grew the same trees as another and copied its scores" if copied else ""
    print(f"tune: {len(leaderboard)} trials ({ran} run now{same}) in {search_s:.1f} s; best validation AUC "
          f"{metrics['val_auc']:.4f} with {best_params}; model {model_id}")
    print(f"  next: {next_command(parent_run_id, target)}")


GRID_KEYS = ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf")


def planned_trials(tune_config: TuneConfig) -> int:
    """How many trials the search runs at most: the grid's points (capped by ``trials`` when set), or
    ``trials`` for TPE.

    >>> planned_trials(TuneConfig())
    81
    >>> planned_trials(TuneConfig(num_leaves=[7], max_depth=[3], learning_rate=[0.1], min_data_in_leaf=[200]))
    1
    """
    if tune_config.sampler == "tpe" and tune_config.trials:
        return tune_config.trials
    return search_size(grid_points(search_space(tune_config)), tune_config.trials)


def grid_overrides(args) -> dict[str, list[int | float]]:
    """The ``-P num_leaves=15,31,63``-style grids as ``tune.<key>`` overrides, each value checked.

    Raises
    ------
    ConfigError
        A value that is not a number of the setting's type, or outside the range of its ``[model]``
        setting: one line naming the parameter, the value and the fix.
    """
    grid: dict[str, list[int | float]] = {}
    for key in GRID_KEYS:
        text = getattr(args, key, "")
        if not text:
            continue
        example = f"-P {key}=" + ",".join(map(str, getattr(TuneConfig(), key)))
        values: list[int | float] = []
        for item in text.split(","):
            number = parse_number_param(f"-P {key}", item, example)
            if isinstance(MODEL_BOUNDS[key][0], int):
                if number != int(number):
                    raise ConfigError(f"-P {key} = {item.strip()!r} must be a whole number; write e.g. {example}")
                number = int(number)
            check_model_value(key, number, f"-P {key}")
            values.append(number)
        grid[f"tune.{key}"] = values
    return grid


class _NoPool:
    """Stands in for the process pool when one worker is asked for."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _worker_pool(size: int):
    """``size`` spawned worker processes, started now: each loads its libraries (:func:`_warm_up`)
    while this process reads the data (measured: 2-3 s of imports a process, off the search's path)."""
    if size < 1:
        return _NoPool()
    pool = ProcessPoolExecutor(max_workers=size, mp_context=get_context("spawn"))
    for _ in range(size):
        pool.submit(_warm_up)
    return pool


def _warm_up() -> None:
    """Import what a trial uses (this module's imports came with the spawn)."""
    import lightgbm  # noqa: F401  heavy: the boosting library, imported once before the first trial


@dataclass(frozen=True)
class StudyInputs:
    """What every trial of a search reads, built once by the tune process and pickled to its workers.

    Attributes
    ----------
    data : TrainingData
        Labelled train and validation rows; its LightGBM datasets shared as binary files.
    weeks : ndarray of datetime64[D]
        The week (Monday) of each validation row: the period AUC of each trial.
    trader : TrialTrader
        The validation bars and minutes every trial's model trades.
    """

    data: TrainingData
    weeks: np.ndarray
    trader: TrialTrader


def study_inputs(config, dataset, target: str, shared: str | None) -> StudyInputs:
    """The labelled arrays, weeks and trader of ``target`` on ``dataset``; with ``shared`` (a folder
    that outlives the workers) the LightGBM datasets are binned now and written there for them."""
    train_x, train_y = labelled(dataset.tables["train"], dataset.feature_names, target)
    val_x, val_y = labelled(dataset.tables["validation"], dataset.feature_names, target)
    data = TrainingData.from_arrays(train_x, train_y, val_x, val_y)
    if shared is not None and config.model.engine == "lightgbm":
        data.share_lightgbm(shared, config.model.num_threads, config.model.max_bin)
    # every trial a strategy: its model trades every validation bar (labelled or not) under the rules
    minutes = dataset.folder / "minutes_validation.parquet"
    trader = TrialTrader(config, dataset.tables["validation"], pd.read_parquet(minutes) if minutes.exists() else None,
                         list(dataset.feature_names), target)
    return StudyInputs(data, week_starts(val_x.index), trader)


class BestOfWorker:
    """The model of the best trial this process trained (highest validation AUC, first on ties)."""

    def __init__(self) -> None:
        self.number: int | None = None
        self.value = float("-inf")
        self.model: TrainedModel | None = None

    def __call__(self, number: int, value: float, model: TrainedModel) -> None:
        if value > self.value:
            self.number, self.value, self.model = number, value, model


def best_model(best_trial, kept: list[BestOfWorker]) -> TrainedModel | None:
    """The study's best model when a worker of this job trained it (the trial, or the twin whose
    trees it copied), else None (a resumed study's best from an earlier job: train it again)."""
    source = best_trial.user_attrs.get(tag.SAME_MODEL_AS, best_trial.number)
    return next((k.model for k in kept if k.model is not None and k.number == source), None)


def dataset_frame(dataset, window: str, target: str) -> pd.DataFrame:
    """Feature rows of a window where ``target`` is labelled (the model's input example and validation set)."""
    return labelled(dataset.tables[window], dataset.feature_names, target)[0]


def fixed_model_settings(config) -> dict:
    """The [model] settings every trial shares (not tuned, not threads): part of a study's identity."""
    tuned = set(search_space(config.tune))
    return {k: v for k, v in dataclasses.asdict(config.model).items() if k not in tuned and k != "num_threads"}


def next_command(run_id: str, target: str) -> str:
    """The walk-forward of a tune run, as a command that works verbatim (config and data come from the run)."""
    return entry_point_command("walk-forward", {"params_from": run_id, "target": target},
                               tracking.experiment_name(run_id))


def journal_dir():
    """The directory of the default study journal: one per tracking store (see :func:`lab.tracking.store_key`)."""
    uri, key = tracking.store_key()
    folder = paths.project_root() / ".lab" / "optuna" / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tracking_store.txt").write_text(uri + "\n")
    return folder


def _recover(study, name: str, parent_run_id: str) -> None:
    """Fail and re-queue the trials of dead workers, mark the abandoned runs of this study KILLED,
    and say so when the study's finished trials have no trial run in this tracking store."""
    stale = recover_stale_trials(study)
    killed = tracking.mark_abandoned_runs(f"tags.`{tag.STUDY}` = '{name}'", keep=parent_run_id)
    if stale or killed:
        print(f"tune: resumed after a crash: trial(s) {stale} of dead workers failed and re-queued; "
              f"abandoned run(s) {killed} marked KILLED", file=sys.stderr)
    done = sum(1 for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE")
    if done:
        logged = tracking.count_runs(f"tags.`{tag.STUDY}` = '{name}' and tags.`{tag.STAGE}` = 'tune-trial'")
        if logged < done:
            message = (f"study {name} already holds {done} finished trial(s) but this tracking store has "
                       f"{logged} trial run(s) of it: the study was resumed from a storage that outlived or "
                       "lies outside this store; those trials are only in the leaderboard")
            print(f"tune: WARNING: {message}", file=sys.stderr)
            tracking.set_tags({tag.STUDY_RUNS_MISSING: message})


def _open_study(config, name: str, journal):
    storage = open_storage(config.tune.storage, journal)
    study = create_study(name, storage, search_space(config.tune), seed=config.model.seed, sampler=config.tune.sampler,
                         fixed=fixed_model_settings(config))
    return study, config.tune.trials or None


def _run_trials(study, inputs: StudyInputs, job: JobContext, target: str, n_trials,
                progress=None) -> tuple[int, float, float, BestOfWorker]:
    """This process's share of the study, each trial logged as a run nested under the job's run on a
    background thread while the next trains. Returns (trials, MLflow seconds, of which the job waited
    for, the model of this process's best trial)."""
    config, parent_run_id = job.config, job.run_id
    before, before_blocking = tracking.seconds_in_mlflow(), tracking.seconds_in_mlflow(blocking=True)
    trial_tags = ledger.ledger_tags(job.market, ledger.window_key(config), 1)  # each trial counts 1
    kept = BestOfWorker()
    with tracking.BackgroundLogger() as logger:

        def log_trial(_study, trial) -> None:
            logger.submit(tracking.log_trial_run, parent_run_id, trial.number,
                          {**trial.params, "target": target, "engine": config.model.engine},
                          {"val_auc": trial.value, **{k: v for k, v in trial.user_attrs.items()
                                                      if isinstance(v, (int, float)) and k != tag.SAME_MODEL_AS}},
                          study.study_name, tags=_trial_run_tags(trial_tags, trial), run_name=trial_run_name(trial.params),
                          started=trial.datetime_start, ended=trial.datetime_complete)

        objective = make_objective(inputs.data, config.model, search_space(config.tune), periods=inputs.weeks,
                                   trader=inputs.trader, on_model=kept)
        ran = run_study(study, objective, n_trials, callbacks=[log_trial], progress=progress)
    return (ran, tracking.seconds_in_mlflow() - before,
            tracking.seconds_in_mlflow(blocking=True) - before_blocking, kept)


def _trial_run_tags(ledger_tags: dict, trial) -> dict:
    """The trial run's tags: the ledger's, and the trial whose model it reused when it did."""
    twin = trial.user_attrs.get(tag.SAME_MODEL_AS)
    return ledger_tags if twin is None else {**ledger_tags, tag.SAME_MODEL_AS: str(twin)}


def study_worker(job: JobContext, inputs: StudyInputs, target: str, name: str,
                 journal) -> tuple[int, float, float, BestOfWorker]:
    """Another process on the same study (spawned by :func:`tune`): the parent's job context and
    inputs, one thread; it resolves nothing again."""

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tracking.set_tracking_uri(job.store)
    study, n_trials = _open_study(job.config, name, journal)
    return _run_trials(study, inputs, job, target, n_trials)


if __name__ == "__main__":
    sys.exit(main())
