"""Hyperparameter search with Optuna: the grid, the study, the objective, the worker loop.

Pure computation plus Optuna's own storage; nothing here imports mlflow. The caller logs each
trial through a callback passed to :func:`run_study`.

The default search is the plan's 81-point grid (``num_leaves`` x ``max_depth`` x
``learning_rate`` x ``min_data_in_leaf`` from :class:`lab.config.settings.TuneConfig`) walked by
``GridSampler``; ``sampler="tpe"`` draws from the same values with TPE under a trial budget.

Scale-out. Any number of workers (processes or machines) may call :func:`create_study` and
:func:`run_study` with the same study name, storage and seed:

* storage ``""`` is a journal file in a local directory (Optuna's ``JournalFileBackend``, safe
  for parallel local processes); ``postgresql://...`` serves many machines; ``sqlite:///...``
  is for a single worker only (parallel writers corrupt or lock it).
* ``GridSampler`` workers must share one seed: the grid is shuffled by the seed and trial
  number ``k < grid size`` evaluates shuffled point ``k``. With different seeds two workers
  once ran 82 trials for 63 distinct points.
* A worker stops as soon as every grid point is finished or running elsewhere, and a trial that
  still lands on a point another trial already holds (two workers racing for the last point) is
  skipped at once: it is recorded as ``PRUNED`` with user attr ``duplicate_of`` and never
  trains, so no grid point is evaluated twice. Measured on PostgreSQL, 2 workers, an 8-point
  grid, 20 runs: plain ``study.optimize`` with a shared seed trained 21 duplicates (one per
  run, two once); :func:`run_study` trained none and skipped none.
* Re-running with the same study name resumes: finished points are not redone; a worker that
  finds the grid done returns 0 at once.
* A point that grows the same trees as a finished one (:func:`lab.models.boosters.grown_config`: the
  plan's grid asks for 31 and 63 leaves at depth 4, where at most 16 fit) copies that trial's
  scores instead of training again (user attr ``lab.same_model_as``). It is still a trial: the
  ledger, PBO and SPA count it as before. On the default data this saves 9 of 81 fits, 11 % of
  the target_vol tune. Its validation P&L is copied with the scores (the same trees trade the same).
* Every trial a strategy: with a ``trader`` (:class:`lab.study.trial_pnl.TrialTrader`) the
  objective also trades the trial's model on the validation window; the daily P&L (user attr
  ``validation_daily_pnl``, USD per session) makes :func:`trial_pnl_matrix`, on which the study's
  PBO, SPA and deflated Sharpe are computed.

Crash safety. Every trial records its worker (host, pid, process start) in the system attr
``lab.worker``. :func:`recover_stale_trials` (the tune job calls it before it starts workers)
fails the ``RUNNING`` trials whose worker on this host is gone, and on RDB storages Optuna's
heartbeat (``heartbeat_interval`` / ``grace_period``) fails those of dead workers on any machine.
A stale trial is marked ``lab.stale`` and its point re-queued (``enqueue_trial``, at most
:data:`MAX_RETRIES` times), so a killed search resumed with the same command completes every
point. A trial whose objective *raised* is not retried (the same error would come back).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import importlib.util
import json
import math
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import optuna
import pandas as pd
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from lab import tags as tag
from lab.config import ModelConfig, TuneConfig
from lab.errors import LabError
from lab.models.boosters import TrainedModel, TrainingData, grown_config, predict_proba, train_classifier, with_params
from lab.models.evaluation import classification_metrics, roc_auc
from lab.processes import process_gone, this_process
from lab.stats.performance import period_auc
from lab.study.trial_pnl import TrialOutcome

__all__ = [
    "GRID_PARAMS",
    "JOURNAL_FILE_NAME",
    "search_space",
    "search_size",
    "grid_points",
    "default_study_name",
    "open_storage",
    "create_study",
    "make_objective",
    "run_study",
    "study_progress",
    "trials_table",
    "recover_stale_trials",
    "study_identity",
    "MAX_RETRIES",
    "period_auc_matrix",
    "trial_pnl_matrix",
    "trial_run_name",
]

#: The tuned hyperparameters, in grid order.
GRID_PARAMS = ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf")
#: File name of the local journal storage inside the given directory.
JOURNAL_FILE_NAME = "optuna-journal.log"

_ATTR_SPACE = tag.SEARCH_SPACE
_ATTR_SAMPLER = tag.SAMPLER
_ATTR_FIXED = tag.FIXED_PARAMS
_ATTR_WORKER = tag.WORKER
_ATTR_STALE = tag.STALE
_ATTR_PERIOD_AUC = "validation_period_auc"
_ATTR_DAILY_PNL = "validation_daily_pnl"
_ATTR_SAME_MODEL = tag.SAME_MODEL_AS
_CLAIMING = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.WAITING)
#: How many times a point whose worker died is re-queued before it counts as failed.
MAX_RETRIES = 3
#: Heartbeat of RDB storages: seconds between beats, and silence after which a trial is stale.
HEARTBEAT_INTERVAL_S = 20
HEARTBEAT_GRACE_S = 120

ProgressHook = Callable[[int, int], None]
Callback = Callable[[optuna.Study, FrozenTrial], None]


def search_space(tune: TuneConfig) -> dict[str, list[int | float]]:
    """The tuning grid from ``[tune]``: ``{name: [values...]}`` for :data:`GRID_PARAMS`.

    >>> {k: len(v) for k, v in search_space(TuneConfig()).items()}
    {'num_leaves': 3, 'max_depth': 3, 'learning_rate': 3, 'min_data_in_leaf': 3}
    >>> grid_points(search_space(TuneConfig()))
    81
    """
    return {name: list(getattr(tune, name)) for name in GRID_PARAMS}


_SHORT_NAMES = {"num_leaves": "nl", "max_depth": "d", "learning_rate": "lr", "min_data_in_leaf": "md"}


def trial_run_name(params: Mapping[str, Any]) -> str:
    """A trial's name from its parameters, grid order first: ``nl15-d4-lr0.05-md200``.

    >>> trial_run_name({"num_leaves": 15, "max_depth": 4, "learning_rate": 0.05, "min_data_in_leaf": 200})
    'nl15-d4-lr0.05-md200'
    """
    ordered = [k for k in GRID_PARAMS if k in params] + sorted(k for k in params if k not in GRID_PARAMS)
    return "-".join(f"{_SHORT_NAMES.get(k, k)}{params[k]:g}" if isinstance(params[k], (int, float))
                    else f"{_SHORT_NAMES.get(k, k)}{params[k]}" for k in ordered)


def grid_points(space: Mapping[str, Sequence[Any]]) -> int:
    """Number of points in a grid (the product of the value counts)."""
    return math.prod(len(values) for values in space.values())


def study_identity(space: Mapping[str, Sequence[Any]], sampler: str, fixed: Mapping[str, Any]) -> str:
    """6 hex characters naming a search: its grid, its sampler and the untuned model settings.

    Two searches that differ in any of these get different study names, so a resumed name never
    meets another grid (``lab demo``'s reduced grid and the full grid on the same data no
    longer collide).
    """
    blob = json.dumps({"space": {k: list(v) for k, v in space.items()}, "sampler": sampler, "fixed": dict(fixed)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:6]


def default_study_name(target: str, engine: str, dataset_digest: str) -> str:
    """``tune-<target>-<engine>-<first 12 characters of the digest>``: one study per data set."""
    return f"tune-{target}-{engine}-{dataset_digest[:12]}"


class KernelFileLock:
    """The journal's write lock as a kernel ``flock`` on ``path``: released the moment its holder dies.

    Optuna's default lock is a symlink that a killed writer leaves behind; the next writer then
    waits out a 30 s grace period before breaking it. A ``flock`` dies with its process. Threads of
    one process take turns through a thread lock first (one ``flock`` per open file).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._fd: int | None = None

    def acquire(self) -> bool:
        self._threads.acquire()
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            self._threads.release()


