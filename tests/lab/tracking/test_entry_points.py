"""Process trees that end together: an entry point ends with the `lab` process that started it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT, process_alive, wait_until

#: A lab job in miniature: job_main around a stage run that publishes its pid, starts a child and sleeps.
SLEEPY_JOB = """import os, pathlib, subprocess, sys, time
from jobs.common import job_main
from lab import tracking
from lab.config import LabConfig


def publish(name, pid):  # write then rename: a reader never sees the file empty
    pathlib.Path(name + ".tmp").write_text(str(pid))
    os.replace(name + ".tmp", name)


@job_main("sleepy")
def main(argv=None):
    with tracking.stage_run("sleepy", LabConfig()):
        publish("child.pid", subprocess.Popen(["sleep", "300"]).pid)
        publish("job.pid", os.getpid())
        time.sleep(300)
    return 0


sys.exit(main())
"""

#: What `lab run` does: one entry point through the lab's runner, its result on stdout.
RUNNER = ("import sys; from lab.tracking import run_entry_point; "
          "r = run_entry_point('sleepy', {}, project_uri=sys.argv[1]); print(r.status, r.exit_code)")


@pytest.fixture
def sleepy_project(tmp_path, tracking_store) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("name: sleepy\nentry_points:\n  sleepy:\n    command: \"python job.py\"\n")
    (project / "job.py").write_text(SLEEPY_JOB)
    return project



def _start_lab(project: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(project)], cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait_until(lambda: (project / "job.pid").exists() or runner.poll() is not None, timeout=60):
        runner.kill()
    assert (project / "job.pid").exists(), runner.communicate()
    return runner


def _the_run():
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    return run


@pytest.mark.slow  # processes killed and watched: seconds each
def test_sigterm_of_lab_stops_its_entry_point_and_marks_the_run_killed(sleepy_project):
    runner = _start_lab(sleepy_project)
    job, child = (int((sleepy_project / name).read_text()) for name in ("job.pid", "child.pid"))
    runner.send_signal(signal.SIGTERM)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signal.SIGTERM
    run = _the_run()
    lines = stderr.strip().splitlines()
    assert f"lab: stopped by SIGTERM: stopping sleepy (run {run.info.run_id}) and marking it KILLED" in lines
    assert f"sleepy: stopped by SIGTERM; run {run.info.run_id} marked KILLED" in lines
    assert wait_until(lambda: not process_alive(job) and not process_alive(child), timeout=60)
    run = _the_run()
    assert run.info.status == "KILLED"
    assert run.data.tags["lab.error"] == "Terminated: stopped by SIGTERM"


@pytest.mark.slow  # processes killed and watched: seconds each
def test_sigkill_of_lab_ends_its_entry_point_which_marks_its_run_killed(sleepy_project):
    runner = _start_lab(sleepy_project)
    job = int((sleepy_project / "job.pid").read_text())
    runner.kill()
    runner.wait()
    assert wait_until(lambda: not process_alive(job), timeout=60), "the entry point outlived the lab process that started it"
    assert wait_until(lambda: _the_run().info.status != "RUNNING", timeout=60)
    run = _the_run()
    assert run.info.status == "KILLED" and run.data.tags["lab.error"] == "Terminated: stopped by SIGTERM"
    assert json.loads(run.data.tags["lab.process"])["pid"] == job


def test_lab_status_marks_and_shows_a_run_whose_process_was_killed(tracking_store):
    from lab.config import LabConfig
    from lab.processes import process_record
    from registry.status import format_status, lab_status

    gone = subprocess.Popen(["sleep", "300"])
    record = process_record(gone.pid)
    gone.kill()
    gone.wait()
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("lab-test").experiment_id
    dead = client.create_run(experiment, tags={"lab.stage": "paper", "lab.process": json.dumps(record)})
    alive = client.create_run(experiment, tags={"lab.stage": "tune", "lab.process": json.dumps(process_record(os.getpid()))})
    status = lab_status(LabConfig())
    assert status.abandoned == [dead.info.run_id]
    assert client.get_run(dead.info.run_id).info.status == "KILLED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    assert format_status(status).splitlines()[-1] == (
        f"abandoned runs (RUNNING, their process gone: killed or crashed), marked KILLED now: {dead.info.run_id}")


@pytest.mark.slow  # processes killed and watched: seconds each
def test_an_entry_point_killed_by_a_signal_ends_killed_not_failed(sleepy_project):
    runner = _start_lab(sleepy_project)
    job, child = (int((sleepy_project / name).read_text()) for name in ("job.pid", "child.pid"))
    os.kill(job, signal.SIGKILL)
    stdout, _ = runner.communicate(timeout=60)
    assert stdout.split() == ["KILLED", str(128 + signal.SIGKILL)]
    assert _the_run().info.status == "KILLED"
    assert not process_alive(child)  # what the killed command left in its process group goes with it
