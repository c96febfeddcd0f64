"""Tests for lab.tuning: the grid, studies on journal/sqlite/PostgreSQL, resume, parallel workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from matplotlib.figure import Figure
from optuna.trial import TrialState

from lab.config import ModelConfig, TuneConfig
from lab.errors import LabError
from lab.models.boosters import TrainingData, predict_proba
from lab.models.evaluation import roc_auc
from lab.plots.models import leaderboard_figure
from lab.study.tuning import (
    create_study,
    default_study_name,
    grid_points,
    make_objective,
    open_storage,
    run_study,
    search_space,
    study_progress,
    trial_run_name,
    trials_table,
)

ROOT = Path(__file__).resolve().parents[3]
TINY = {"num_leaves": [7, 15], "max_depth": [3, 4], "learning_rate": [0.05, 0.1], "min_data_in_leaf": [20]}
SEED = 20190501

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _cheap(trial: optuna.Trial) -> float:
    params = {name: trial.suggest_categorical(name, values) for name, values in TINY.items()}
    return params["num_leaves"] / 100 + params["max_depth"] / 10 + params["learning_rate"]


def _points(study: optuna.Study, state: TrialState = TrialState.COMPLETE) -> list[tuple]:
    return [tuple(t.params[k] for k in TINY) for t in study.get_trials(states=(state,))]


def _all_points() -> set[tuple]:
    import itertools

    return set(itertools.product(*TINY.values()))


def test_search_space_is_the_plan_grid_of_81_points() -> None:
    space = search_space(TuneConfig())
    assert space == {
        "num_leaves": [15, 31, 63],
        "max_depth": [4, 6, 8],
        "learning_rate": [0.01, 0.05, 0.1],
        "min_data_in_leaf": [50, 100, 200],
    }
    assert grid_points(space) == 81
    assert default_study_name("target_6bar", "lightgbm", "0123456789abcdef") == "tune-target_6bar-lightgbm-0123456789ab"


def test_trial_run_name_lists_the_grid_parameters_in_grid_order() -> None:
    params = {"min_data_in_leaf": 200, "learning_rate": 0.05, "max_depth": 4, "num_leaves": 15}
    assert trial_run_name(params) == "nl15-d4-lr0.05-md200"
    assert trial_run_name({"num_leaves": 31, "max_depth": 6, "learning_rate": 0.1, "min_data_in_leaf": 50,
                           "lambda_l2": 1.5}) == "nl31-d6-lr0.1-md50-lambda_l21.5"


def test_run_study_grid_covers_every_point_once_with_progress(tmp_path) -> None:
    study = create_study("grid", open_storage("", tmp_path), TINY, seed=SEED)
    seen, progress = [], []
    ran = run_study(
        study, _cheap, callbacks=[lambda s, t: seen.append(t.number)], progress=lambda d, n: progress.append((d, n))
    )
    assert ran == 8 and len(seen) == 8
    assert sorted(_points(study)) == sorted(_all_points())
    assert progress[-1] == (8, 8) and [d for d, _ in progress] == list(range(1, 9))
    assert (tmp_path / "optuna-journal.log").stat().st_size > 0


def test_run_study_resume_does_not_redo_finished_trials(tmp_path) -> None:
    storage = open_storage("", tmp_path)
    first = create_study("resume", storage, TINY, seed=SEED)
    assert run_study(first, _cheap, n_trials=3) == 3
    calls = []

    def counting(trial: optuna.Trial) -> float:
        calls.append(trial.number)
        return _cheap(trial)

    again = create_study("resume", open_storage("", tmp_path), TINY, seed=SEED)
    assert run_study(again, counting) == 5  # the rest of the grid only
    assert sorted(_points(again)) == sorted(_all_points())
    assert run_study(create_study("resume", open_storage("", tmp_path), TINY, seed=SEED), counting) == 0
    assert len(calls) == 5
    assert study_progress(again) == (8, 8)


def test_run_study_failed_point_raises_then_is_reported_not_retried(tmp_path) -> None:
    def failing(trial: optuna.Trial) -> float:
        value = _cheap(trial)
        if trial.number == 2:
            raise RuntimeError("boom")
        return value

    study = create_study("failing", open_storage("", tmp_path), TINY, seed=SEED)
    with pytest.raises(RuntimeError, match="boom"):
        run_study(study, failing)
    with pytest.warns(UserWarning, match=r"1 grid point\(s\) failed and will not be retried"):
        assert run_study(study, failing) == 5
    assert len(_points(study)) == 7 and len(_points(study, TrialState.FAIL)) == 1


def test_create_study_other_grid_under_same_name_raises(tmp_path) -> None:
    storage = open_storage("", tmp_path)
    create_study("mixed", storage, TINY, seed=SEED)
    with pytest.raises(LabError, match="study 'mixed' already exists with lab.search_space"):
        create_study("mixed", storage, {**TINY, "num_leaves": [7, 15, 31]}, seed=SEED)
    with pytest.raises(LabError, match="already exists with lab.sampler = 'grid', not 'tpe'"):
        create_study("mixed", storage, TINY, seed=SEED, sampler="tpe")


@pytest.mark.slow
def test_run_study_tpe_stops_at_study_wide_budget(tmp_path) -> None:
    storage = open_storage("sqlite:///" + str(tmp_path / "optuna.db"))
    study = create_study("tpe", storage, TINY, seed=SEED, sampler="tpe")
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    assert run_study(study, _cheap, n_trials=5) == 5
    assert run_study(study, _cheap, n_trials=5) == 0
    with pytest.raises(LabError, match="a TPE study needs a trial budget: set tune.trials > 0"):
        run_study(study, _cheap)


def test_open_storage_bad_values_raise() -> None:
    with pytest.raises(LabError, match="pass the directory that should hold it"):
        open_storage("")
    with pytest.raises(LabError, match="tune.storage = 'redis://x' is not supported"):
        open_storage("redis://x")
    with pytest.raises(LabError, match="tune.sampler = 'random' is not one of grid, tpe"):
        create_study("x", optuna.storages.InMemoryStorage(), TINY, seed=1, sampler="random")


def _noisy_data(seed: int) -> TrainingData:
    """900 training and 300 validation rows of 4 features; the label follows the first, with noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((1200, 4))
    y = (X[:, 0] + rng.standard_normal(1200) > 0).astype(float)
    return TrainingData.from_arrays(X[:900], y[:900], X[900:], y[900:])