def _workers_file(study: optuna.Study) -> str | None:
    """The file whose shared ``flock`` each live worker of a journal study holds (None: not a journal)."""
    backend = getattr(study._storage, "_backend", None)  # noqa: SLF001
    journal = getattr(backend, "_file_path", None)
    if not isinstance(journal, str):
        return None
    key = hashlib.sha256(study.study_name.encode()).hexdigest()[:16]
    return f"{journal}.{key}.workers"


@contextlib.contextmanager
def _as_worker(study: optuna.Study):
    """Hold a shared ``flock`` while this process draws and runs trials of a journal study."""
    path = _workers_file(study)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _no_live_worker(study: optuna.Study) -> bool:
    """True when no live process on this machine works on this journal study (nobody is drawing a trial)."""
    path = _workers_file(study)
    if path is None:
        return False
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def open_storage(storage: str, directory: str | Path | None = None) -> BaseStorage:
    """Open an Optuna storage from ``tune.storage``.

    Parameters
    ----------
    storage : str
        ``""``: a journal file :data:`JOURNAL_FILE_NAME` in ``directory`` (created if needed),
        safe for parallel workers on one machine. ``postgresql://user@host:port/db``: shared by
        many machines. ``sqlite:///path.db``: one worker only.
    directory : str or Path, optional
        Where the journal file lives; required when ``storage`` is empty.

    Notes
    -----
    ``postgresql://`` is opened with psycopg2 when psycopg 3 is absent (SQLAlchemy 2.1 would
    otherwise ask for psycopg 3). Opening is retried up to 5 times: workers connecting to a
    fresh database at once race to create Optuna's tables (without the retry 14 of 24 such
    workers failed with an IntegrityError; with it, none).

    Raises
    ------
    LabError
        Empty storage without a directory, or an unsupported URL.
    """
    if not storage:
        if directory is None:
            raise LabError("tune.storage is empty (a local journal file): pass the directory that should hold it")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        journal = str(path / JOURNAL_FILE_NAME)
        return JournalStorage(JournalFileBackend(journal, lock_obj=KernelFileLock(journal + ".flock")))
    if storage.startswith("sqlite:///"):
        return RDBStorage(storage, **_heartbeat())
    if storage.startswith(("postgresql://", "postgresql+psycopg2://", "mysql://", "mysql+pymysql://")):
        return _open_rdb_with_retry(storage)
    raise LabError(
        f"tune.storage = {storage!r} is not supported; use \"\" (a local journal file), "
        "postgresql://user@host:5432/db or sqlite:///path.db (single worker)"
    )


