"""Tune against the tracking store: studies follow the store, a killed tune resumes to the full grid."""

import os
import signal
import subprocess
import sys
import time

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


def test_a_killed_tune_resumed_with_the_same_command_completes_the_grid(tiny, tmp_path):
    from jobs import tune

    config = tiny("lab.toml")
    argv = ["--config", config, "--workers", "1"]
    marker = tmp_path / "hanging"
    env = {**os.environ, "LAB_TEST_HANG_MARKER": str(marker), "PYTHONPATH": str(PROJECT_ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "tests.jobs.tune_kill_worker", *argv], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not marker.exists():  # trial 0 done, trial 1 running: kill the worker mid-trial
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    (killed,) = _tune_runs()
    assert killed.info.status == "RUNNING"

    assert tune.main(argv) == 0  # the same command
    killed, resumed = _tune_runs()
    assert mlflow.get_run(killed.info.run_id).info.status == "KILLED"
    assert "abandoned" in mlflow.get_run(killed.info.run_id).data.tags["lab.error"]
    assert resumed.info.status == "FINISHED"
    assert resumed.data.metrics["trials_completed"] == 3 and resumed.data.metrics["trials_run_here"] == 2
    assert "lab.incomplete_grid" not in resumed.data.tags


def test_a_grid_left_incomplete_is_tagged_and_warned(tiny, capsys):
    """A point that failed for good (its objective raised) leaves the grid incomplete: the best of the
    rest is still logged, tagged lab.incomplete_grid and announced."""
    from jobs import tune

    config = tiny("lab.toml", leaves="7, 15, 1")  # num_leaves = 1 is refused by LightGBM: that trial fails
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
