"""Tune against the tracking store: studies follow the store, a killed tune resumes to the full grid."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from lab.data.readers import write_firstrate
from tests.conftest import PROJECT_ROOT, make_minutes

pytestmark = pytest.mark.slow

CONFIG = """
[data]
path = "{path}"
[windows]
train = ["2022-06-01", "2022-12-31"]
validation = ["2023-01-01", "2023-02-28"]
test = ["2023-03-01", "2023-03-31"]
[targets]
volatility_lookback_bars = 200
[model]
num_boost_round = 30
[tune]
num_leaves = [{leaves}]
max_depth = [3]
learning_rate = [0.1]
min_data_in_leaf = [200]
"""


@pytest.fixture
def tiny(tmp_path, tracking_store):
    raw = write_firstrate(make_minutes("2022-05-01", "2023-02-28", seed=3), tmp_path / "raw.txt")

    def config(name: str, leaves: str = "7, 15, 31") -> str:
        path = tmp_path / name
        path.write_text(CONFIG.format(path=raw, leaves=leaves))
        return str(path)

    return config


def _tune_runs():
    return mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["start_time ASC"],
                              filter_string="tags.`lab.stage` = 'tune'")


def _tune_hanging_at(point: str, argv: list[str], tmp_path) -> subprocess.Popen:
    """A real tune process (tests/jobs/tune_kill_worker.py) once it hangs at ``point`` of trial 1."""
    marker = tmp_path / "hanging"
    env = {**os.environ, "LAB_TEST_HANG_MARKER": str(marker), "LAB_TEST_KILL_POINT": point,
           "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("MLFLOW_RUN_ID", None)
    worker = subprocess.Popen([sys.executable, "-m", "tests.jobs.tune_kill_worker", *argv], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not marker.exists():  # trial 0 done, trial 1 at the kill point
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.1)
    return worker


def _journal_trials():
    """The trials of the one study in the test's journal file (read without the tune job)."""
    import optuna

    from lab.study.tuning import open_storage

    (journal,) = Path(os.environ["LAB_HOME"]).rglob("optuna-journal.log")
    storage = open_storage("", journal.parent)
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(deepcopy=False)


@pytest.mark.parametrize("point", ["trial", "draw", "journal"])
def test_a_killed_tune_resumed_with_the_same_command_completes_the_grid(tiny, tmp_path, point):
    """SIGKILL inside a trial, just after a trial drew its grid point (no worker recorded yet), or while
    holding the journal's write lock: the same command completes the grid, no point lost, no wait."""
    import fcntl

    from jobs import tune

    config = tiny("lab.toml")
    argv = ["--config", config, "--workers", "1"]
    worker = _tune_hanging_at(point, argv, tmp_path)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    (killed,) = _tune_runs()
    assert killed.info.status == "RUNNING"
    (lock,) = Path(os.environ["LAB_HOME"]).rglob("optuna-journal.log.flock")
    with open(lock) as handle:  # the killed writer's lock died with it: nobody waits for it
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    running = [t for t in _journal_trials() if t.state.name == "RUNNING"]
    assert [t.number for t in running] == [1]
    assert ("lab.worker" in running[0].system_attrs) == (point != "draw")
    assert "grid_id" in running[0].system_attrs

    assert tune.main(argv) == 0  # the same command
    killed, resumed = _tune_runs()
    assert mlflow.get_run(killed.info.run_id).info.status == "KILLED"
    assert "abandoned" in mlflow.get_run(killed.info.run_id).data.tags["lab.error"]
    assert resumed.info.status == "FINISHED"
    assert resumed.data.metrics["trials_completed"] == 3 and resumed.data.metrics["trials_run_here"] == 2
    assert "lab.incomplete_grid" not in resumed.data.tags