def create_study(
    study_name: str,
    storage: BaseStorage,
    space: Mapping[str, Sequence[Any]],
    *,
    seed: int,
    sampler: str = "grid",
    fixed: Mapping[str, Any] | None = None,
) -> optuna.Study:
    """Create the study, or load it when it already exists (``load_if_exists=True``).

    Parameters
    ----------
    study_name : str
        Every worker of one search uses the same name.
    storage : BaseStorage
        From :func:`open_storage`.
    space : mapping
        ``{param: [values]}``, usually :func:`search_space`.
    seed : int
        The sampler seed; parallel workers must share it.
    sampler : {"grid", "tpe"}, default "grid"
        ``grid``: ``GridSampler(space, seed)``. ``tpe``: ``TPESampler`` with its defaults
        pinned (10 random start-up trials, 24 EI candidates, multivariate, constant liar).
    fixed : mapping, optional
        The settings every trial shares (engine, fractions, rounds, seed...): stored on the study;
        resuming it under other values is refused like another grid.

    Returns
    -------
    optuna.Study
        Direction ``maximize`` (validation AUC).

    Raises
    ------
    LabError
        The name exists with another grid or sampler: resuming it would mix searches.
    """
    if sampler == "grid":
        chosen: optuna.samplers.BaseSampler = optuna.samplers.GridSampler(
            {k: list(v) for k, v in space.items()}, seed=seed
        )
    elif sampler == "tpe":
        chosen = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=10, n_ei_candidates=24, multivariate=True, constant_liar=True
        )
    else:
        raise LabError(f"tune.sampler = {sampler!r} is not one of grid, tpe")
    study = optuna.create_study(
        study_name=study_name, storage=storage, sampler=chosen, direction="maximize", load_if_exists=True
    )
    wanted = {_ATTR_SPACE: json.loads(json.dumps({k: list(v) for k, v in space.items()})), _ATTR_SAMPLER: sampler}
    if fixed is not None:  # the untuned settings: resuming under other ones would mix two searches
        wanted[_ATTR_FIXED] = json.loads(json.dumps(dict(fixed), sort_keys=True, default=str))
    found = study.user_attrs
    for key, value in wanted.items():
        if key not in found:
            study.set_user_attr(key, value)
        elif found[key] != value:
            raise LabError(
                f"study {study_name!r} already exists with {key} = {found[key]!r}, not {value!r}; "
                "choose another tune.study_name (or delete the study) to start a new search"
            )
    return study