def test_make_objective_returns_validation_auc_and_trial_attrs(tmp_path) -> None:
    data = _noisy_data(seed=1)
    model = ModelConfig(num_boost_round=50, early_stopping_rounds=10, num_threads=1)
    study = create_study("objective", open_storage("", tmp_path), TINY, seed=SEED)
    run_study(study, make_objective(data, model, TINY, train_auc=True), n_trials=2)
    best = study.best_trial
    assert 0.6 < best.value < 1.0
    assert best.user_attrs["validation_auc"] == best.value
    assert best.user_attrs["best_iteration"] >= 1
    assert best.user_attrs["auc_gap"] == pytest.approx(best.user_attrs["train_auc"] - best.value)
    table = trials_table(study)
    assert table["rank"].tolist() == [1, 2] and table["auc"].is_monotonic_decreasing
    assert {"num_leaves", "best_iteration", "validation_ece", "duration_seconds"} <= set(table.columns)
    fig = leaderboard_figure(table)
    assert isinstance(fig, Figure) and len(fig.axes[0].patches) == 2
    fig.savefig(tmp_path / "leaderboard.png")


def test_make_objective_reuses_the_trial_that_grows_the_same_trees(tmp_path) -> None:
    data = _noisy_data(seed=2)
    model = ModelConfig(num_boost_round=40, early_stopping_rounds=10, num_threads=1)
    space = {"num_leaves": [4, 8], "max_depth": [2, 3], "learning_rate": [0.1], "min_data_in_leaf": [20]}
    study = create_study("twins", open_storage("", tmp_path), space, seed=SEED)
    fitted = []
    objective = make_objective(data, model, space)
    run_study(study, objective, callbacks=[lambda s, t: fitted.append(t.user_attrs["fit_seconds"] > 0)])
    trials = {(t.params["num_leaves"], t.params["max_depth"]): t for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert len(trials) == 4 and sum(fitted) == 3  # 8 leaves cannot grow at depth 2: one point reused
    pair = sorted((trials[(4, 2)], trials[(8, 2)]), key=lambda t: t.number)
    assert pair[1].user_attrs["lab.same_model_as"] == pair[0].number
    assert pair[1].value == pair[0].value and pair[1].user_attrs["fit_seconds"] == 0.0
    assert pair[1].user_attrs["best_iteration"] == pair[0].user_attrs["best_iteration"]
    assert all("lab.same_model_as" not in trials[(leaves, 3)].user_attrs for leaves in (4, 8))
    assert trials[(4, 3)].value != trials[(8, 3)].value  # at depth 3 both grow: two different models
    table = trials_table(study).set_index("number")
    assert table["lab.same_model_as"].dropna().to_dict() == {pair[1].number: pair[0].number}



def test_make_objective_hands_each_trained_model_to_on_model_and_no_twin(tmp_path) -> None:
    data = _noisy_data(seed=2)
    model = ModelConfig(num_boost_round=40, early_stopping_rounds=10, num_threads=1)
    space = {"num_leaves": [4, 8], "max_depth": [2, 3], "learning_rate": [0.1], "min_data_in_leaf": [20]}
    study = create_study("models", open_storage("", tmp_path), space, seed=SEED)
    handed = {}
    run_study(study, make_objective(data, model, space, on_model=lambda n, v, m: handed.setdefault(n, (v, m))))
    trained = [t for t in study.get_trials(states=(TrialState.COMPLETE,)) if "lab.same_model_as" not in t.user_attrs]
    assert sorted(handed) == sorted(t.number for t in trained) and len(handed) == 3  # the twin trains nothing
    for trial in trained:
        value, fitted = handed[trial.number]
        assert value == trial.value and fitted.best_iteration == trial.user_attrs["best_iteration"]
        assert roc_auc(data.y_val, predict_proba(fitted.booster, data.X_val)) == trial.value  # the trial's own model

# -- parallel workers --------------------------------------------------------------------------

WORKER = """
import json, sys, time
import optuna
from lab.study.tuning import create_study, open_storage, run_study
optuna.logging.set_verbosity(optuna.logging.ERROR)
storage_url, directory, name, space = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
def objective(trial):
    params = {k: trial.suggest_categorical(k, v) for k, v in space.items()}
    time.sleep(0.15)
    return params["num_leaves"] / 100 + params["max_depth"] / 10 + params["learning_rate"]
study = create_study(name, open_storage(storage_url, directory or None), space, seed=%d)
print(json.dumps({"ran": run_study(study, objective)}))
""" % SEED


def _run_workers(storage_url: str, directory: str, name: str, n_workers: int = 2) -> list[int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, storage_url, directory, name, json.dumps(TINY)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        for _ in range(n_workers)
    ]
    ran = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        ran.append(json.loads(out.strip().splitlines()[-1])["ran"])
    return ran


def _assert_grid_done_once(study: optuna.Study, ran: list[int]) -> None:
    complete = _points(study)
    assert sorted(complete) == sorted(_all_points())  # every point done, none completed twice
    skipped = study.get_trials(states=(TrialState.PRUNED,))
    assert all("duplicate_of" in t.user_attrs for t in skipped)  # a race is skipped, never trained
    assert len(skipped) <= 1
    assert sum(ran) == 8
    assert not study.get_trials(states=(TrialState.FAIL, TrialState.RUNNING))


@pytest.mark.slow
def test_run_study_two_local_workers_share_journal_file(tmp_path) -> None:
    storage = open_storage("", tmp_path)
    create_study("parallel", storage, TINY, seed=SEED)
    ran = _run_workers("", str(tmp_path), "parallel")
    _assert_grid_done_once(create_study("parallel", open_storage("", tmp_path), TINY, seed=SEED), ran)


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    return postgres_database


@pytest.mark.slow
def test_run_study_two_workers_on_postgresql_cover_grid_once_and_resume(postgres_url: str) -> None:
    # No study is made beforehand: both workers create the schema and the study at once.
    ran = _run_workers(postgres_url, "", "scale-out")
    storage = open_storage(postgres_url)
    try:
        study = create_study("scale-out", storage, TINY, seed=SEED)
        _assert_grid_done_once(study, ran)
        assert _run_workers(postgres_url, "", "scale-out") == [0, 0]  # resume: nothing left
        assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 8
    finally:
        storage.engine.dispose()


def test_create_study_refuses_to_resume_under_other_fixed_settings(tmp_path) -> None:
    storage = open_storage("", tmp_path)
    create_study("fixed", storage, TINY, seed=SEED, fixed={"feature_fraction": 0.8, "num_boost_round": 1000})
    create_study("fixed", storage, TINY, seed=SEED, fixed={"feature_fraction": 0.8, "num_boost_round": 1000})
    with pytest.raises(LabError, match=r"already exists with lab.fixed_params = .*feature_fraction.*0.8"):
        create_study("fixed", storage, TINY, seed=SEED, fixed={"feature_fraction": 0.2, "num_boost_round": 3})


def test_make_objective_with_a_trader_keeps_each_trials_daily_pnl_and_twins_copy_it(tmp_path) -> None:
    import pandas as pd

    from lab.config import LabConfig
    from lab.study.trial_pnl import TrialTrader
    from lab.study.tuning import trial_pnl_matrix
    from tests.lab.backtest.synthetic import year_of_data

    bars, minutes = year_of_data(seed=5, start="2023-01-01", end="2023-02-28", step_ticks=2, jump_rate=0.01)
    rng = np.random.default_rng(3)
    features = ["f0", "f1"]
    bars = bars.assign(f0=rng.standard_normal(len(bars)), f1=rng.standard_normal(len(bars)))
    label = (bars["f0"] + rng.standard_normal(len(bars)) > 0).astype(float).where(rng.uniform(size=len(bars)) > 0.2)
    bars = bars.assign(target_6bar=label)
    train, validation = bars[bars.index < "2023-02-01"], bars[bars.index >= "2023-02-01"]
    known_train, known_val = train["target_6bar"].notna(), validation["target_6bar"].notna()
    data = TrainingData.from_arrays(train.loc[known_train, features], train.loc[known_train, "target_6bar"].to_numpy(),
                                    validation.loc[known_val, features], validation.loc[known_val, "target_6bar"].to_numpy())
    trader = TrialTrader(LabConfig(), validation, minutes, features, "target_6bar")
    model = ModelConfig(num_boost_round=30, early_stopping_rounds=10, num_threads=1)
    space = {"num_leaves": [4, 8], "max_depth": [2, 3], "learning_rate": [0.1], "min_data_in_leaf": [20]}
    study = create_study("traded", open_storage("", tmp_path), space, seed=SEED)
    run_study(study, make_objective(data, model, space, trader=trader))
    trials = {(t.params["num_leaves"], t.params["max_depth"]): t for t in study.get_trials(states=(TrialState.COMPLETE,))}
    copy, twin = sorted((trials[(4, 2)], trials[(8, 2)]), key=lambda t: t.number, reverse=True)
    assert copy.user_attrs["lab.same_model_as"] == twin.number
    assert copy.user_attrs["validation_daily_pnl"] == twin.user_attrs["validation_daily_pnl"]
    assert copy.user_attrs["total_pnl_usd"] == twin.user_attrs["total_pnl_usd"] and copy.user_attrs["backtest_seconds"] == 0
    matrix = trial_pnl_matrix(study)
    assert list(matrix.columns) == [f"trial_{n}" for n in sorted(t.number for t in trials.values())]
    assert matrix.index.name == "date" and len(matrix) == validation["session"].nunique()
    for t in trials.values():
        daily = matrix[f"trial_{t.number}"]
        assert daily.sum() == pytest.approx(t.user_attrs["total_pnl_usd"], abs=0.01)
        assert t.user_attrs["trades"] >= 0 and "sharpe_daily" in t.user_attrs
    assert matrix.abs().sum().gt(0).any()  # some trial traded
    table = trials_table(study)
    assert {"sharpe_daily", "total_pnl_usd", "trades"} <= set(table.columns)
    assert "validation_daily_pnl" not in table.columns
    # the shared prediction of every bar gives the AUC a separate prediction of the labelled rows gives
    fitted = trials[(8, 3)]
    from lab.models.boosters import train_classifier, with_params

    booster = train_classifier(data, with_params(model, fitted.params)).booster
    assert fitted.value == pytest.approx(roc_auc(data.y_val, predict_proba(booster, data.X_val)))
    assert isinstance(matrix.index, pd.DatetimeIndex)


def test_a_shared_study_trial_that_died_before_recording_its_worker_is_failed_and_requeued_after_the_grace(
        tmp_path, monkeypatch) -> None:
    """Optuna's heartbeat never fails a RUNNING trial whose process died before the first beat; a trial
    of an RDB study with no worker recorded is judged by its age against the heartbeat's grace period."""
    from lab.study import tuning

    storage = open_storage("sqlite:///" + str(tmp_path / "optuna.db"))
    study = create_study("shared", storage, TINY, seed=SEED)
    drawn = study.ask()  # created and its grid point drawn; no worker record, no heartbeat
    assert tuning.recover_stale_trials(study) == []  # younger than the grace period: maybe alive elsewhere

    monkeypatch.setattr(tuning, "HEARTBEAT_GRACE_S", 0)
    assert tuning.recover_stale_trials(study) == [drawn.number]
    trials = study.get_trials(deepcopy=False)
    assert trials[drawn.number].state == TrialState.FAIL
    (queued,) = [t for t in trials if t.state == TrialState.WAITING]
    point = tuning._grid_point(study, trials[drawn.number])  # noqa: SLF001 - the point its grid_id names
    assert set(point) == set(TINY) and queued.system_attrs["fixed_params"] == point
    assert queued.user_attrs["retry_of"] == drawn.number