def test_a_point_drawn_by_a_killed_tune_on_postgresql_is_drawn_again_once_its_heartbeat_is_stale(
        tiny, tmp_path, postgres_database, monkeypatch):
    """The shared (PostgreSQL) study serves workers on several machines, so a trial killed while its point
    was drawn (no worker recorded) is judged by time, not by this machine's processes: once its heartbeat
    (or its start, when it died before the first beat) is older than the grace period the same command
    fails it, re-queues the point and completes the grid."""
    from jobs import tune
    from lab.study import tuning

    argv = ["--config", tiny("lab.toml"), "--workers", "1", "--storage", postgres_database]
    worker = _tune_hanging_at("draw", argv, tmp_path)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    monkeypatch.setattr(tuning, "HEARTBEAT_GRACE_S", 1)  # 120 s on a real study (time for a slow machine's beat)
    time.sleep(1.5)
    assert tune.main(argv) == 0
    killed, resumed = _tune_runs()
    assert mlflow.get_run(killed.info.run_id).info.status == "KILLED"
    assert resumed.data.metrics["trials_completed"] == 3 and resumed.data.metrics["trials_run_here"] == 2
    assert "lab.incomplete_grid" not in resumed.data.tags


def test_a_tune_stopped_by_sigterm_marks_its_run_killed_and_the_rerun_completes_the_grid(tiny, tmp_path):
    from jobs import tune

    argv = ["--config", tiny("lab.toml"), "--workers", "1"]
    worker = _tune_hanging_at("trial", argv, tmp_path)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 128 + signal.SIGTERM
    (stopped,) = _tune_runs()
    assert f"tune: stopped by SIGTERM; run {stopped.info.run_id} marked KILLED" in stderr.splitlines()
    assert stopped.info.status == "KILLED" and stopped.data.tags["lab.error"] == "Terminated: stopped by SIGTERM"
    trial_1 = next(t for t in _journal_trials() if t.number == 1)
    assert trial_1.state.name == "FAIL" and trial_1.system_attrs["lab.stale"]  # its point was re-queued

    assert tune.main(argv) == 0
    _, resumed = _tune_runs()
    assert resumed.data.metrics["trials_completed"] == 3 and resumed.data.metrics["trials_run_here"] == 2
    assert "lab.incomplete_grid" not in resumed.data.tags


def test_a_grid_left_incomplete_is_tagged_and_warned(tiny, capsys, monkeypatch):
    """A point that failed for good (its objective raised) leaves the grid incomplete: the best of the
    rest is still logged, tagged lab.incomplete_grid and announced."""
    from jobs import tune
    from lab.study import tuning

    real = tuning.train_classifier

    def refusing(data, model):  # the engine refuses one point: that trial fails
        if model.num_leaves == 4:
            raise ValueError("the engine refuses num_leaves = 4")
        return real(data, model)

    monkeypatch.setattr(tuning, "train_classifier", refusing)
    config = tiny("lab.toml", leaves="2, 4, 7")  # three different trees at depth 3
    argv = ["--config", config, "--workers", "1"]
    try:
        tune.main(argv)  # stops at the failing point (wherever the shuffled grid puts it)
    except Exception:  # noqa: BLE001 - the objective's error ends the first run
        pass
    capsys.readouterr()
    with pytest.warns(UserWarning, match="grid is incomplete"):
        assert tune.main(argv) == 0
    run = _tune_runs()[-1]
    assert run.data.tags["lab.incomplete_grid"] == "2/3"
    assert "WARNING: the grid is incomplete" in capsys.readouterr().err


def test_a_fresh_tracking_store_starts_a_fresh_study(tiny, tmp_path, migrated_sqlite_template, monkeypatch):
    import shutil

    from jobs import tune

    config = tiny("lab.toml", leaves="7, 15")
    assert tune.main(["--config", config, "--workers", "1"]) == 0
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(migrated_sqlite_template, other / "mlflow.db")
    uri = f"sqlite:///{other / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("lab-test", artifact_location=(other / "artifacts").as_uri())
    assert tune.main(["--config", config, "--workers", "1"]) == 0
    (run,) = _tune_runs()
    assert run.data.metrics["trials_run_here"] == 2  # nothing resumed from the first store's study
    trials = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`lab.stage` = 'tune-trial'")
    assert len(trials) == 2