def make_objective(
    data: TrainingData,
    model: ModelConfig,
    space: Mapping[str, Sequence[Any]],
    *,
    train_auc: bool = False,
    periods: np.ndarray | None = None,
    trader: Callable[[Any], TrialOutcome] | None = None,
    on_model: Callable[[int, float, TrainedModel], None] | None = None,
) -> Callable[[optuna.Trial], float]:
    """The objective: fit on the training window, early-stop on validation, return validation AUC.

    Parameters
    ----------
    data : TrainingData
        Built once per search; its engine datasets are reused by every trial.
    model : ModelConfig
        Engine, fixed hyperparameters, threads and seed; the trial overrides the ``space`` keys.
    space : mapping
        ``{param: [values]}``; each is suggested with ``suggest_categorical``.
    train_auc : bool, default False
        Also score the training rows (user attrs ``train_auc`` and ``auc_gap``); costs one
        prediction over the training set per trial.
    periods : array, optional
        The period (e.g. week, :func:`lab.stats.week_starts`) of each validation row: also
        store the validation AUC per period (user attr ``validation_period_auc``, read by
        :func:`period_auc_matrix` for the secondary ``pbo_auc``).
    trader : callable, optional
        ``trader(booster) -> TrialOutcome`` (:class:`lab.study.trial_pnl.TrialTrader`): trade the
        trial's model on the validation window; user attrs ``validation_daily_pnl``
        (``{session ISO date: USD}``, read by :func:`trial_pnl_matrix`), ``sharpe_daily`` (per
        session, 0 for a trial that never traded), ``total_pnl_usd``, ``trades`` and ``backtest_seconds``.
    on_model : callable, optional
        ``on_model(trial number, validation AUC, model)`` after each trial that trained a model,
        e.g. to keep the best one instead of training it again after the search.

    Returns
    -------
    callable
        ``objective(trial) -> float``: validation AUC. User attrs: ``best_iteration`` (trees
        kept), ``fit_seconds``, ``validation_auc``, ``validation_accuracy``,
        ``validation_log_loss``, ``validation_brier_score``, ``validation_ece``. A point
        whose trees equal a finished trial's (:func:`lab.models.boosters.grown_config`, e.g.
        ``num_leaves`` 31 and 63 at ``max_depth`` 4) is not trained again: it returns that
        trial's AUC and user attrs, ``fit_seconds`` 0 and ``lab.same_model_as`` = its number.
        It still counts as a trial (the ledger counts grid points, not fits).
    """
    space = {k: list(v) for k, v in space.items()}

    def objective(trial: optuna.Trial) -> float:
        params = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
        twin = _same_model_trial(trial.study, model, space, params)
        if twin is not None:  # the same trees (lab.models.boosters.grown_config): its scores, not a second fit
            for key, value in twin.user_attrs.items():
                trial.set_user_attr(key, value)
            trial.set_user_attr("fit_seconds", 0.0)
            if "backtest_seconds" in twin.user_attrs:
                trial.set_user_attr("backtest_seconds", 0.0)  # its P&L is copied too, not traded again
            trial.set_user_attr(_ATTR_SAME_MODEL, twin.number)
            return float(twin.value)
        fitted = train_classifier(data, with_params(model, params))
        every_bar = None
        if trader is not None and int(trader.labelled.sum()) == len(data.y_val):
            began = time.perf_counter()
            every_bar = trader.predict(fitted.booster)  # one prediction serves the AUC and the backtest
            probability = every_bar[trader.labelled]
            predict_s = time.perf_counter() - began
        else:
            probability = predict_proba(fitted.booster, data.X_val)
        metrics = classification_metrics(data.y_val, probability)
        if periods is not None:
            trial.set_user_attr(_ATTR_PERIOD_AUC, period_auc(data.y_val, probability, periods))
        trial.set_user_attr("best_iteration", fitted.best_iteration)
        trial.set_user_attr("fit_seconds", fitted.fit_seconds)
        for key, value in metrics.items():
            trial.set_user_attr(f"validation_{key}", value)
        if trader is not None:
            outcome = trader(fitted.booster) if every_bar is None else trader.trade(every_bar)
            trial.set_user_attr(_ATTR_DAILY_PNL, {day.date().isoformat(): round(float(value), 4)
                                                  for day, value in outcome.daily_pnl.items()})
            trial.set_user_attr("sharpe_daily", outcome.sharpe_daily)
            trial.set_user_attr("total_pnl_usd", outcome.total_pnl_usd)
            trial.set_user_attr("trades", outcome.trades)
            # the backtest's own cost: the engine, and the prediction of the unlabelled bars beyond the AUC's
            extra = predict_s * (1.0 - len(data.y_val) / len(trader.labelled)) if every_bar is not None else 0.0
            trial.set_user_attr("backtest_seconds", outcome.seconds + extra)
        if train_auc:
            score = roc_auc(data.y_train, predict_proba(fitted.booster, data.X_train))
            trial.set_user_attr("train_auc", score)
            trial.set_user_attr("auc_gap", score - metrics["auc"])
        if on_model is not None:
            on_model(trial.number, metrics["auc"], fitted)
        return metrics["auc"]

    return objective


