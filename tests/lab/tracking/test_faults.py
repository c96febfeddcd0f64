"""Store faults are sentences: a full or read-only artifact store, a damaged mlflow.db."""

import errno
import sys

import pytest

from lab.tracking.faults import StoreError, store_fault
from tests.lab.conftest import SMALL_WINDOWS

FULL = ("no space is left on the device; free space on that disk, then rerun the command (the run is marked "
        "FAILED, nothing it half-wrote counts as finished)")
READ_ONLY = ("the file system is read-only; make it writable (or point MLFLOW_TRACKING_URI and the experiment's "
             "artifact location at a writable place), then rerun the command (the run is marked FAILED, nothing it "
             "half-wrote counts as finished)")


def test_store_fault_names_the_file_and_the_fix():
    full = store_fault(OSError(errno.ENOSPC, "No space left on device"), "/store/1/artifacts/a.csv")
    assert str(full) == f"cannot write /store/1/artifacts/a.csv: {FULL}"
    read_only = store_fault(RuntimeError("wrapped"), "x")
    assert read_only is None
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system", "/store/1")
        except OSError as exc:
            raise RuntimeError("mlflow failed") from exc
    except RuntimeError as exc:
        assert str(store_fault(exc)) == f"cannot write /store/1: {READ_ONLY}"
    assert store_fault(OSError(errno.ENOENT, "No such file")) is None


def _featurize_args(minute_file):
    config = minute_file.parent / "small.toml"
    config.write_text("[windows]\ntrain = ['2023-09-01', '2023-10-31']\nvalidation = ['2023-11-01', '2023-11-30']\n"
                      "test = ['2023-12-01', '2023-12-29']\n[targets]\nvolatility_lookback_bars = 200\n")
    assert SMALL_WINDOWS["windows.test"] == ["2023-12-01", "2023-12-29"]
    return ["--config", str(config), "--data", str(minute_file)]


@pytest.mark.parametrize("code, sentence", [(errno.ENOSPC, FULL), (errno.EROFS, READ_ONLY)])
def test_a_full_or_read_only_artifact_store_fails_the_run_with_one_line(tracking_store, minute_file, capsys,
                                                                          monkeypatch, code, sentence):
    import mlflow
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    from jobs.featurize import main

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    real = LocalArtifactRepository.log_artifact

    def failing(self, local_file, artifact_path=None):
        if str(local_file).endswith(".csv"):  # the first table the job logs, after its configuration
            raise OSError(code, "simulated")
        return real(self, local_file, artifact_path)

    monkeypatch.setattr(LocalArtifactRepository, "log_artifact", failing)
    assert main(_featurize_args(minute_file)) == 2
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("featurize:")]
    assert len(lines) == 1 and lines[0].startswith("featurize: error: cannot write ") and lines[0].endswith(sentence)
    artifact = lines[0][len("featurize: error: cannot write "):].split(": ")[0]
    assert "/artifacts/" in artifact and artifact.endswith(".csv")
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status == "FAILED"
    assert run.data.tags["lab.error"] == f"StoreError: cannot write {artifact}: {sentence}"


def _damage(database) -> None:
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 2])


def test_a_truncated_tracking_database_is_one_line_from_lab(tracking_store, tmp_path, capsys, monkeypatch):
    import mlflow

    from cli.main import main

    database = tmp_path / "mlflow.db"
    fresh = tmp_path / "damaged.db"
    fresh.write_bytes(database.read_bytes())
    _damage(fresh)
    uri = f"sqlite:///{fresh}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["lab", "status"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"lab: error: the tracking database {fresh} is damaged or truncated (SQLite: database disk image is "
        "malformed); restore it from its backup (README, \"Backing up the store\"), or move it aside to start a "
        "new store")


def test_a_job_on_a_store_that_is_not_a_database_refuses_in_one_line(tracking_store, tmp_path, minute_file, capsys,
                                                                     monkeypatch):
    import mlflow

    from jobs.featurize import main

    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database at all" * 100)
    uri = f"sqlite:///{garbage}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    mlflow.set_tracking_uri(uri)
    assert main(_featurize_args(minute_file)) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"featurize: error: the tracking database {garbage} is damaged or truncated (SQLite: file is not a "
        "database); restore it from its backup (README, \"Backing up the store\"), or move it aside to start a "
        "new store")


def test_store_error_is_a_lab_error():
    from lab.errors import LabError

    assert issubclass(StoreError, LabError)


def test_a_full_or_read_only_tracking_database_is_named(tracking_store, tmp_path):
    import sqlite3

    full = store_fault(sqlite3.OperationalError("database or disk is full"))
    assert str(full) == f"cannot write {tmp_path / 'mlflow.db'}: {FULL}"
    read_only = store_fault(sqlite3.OperationalError("attempt to write a readonly database"))
    assert str(read_only) == f"cannot write {tmp_path / 'mlflow.db'}: {READ_ONLY}"
    assert store_fault(sqlite3.OperationalError("database is locked")) is None


def test_a_run_whose_kill_mark_the_store_refuses_is_asked_again_then_said_to_stay_running(tracking_store, monkeypatch,
                                                                                          capsys):
    """A job ending on SIGTERM marks its run KILLED through a store that may refuse for a moment (a
    write lock held past its timeout): asked again after a pause; refused every time, one stderr line."""
    import mlflow

    from lab.tracking import core

    monkeypatch.setattr(core, "KILL_MARK_RETRY_S", (0.0, 0.0))
    real = mlflow.MlflowClient.set_terminated
    refusals = []

    def refusing_once(self, run_id, *args, **kwargs):
        if len(refusals) < 1:
            refusals.append(run_id)
            raise RuntimeError("database is locked")
        return real(self, run_id, *args, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "set_terminated", refusing_once)
    first = mlflow.MlflowClient().create_run("0").info.run_id
    assert core.mark_run_killed("Terminated: stopped by SIGTERM", first) == first
    assert mlflow.get_run(first).info.status == "KILLED" and refusals == [first]

    def refusing(self, run_id, *args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(mlflow.MlflowClient, "set_terminated", refusing)
    second = mlflow.MlflowClient().create_run("0").info.run_id
    assert core.mark_run_killed("Terminated: stopped by SIGTERM", second) == second
    assert mlflow.get_run(second).info.status == "RUNNING"
    assert capsys.readouterr().err == (f"lab: could not mark run {second} KILLED (RuntimeError: database is locked); "
                                       "it stays RUNNING in the store\n")