def test_a_study_resumed_into_a_store_without_its_trial_runs_says_so(tiny, tmp_path):
    from jobs import tune

    config = tiny("lab.toml", leaves="7, 15")
    storage = f"sqlite:///{tmp_path / 'shared-optuna.db'}"
    assert tune.main(["--config", config, "--workers", "1", "--storage", storage]) == 0
    client = mlflow.MlflowClient()
    for trial in mlflow.search_runs(search_all_experiments=True, output_format="list",
                                    filter_string="tags.`lab.stage` = 'tune-trial'"):
        client.delete_run(trial.info.run_id)
    client.delete_run(_tune_runs()[0].info.run_id)
    assert tune.main(["--config", config, "--workers", "1", "--storage", storage]) == 0
    (run,) = _tune_runs()
    assert run.data.metrics["trials_run_here"] == 0
    assert "holds 2 finished trial(s) but this tracking store has 0" in run.data.tags["lab.study_runs_missing"]


def test_the_demo_grid_then_the_readme_tune_do_not_collide(tiny):
    """`lab demo` tunes a reduced grid on the same data as the README's tune: two studies, no refusal."""
    from jobs import tune

    assert tune.main(["--config", tiny("demo.toml", leaves="7"), "--workers", "1"]) == 0
    assert tune.main(["--config", tiny("lab.toml", leaves="7, 15"), "--workers", "1"]) == 0
    demo, readme = _tune_runs()
    assert demo.info.status == readme.info.status == "FINISHED"
    assert demo.data.params["study"] != readme.data.params["study"]
    assert readme.data.metrics["trials_completed"] == 2


def test_a_grid_point_that_grows_the_same_trees_is_logged_as_a_copy_of_its_twin(tiny):
    from jobs import tune

    assert tune.main(["--config", tiny("lab.toml"), "--workers", "1"]) == 0  # depth 3: 15 and 31 leaves both grow 8
    (run,) = _tune_runs()
    assert run.data.metrics["trials_completed"] == 3 and run.data.metrics["trials_same_model"] == 1
    trials = mlflow.search_runs(search_all_experiments=True, output_format="list",
                                filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
    by_leaves = {int(t.data.params["num_leaves"]): t for t in trials}
    copy = next(t for t in trials if "lab.same_model_as" in t.data.tags)
    twin = next(t for t in trials if t.data.tags["lab.trial_number"] == copy.data.tags["lab.same_model_as"])
    assert {int(copy.data.params["num_leaves"]), int(twin.data.params["num_leaves"])} == {15, 31}
    assert copy.data.metrics["val_auc"] == twin.data.metrics["val_auc"] and copy.data.metrics["fit_seconds"] == 0.0
    assert "lab.same_model_as" not in by_leaves[7].data.tags
    # every trial traded on validation: its P&L on its run, the study's matrix on the tune run
    for trial in trials:
        assert {"sharpe_daily", "total_pnl_usd", "trades"} <= set(trial.data.metrics)
    assert copy.data.metrics["total_pnl_usd"] == twin.data.metrics["total_pnl_usd"]
    import pandas as pd

    matrix = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                                            artifact_path="study/trial_daily_pnl.csv"))
    numbers = sorted(int(t.data.tags["lab.trial_number"]) for t in trials)
    assert list(matrix.columns) == ["date"] + [f"trial_{n}" for n in numbers]
    assert matrix["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all() and len(matrix) == run.data.metrics["study_sessions"]
    for trial in trials:
        column = matrix[f"trial_{trial.data.tags['lab.trial_number']}"]
        assert column.sum() == pytest.approx(trial.data.metrics["total_pnl_usd"], abs=0.01)
    # (this tiny data teaches nothing: no trial trades, so no trial has a Sharpe and the deflated Sharpe is not logged)
    assert "deflated_sharpe_prob" not in run.data.metrics and run.data.metrics["study_trading_trials"] == 0
    for key in ("pbo", "spa_pvalue", "trial_sharpe_variance", "pbo_auc", "study_trials",
                "study_distinct_trials", "pbo_blocks", "spa_reps", "spa_block_length", "deflated_sharpe_trials"):
        assert key in run.data.metrics, key
    assert run.data.metrics["study_trials"] == 3 and run.data.metrics["study_distinct_trials"] <= 2