def _same_model_trial(study: optuna.Study, model: ModelConfig, space: Mapping[str, Sequence[Any]],
                      params: Mapping[str, Any]) -> FrozenTrial | None:
    """A finished trial of ``study`` (any worker) whose point grows the same model as ``params``."""
    grown = grown_config(with_params(model, params))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if trial.value is None or any(name not in trial.params for name in space):
            continue
        if grown_config(with_params(model, {name: trial.params[name] for name in space})) == grown:
            return trial
    return None


def study_progress(study: optuna.Study, n_trials: int | None = None) -> tuple[int, int]:
    """``(done, total)``: finished grid points (or completed trials) and the study's target.

    ``total`` is the grid size (capped by ``n_trials``) for a grid study, ``n_trials`` for TPE.
    """
    total = _target(study, n_trials)
    trials = study.get_trials(deepcopy=False)
    if _is_grid(study):
        complete = (t for t in trials if t.state == TrialState.COMPLETE and "grid_id" in t.system_attrs)
        done = {t.system_attrs["grid_id"] for t in complete}
        return len(done), total
    return sum(t.state == TrialState.COMPLETE for t in trials), total


def run_study(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int | None = None,
    callbacks: Iterable[Callback] = (),
    progress: ProgressHook | None = None,
) -> int:
    """Run trials in this process until the study reaches its target; safe with parallel workers.

    Parameters
    ----------
    study : optuna.Study
        From :func:`create_study`.
    objective : callable
        ``objective(trial) -> float``, e.g. :func:`make_objective`.
    n_trials : int, optional
        Study-wide target counted over every worker and earlier run (not per call). Grid: the
        number of grid points to cover (default and cap: the whole grid). TPE: the trial budget
        (required).
    callbacks : iterable of callable
        ``callback(study, frozen_trial)`` after each trial this worker ran (skipped
        duplicates excluded), e.g. the caller's MLflow logger.
    progress : callable, optional
        ``progress(done, total)`` after each trial: see :func:`study_progress`.

    Returns
    -------
    int
        Trials this call evaluated (0 when the study was already done).

    Raises
    ------
    LabError
        A TPE study without a positive ``n_trials``.
    Exception
        Whatever the objective raised (that trial is recorded as ``FAIL``).
    """
    target = _target(study, n_trials)
    remaining = target - _claimed(study) + _waiting(study)  # queued retries are work still to do
    if remaining <= 0:
        return 0
    callbacks = list(callbacks)
    ran = 0
    grid = _is_grid(study)

    def guarded(trial: optuna.Trial) -> float:
        try:
            return _guarded(trial)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (jobs.common): the point is not lost, it is re-queued
            study._storage.set_trial_system_attr(trial._trial_id, _ATTR_STALE, True)  # noqa: SLF001
            _requeue(study, study._storage.get_trial(trial._trial_id))  # noqa: SLF001
            raise

    def _guarded(trial: optuna.Trial) -> float:
        study._storage.set_trial_system_attr(trial._trial_id, _ATTR_WORKER, this_process())  # noqa: SLF001
        attrs = study._storage.get_trial_system_attrs(trial._trial_id)  # noqa: SLF001
        if grid and "grid_id" not in attrs and "fixed_params" in attrs:
            grid_id = _grid_id_of(study, attrs["fixed_params"])  # a re-queued point
            if grid_id is not None:
                study._storage.set_trial_system_attr(trial._trial_id, "grid_id", grid_id)  # noqa: SLF001
                study._storage.set_trial_system_attr(  # noqa: SLF001
                    trial._trial_id, "search_space", study.sampler._search_space)  # noqa: SLF001
        if grid:
            holder = _duplicate_holder(study, trial.number)
            if holder is not None:
                trial.set_user_attr("duplicate_of", holder)
                raise optuna.TrialPruned(f"grid point already held by trial {holder}")
        return objective(trial)

    def after(st: optuna.Study, trial: FrozenTrial) -> None:
        nonlocal ran
        if "duplicate_of" not in trial.user_attrs:
            ran += 1
            for callback in callbacks:
                callback(st, trial)
            if progress is not None:
                progress(*study_progress(st, n_trials))
        if _claimed(st) >= target and not _waiting(st):
            st.stop()

    # n_trials is only this worker's ceiling (room left for two skipped duplicates):
    # ``after`` stops it at the study-wide target.
    with _as_worker(study):
        study.optimize(guarded, n_trials=remaining + 2, callbacks=[after])
    _warn_failed_points(study)
    return ran


def trials_table(study: optuna.Study, include_all: bool = False) -> pd.DataFrame:
    """The leaderboard: one row per completed trial, best validation AUC first.

    Parameters
    ----------
    study : optuna.Study
    include_all : bool, default False
        Also list failed, pruned (skipped duplicates) and running trials, at the bottom.

    Returns
    -------
    DataFrame
        ``rank`` (1 = best), ``number``, ``state``, ``auc`` (the trial value), one column per
        parameter, the user attrs (``best_iteration``, ``validation_*``, ...),
        ``duration_seconds``.
    """
    rows = []
    for t in study.get_trials(deepcopy=False):
        if not include_all and t.state != TrialState.COMPLETE:
            continue
        ended = t.datetime_complete is not None and t.datetime_start is not None
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if ended else np.nan
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "auc": t.value if t.state == TrialState.COMPLETE else np.nan,
                **t.params,
                **{k: v for k, v in t.user_attrs.items() if k not in (_ATTR_PERIOD_AUC, _ATTR_DAILY_PNL)},
                "duration_seconds": duration,
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["rank", "number", "state", "auc"])
    if _ATTR_SAME_MODEL in table:
        table[_ATTR_SAME_MODEL] = table[_ATTR_SAME_MODEL].astype("Int64")  # a trial number, blank when trained
    table = table.sort_values(["auc", "number"], ascending=[False, True], na_position="last", kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def period_auc_matrix(study: optuna.Study) -> pd.DataFrame:
    """Validation AUC per period (rows, sorted) of every completed trial that recorded it (columns ``trial_<n>``).

    Empty when no trial recorded it (objective made without ``periods``).
    """
    columns = {f"trial_{t.number}": t.user_attrs[_ATTR_PERIOD_AUC] for t in study.get_trials(deepcopy=False)
               if t.state == TrialState.COMPLETE and isinstance(t.user_attrs.get(_ATTR_PERIOD_AUC), dict)}
    table = pd.DataFrame(columns, dtype=np.float64).sort_index()
    table.index.name = "period"
    return table


def trial_pnl_matrix(study: optuna.Study) -> pd.DataFrame:
    """Validation P&L per session (USD) of every completed trial that was traded: the study's P&L matrix.

    Rows: the validation sessions, sorted, index named ``date``; columns ``trial_<number>`` in
    trial order. A session a trial did not record (none when every trial traded the same window)
    is 0. Empty when no trial was traded (objective made without ``trader``).
    """
    traded = sorted((t for t in study.get_trials(deepcopy=False)
                     if t.state == TrialState.COMPLETE and isinstance(t.user_attrs.get(_ATTR_DAILY_PNL), dict)),
                    key=lambda t: t.number)
    table = pd.DataFrame({f"trial_{t.number}": t.user_attrs[_ATTR_DAILY_PNL] for t in traded}, dtype=np.float64)
    table = table.sort_index().fillna(0.0)
    table.index = pd.DatetimeIndex(table.index, name="date") if len(table) else pd.DatetimeIndex([], name="date")
    return table


# -- internals ------------------------------------------------------------------------------


def _is_grid(study: optuna.Study) -> bool:
    return isinstance(study.sampler, optuna.samplers.GridSampler)


def search_size(grid_size: int | None, trials: int | None) -> int:
    """How many trials a search runs: a grid's points, capped by ``trials`` when set; without a grid
    (``grid_size`` None: TPE) the budget ``trials`` itself (0 when unset).

    >>> search_size(81, 0), search_size(81, 20), search_size(None, 30)
    (81, 20, 30)
    """
    if grid_size is None:
        return int(trials or 0)
    return min(grid_size, trials) if trials else grid_size


def _target(study: optuna.Study, n_trials: int | None) -> int:
    if _is_grid(study):
        space = study.user_attrs.get(_ATTR_SPACE)
        return search_size(grid_points(space) if space else len(study.sampler._all_grids), n_trials)  # noqa: SLF001
    if not n_trials or n_trials < 1:
        raise LabError(f"a TPE study needs a trial budget: set tune.trials > 0 (got {n_trials!r})")
    return search_size(None, n_trials)


def _claimed(study: optuna.Study) -> int:
    """Grid points held by a running, queued or finished trial (grid), or trials started (TPE).

    A trial failed as stale (its worker died) holds nothing: its point was re-queued.
    """
    trials = [t for t in study.get_trials(deepcopy=False, states=_CLAIMING) if not t.system_attrs.get(_ATTR_STALE)]
    if _is_grid(study):
        held = set()
        for t in trials:
            grid_id = t.system_attrs.get("grid_id")
            if grid_id is None and "fixed_params" in t.system_attrs:
                grid_id = _grid_id_of(study, t.system_attrs["fixed_params"])
            if grid_id is not None:
                held.add(grid_id)
        return len(held)
    return len(trials)


def _waiting(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def recover_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the ``RUNNING`` trials whose worker on this host is gone, and re-queue their points.

    A worker is gone when its process no longer exists, is a zombie, or its pid now belongs to a
    process started at another time. A trial killed while it was being drawn (created, its grid
    point chosen, its worker not yet recorded) is stale when no live process of this machine
    works on the journal study (each holds a shared ``flock`` while it runs trials). Trials of
    workers on other hosts are left to Optuna's heartbeat (RDB storages); a journal file serves
    one machine only. On an RDB storage a trial with no worker recorded, started more than
    ``HEARTBEAT_GRACE_S`` ago, is stale too: its process died before its heartbeat's first beat
    (which Optuna's own check never fails) and before its first step, which records its worker.

    Returns
    -------
    list of int
        Numbers of the trials failed now.
    """
    failed = []
    alone = None  # asked once, only when a trial without a worker record is found
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.system_attrs.get(_ATTR_WORKER)
        if isinstance(worker, Mapping):
            if not process_gone(worker):
                continue
        elif isinstance(getattr(study._storage, "_backend", study._storage), RDBStorage):  # noqa: SLF001  (cached)
            if not _died_unrecorded(trial):
                continue
        else:
            alone = _no_live_worker(study) if alone is None else alone
            if not alone:
                continue
        study._storage.set_trial_system_attr(trial._trial_id, _ATTR_STALE, True)  # noqa: SLF001
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # noqa: SLF001
        failed.append(trial.number)
        _requeue(study, study._storage.get_trial(trial._trial_id))  # noqa: SLF001
    return failed


def _died_unrecorded(trial: FrozenTrial) -> bool:
    """A RUNNING trial of a shared (RDB) study that has not recorded its worker within the heartbeat's
    grace period: a live worker records itself first thing, so its process is gone (any host)."""
    started = trial.datetime_start  # the creating host's local time, as Optuna records it
    return started is not None and (datetime.datetime.now() - started).total_seconds() > HEARTBEAT_GRACE_S


def _requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue the point of a stale trial again, unless it is done, held or retried too often."""
    params = dict(trial.params) or dict(trial.system_attrs.get("fixed_params", {})) or _grid_point(study, trial)
    if not params:  # a TPE trial that died before drawing: a fresh trial draws again
        return
    same = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number
            and (dict(t.params) or dict(t.system_attrs.get("fixed_params", {}))) == params]
    if any(t.state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING) for t in same):
        return
    # the earlier losses of this point: trials failed as stale here, and failed re-queued ones (a trial
    # failed by Optuna's heartbeat can carry no mark of its own)
    stale = sum(1 for t in same if t.system_attrs.get(_ATTR_STALE)
                or (t.state == TrialState.FAIL and "retry_of" in t.user_attrs)) + 1
    if stale > MAX_RETRIES:
        warnings.warn(f"study {study.study_name!r}: the point {params} lost its worker {stale} times; "
                      "it is not retried again", stacklevel=3)
        return
    study.enqueue_trial(params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)


def _stale_by_heartbeat(study: optuna.Study, trial: FrozenTrial) -> None:
    """Optuna's ``failed_trial_callback``: a trial whose heartbeat stopped is stale; re-queue it.

    Optuna calls it once the trial is FAILED, which no attribute can be added to any more: its
    retries are counted by the ``retry_of`` of the trials queued for its point (:func:`_requeue`).
    """
    _requeue(study, trial)


def _heartbeat() -> dict[str, Any]:
    return {"heartbeat_interval": HEARTBEAT_INTERVAL_S, "grace_period": HEARTBEAT_GRACE_S,
            "heartbeat_stale_trial_callback": _stale_by_heartbeat}


def _grid_point(study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
    """The parameters of the grid point a trial holds (a trial may die before it drew them)."""
    grid_id = trial.system_attrs.get("grid_id")
    if not _is_grid(study) or grid_id is None:
        return {}
    sampler = study.sampler
    return dict(zip(sampler._param_names, sampler._all_grids[grid_id]))  # noqa: SLF001


def _grid_id_of(study: optuna.Study, params: Mapping[str, Any]) -> int | None:
    """The grid sampler's id of a point given by its parameter values."""
    sampler = study.sampler
    try:
        point = tuple(params[name] for name in sampler._param_names)  # noqa: SLF001
        return list(sampler._all_grids).index(point)  # noqa: SLF001
    except (KeyError, ValueError, AttributeError):
        return None


def _duplicate_holder(study: optuna.Study, number: int) -> int | None:
    """The lowest-numbered other trial holding this trial's grid point, if it is not this one."""
    trials = study.get_trials(deepcopy=False)
    mine = next((t for t in trials if t.number == number), None)
    if mine is None or "grid_id" not in mine.system_attrs:
        return None
    grid_id = mine.system_attrs["grid_id"]
    holders = [
        t.number
        for t in trials
        if t.number != number
        and t.system_attrs.get("grid_id") == grid_id
        and (t.state == TrialState.COMPLETE or (t.state == TrialState.RUNNING and t.number < number))
    ]
    return min(holders) if holders else None


def _warn_failed_points(study: optuna.Study) -> None:
    if not _is_grid(study):
        return
    trials = study.get_trials(deepcopy=False)
    complete = {t.system_attrs.get("grid_id") for t in trials if t.state == TrialState.COMPLETE}
    failed = {t.system_attrs.get("grid_id") for t in trials
              if t.state == TrialState.FAIL and not t.system_attrs.get(_ATTR_STALE)} - complete
    if failed:
        warnings.warn(
            f"study {study.study_name!r}: {len(failed)} grid point(s) failed and will not be retried; "
            "fix the cause and run a new study name to evaluate them",
            stacklevel=3,
        )


def _rdb_url(url: str) -> str:
    """Name the PostgreSQL driver: SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3, the lab ships psycopg2."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def _open_rdb_with_retry(url: str, attempts: int = 5) -> RDBStorage:
    # Workers opening a fresh database at once race to create Optuna's tables; the loser of
    # the race fails on a duplicate table or type. Retrying finds the tables made.
    import sqlalchemy.exc  # heavy: sqlalchemy, database stores only

    for attempt in range(attempts):
        try:
            return RDBStorage(_rdb_url(url), engine_kwargs={"pool_pre_ping": True}, **_heartbeat())
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover
