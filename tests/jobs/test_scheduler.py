"""Tests for jobs.scheduler: schedule file, firing (chains, failures), APScheduler behaviour, CLI.

Runners are injected (``module:function`` references to the fakes below), so no real entry point
runs except in the ``mlflow_runner`` tests, which use a two-line MLproject of their own.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.scheduler import (
    JobSpec,
    Schedule,
    ScheduleError,
    StepFailedError,
    StepResult,
    build_scheduler,
    fire_job,
    load_schedule,
    mlflow_runner,
    next_fire_times,
    schedule,
    sync_jobs,
)
from tests.conftest import process_alive, wait_until
from tests.registry.conftest import GOOD_BACKTEST, GOOD_STUDY, GOOD_WALK_FORWARD, LEDGER_TAGS, _create_run

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HERE = "tests.jobs.test_scheduler"
UTC = dt.timezone.utc

# -- fakes: runners referenced by name, with module-level state --------------------------------

CALLS: list[tuple[str, dict, dict]] = []
RELEASE = threading.Event()
BACKTEST_METRICS: dict[str, float] = {}


def recording_runner(entry_point, parameters, tags, experiment=None):
    CALLS.append((entry_point, dict(parameters), dict(tags)))
    return StepResult(entry_point, f"run-{len(CALLS)}", "FINISHED")


def slow_runner(entry_point, parameters, tags, experiment=None):
    CALLS.append((entry_point, dict(parameters), dict(tags)))
    RELEASE.wait(timeout=10)
    return StepResult(entry_point, f"run-{len(CALLS)}", "FINISHED")


def failing_runner(entry_point, parameters, tags, experiment=None):
    CALLS.append((entry_point, dict(parameters), dict(tags)))
    raise RuntimeError("disk full")


def file_runner(entry_point, parameters, tags, experiment=None):
    with open(os.environ["LAB_TEST_RUNNER_LOG"], "a") as handle:
        handle.write(f"{tags['lab.schedule']} {entry_point}\n")
    return StepResult(entry_point, "file-run", "FINISHED")


def blocking_file_runner(entry_point, parameters, tags, experiment=None):
    """Says it started (a file), then holds its job until a release file appears."""
    folder = Path(os.environ["LAB_TEST_RUNNER_DIR"])
    (folder / "started").write_text(str(os.getpid()))
    while not (folder / "release").exists():
        time.sleep(0.05)
    return StepResult(entry_point, "held-run", "FINISHED")


def contract_runner(entry_point, parameters, tags, experiment=None):
    """Makes the runs the real entry points would, following the run contract."""
    from mlflow import MlflowClient

    CALLS.append((entry_point, dict(parameters), dict(tags)))
    client = MlflowClient()
    experiment_id = client.get_experiment_by_name("lab-test").experiment_id
    common = {**tags, "lab.dataset_digest": "0123456789abcdef"}
    if entry_point == "tune":
        run_id = _create_run(client, experiment_id, {**common, "lab.stage": "tune", "lab.features": "ret_1"},
                             {"target": parameters["target"], "model.engine": "lightgbm", "best.num_leaves": "31"},
                             {"val_auc": 0.6, **GOOD_STUDY})
        model = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
        client.set_tag(run_id, "lab.model_id", model.model_id)
    elif entry_point == "walk-forward":
        run_id = _create_run(client, experiment_id, {**common, "lab.stage": "walk-forward",
                                                     "lab.evidence_for": parameters["params_from"]},
                             {"target": parameters["target"]}, GOOD_WALK_FORWARD)
    else:
        run_id = _create_run(client, experiment_id, {**common, "lab.stage": "backtest", "lab.window": "validation",
                                                     "lab.evidence_for": parameters["run_id"], **LEDGER_TAGS},
                             {}, {**GOOD_BACKTEST, **BACKTEST_METRICS})
    return StepResult(entry_point, run_id, "FINISHED")


@pytest.fixture(autouse=True)
def _reset_fakes(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))  # the jobs' locks live under .lab/ of the project
    CALLS.clear()
    RELEASE.clear()
    BACKTEST_METRICS.clear()
    yield
    RELEASE.set()


@pytest.fixture
def store(tracking_store) -> str:
    """The shared temporary store (``tracking_store`` starts from a pre-migrated sqlite file)."""
    return tracking_store


def _plan(tmp_path, *specs: JobSpec, grace: int = 3600, workers: int = 1) -> Schedule:
    return Schedule(tmp_path / "schedule.toml", tuple(specs), "UTC", f"sqlite:///{tmp_path / 'jobs.db'}", grace, workers)


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(text)
    return path


DAILY = JobSpec("daily", "0 6 * * *", "UTC", ("featurize",), {"config": "lab.toml"})

# -- the schedule file ---------------------------------------------------------------------


def test_load_schedule_reads_the_shipped_schedule_against_the_mlproject():
    plan = load_schedule(PROJECT_ROOT / "jobs/schedule.toml", project_dir=PROJECT_ROOT)
    assert [job.name for job in plan.jobs] == ["featurize-daily", "walk-forward-weekly", "monitor-weekly", "retrain-monthly"]
    retrain = plan.job("retrain-monthly")
    assert retrain.steps == ("tune", "walk-forward", "backtest", "promote")
    assert retrain.parameters_for("backtest") == {"config": "lab.toml", "run_id": "{tune.run_id}"}
    assert plan.misfire_grace_time_s == 3600 and plan.max_concurrent_jobs == 1


def test_next_fire_times_are_weekday_mornings_in_new_york_across_dst():
    spec = load_schedule(PROJECT_ROOT / "jobs/schedule.toml").job("featurize-daily")
    friday_before_dst = dt.datetime(2025, 3, 7, 12, 0, tzinfo=UTC)
    times = next_fire_times(spec, 3, now=friday_before_dst)
    assert [t.date().isoformat() for t in times] == ["2025-03-10", "2025-03-11", "2025-03-12"]
    assert {t.astimezone(UTC).hour for t in times} == {10}  # 06:00 EDT
    assert next_fire_times(spec, 1, now=dt.datetime(2025, 1, 6, 12, tzinfo=UTC))[0].astimezone(UTC).hour == 11


def test_load_schedule_first_sunday_means_day_and_weekday_together():
    spec = load_schedule(PROJECT_ROOT / "jobs/schedule.toml").job("retrain-monthly")
    times = next_fire_times(spec, 3, now=dt.datetime(2025, 1, 1, tzinfo=UTC))
    assert [t.date().isoformat() for t in times] == ["2025-01-05", "2025-02-02", "2025-03-02"]


@pytest.mark.parametrize(("text", "message"), [
    ('[jobs.x]\ncron = "0 6 * * 1-5"\nsteps = ["featurize"]', "write weekdays by name"),
    ('[jobs.x]\ncron = "0 6 * * *"\nsteps = ["final-eval"]', "final-eval cannot be scheduled"),
    ('[jobs.x]\ncron = "0 6 * *"\nsteps = ["featurize"]', "needs 5 fields"),
    ('[jobs.x]\ncron = "0 6 * * *"\nsteps = ["train"]', "unknown step 'train'"),
    ('[jobs.x]\ncron = "0 6 * * *"\ntimezone = "Mars/Olympus"\nsteps = ["featurize"]', "is invalid"),
    ('[jobs.x]\ncron = "0 6 * * *"\nsteps = ["walk-forward", "tune"]\n'
     'step_parameters.walk-forward = { params_from = "{tune.run_id}" }', "is not an earlier step|only {<earlier"),
    ('[jobs.x]\ncron = "0 6 * * *"\nsteps = ["backtest"]\nparameters = { target = "target_6bar" }',
     "backtest takes no parameter\\(s\\) target"),
    ('[jobs.x]\ncron = "0 6 * * *"\nsteps = ["featurize"]\nwhen = "daily"', "unknown key\\(s\\) when"),
])
def test_load_schedule_refuses_mistakes_with_the_fix(tmp_path, text, message):
    with pytest.raises(ScheduleError, match=message):
        load_schedule(_write(tmp_path, text), project_dir=PROJECT_ROOT)


def test_schedule_job_unknown_name_lists_the_jobs():
    plan = load_schedule(PROJECT_ROOT / "jobs/schedule.toml")
    with pytest.raises(ScheduleError, match="no job 'nightly' .*jobs: featurize-daily, walk-forward-weekly"):
        plan.job("nightly")


# -- firing a job ----------------------------------------------------------------------------


def test_fire_job_chain_hands_the_tune_run_to_later_steps_and_tags_every_run(store):
    spec = JobSpec("retrain", "0 4 1-7 * sun", "UTC", ("tune", "walk-forward", "backtest"), {"config": "lab.toml"},
                   {"walk-forward": {"params_from": "{tune.run_id}"}, "backtest": {"run_id": "{tune.run_id}"}})
    outcome = fire_job(spec, recording_runner)
    assert outcome.ok and [s.run_id for s in outcome.steps] == ["run-1", "run-2", "run-3"]
    assert CALLS[1][1] == {"config": "lab.toml", "params_from": "run-1"}
    assert CALLS[2][1] == {"config": "lab.toml", "run_id": "run-1"}
    assert {c[2]["lab.schedule"] for c in CALLS} == {"retrain"}
    assert len({c[2]["lab.schedule.firing"] for c in CALLS}) == 1


def test_fire_job_monthly_retrain_registers_a_challenger_when_the_gate_passes(store, tmp_path):
    from mlflow import MlflowClient

    config = tmp_path / "lab.toml"
    config.write_text('[promotion]\nmodel_name = "mes-sched"\n')
    spec = load_schedule(PROJECT_ROOT / "jobs/schedule.toml").job("retrain-monthly")
    spec = JobSpec(spec.name, spec.cron, spec.timezone, spec.steps, {"config": str(config)}, spec.step_parameters)
    outcome = fire_job(spec, contract_runner)
    assert outcome.ok, outcome.error
    assert outcome.steps[-1].status == "PROMOTED"
    client = MlflowClient()
    challenger = client.get_model_version_by_alias("mes-sched", "challenger")
    assert challenger.run_id == outcome.steps[0].run_id
    assert client.get_run(challenger.run_id).data.tags["lab.schedule.promotion"] == "mes-sched version 1 -> challenger"
    with pytest.raises(Exception, match="alias champion not found"):
        client.get_model_version_by_alias("mes-sched", "champion")


def test_fire_job_gate_refusal_is_an_outcome_recorded_on_the_tune_run(store, tmp_path):
    from mlflow import MlflowClient

    BACKTEST_METRICS["profit_factor"] = 0.9
    config = tmp_path / "lab.toml"
    config.write_text('[promotion]\nmodel_name = "mes-sched"\n')
    spec = load_schedule(PROJECT_ROOT / "jobs/schedule.toml").job("retrain-monthly")
    spec = JobSpec(spec.name, spec.cron, spec.timezone, spec.steps, {"config": str(config)}, spec.step_parameters)
    outcome = fire_job(spec, contract_runner)
    assert outcome.ok
    assert (outcome.steps[-1].status, outcome.steps[-1].detail) == ("REFUSED", "gates failed: min_profit_factor "
                                                                    "(0.9 vs >= 1.2)")
    tags = MlflowClient().get_run(outcome.steps[0].run_id).data.tags
    assert tags["lab.schedule.promotion"].startswith("refused by retrain-monthly: min_profit_factor")


def test_fire_job_failing_step_records_a_failed_run_and_stops_the_chain(store, caplog):
    from mlflow import MlflowClient

    spec = JobSpec("retrain", "0 4 * * sun", "UTC", ("tune", "backtest"), {"config": "lab.toml"},
                   {"backtest": {"run_id": "{tune.run_id}"}})
    with caplog.at_level(logging.ERROR, logger="lab.schedule"):
        outcome = fire_job(spec, failing_runner)
    assert not outcome.ok and len(CALLS) == 1
    assert outcome.error == "RuntimeError: disk full"
    failed = outcome.steps[-1]
    run = MlflowClient().get_run(failed.run_id)
    assert run.info.status == "FAILED"
    assert (run.data.tags["lab.schedule"], run.data.tags["lab.schedule.step"]) == ("retrain", "tune")
    assert run.data.tags["lab.error"] == "RuntimeError: disk full"
    assert "job retrain firing" in caplog.text and "step tune FAILED" in caplog.text


def test_fire_job_champion_placeholder_without_a_champion_fails_clearly(store, tmp_path):
    config = tmp_path / "lab.toml"
    config.write_text('[promotion]\nmodel_name = "mes-none"\n')
    spec = JobSpec("weekly", "0 7 * * sat", "UTC", ("walk-forward",), {"config": str(config)},
                   {"walk-forward": {"params_from": "{champion.run_id}"}})
    outcome = fire_job(spec, recording_runner)
    assert not outcome.ok and CALLS == []
    assert "model 'mes-none' has no champion in " in outcome.error
    assert "promote one first with `lab promote --run-id <tune run>` (or remove the {champion...} job" in outcome.error


def test_fire_job_champion_placeholder_resolves_run_and_target(store, tmp_path):
    config = tmp_path / "lab.toml"
    config.write_text('[promotion]\nmodel_name = "mes-sched"\n')
    retrain = load_schedule(PROJECT_ROOT / "jobs/schedule.toml").job("retrain-monthly")
    first = fire_job(JobSpec("r", retrain.cron, "UTC", retrain.steps[:3], {"config": str(config)},
                             retrain.step_parameters), contract_runner)
    from registry.promote import promote
    from lab.config import PromotionConfig

    promote(first.steps[0].run_id, PromotionConfig(model_name="mes-sched"))
    weekly = load_schedule(PROJECT_ROOT / "jobs/schedule.toml").job("walk-forward-weekly")
    spec = JobSpec(weekly.name, weekly.cron, weekly.timezone, weekly.steps, {"config": str(config)},
                   weekly.step_parameters)
    assert fire_job(spec, recording_runner).ok
    assert CALLS[-1][1] == {"config": str(config), "params_from": first.steps[0].run_id, "target": "target_6bar"}


# -- the MLflow runner, on a tiny project of its own -----------------------------------------


@pytest.fixture
def tiny_project(tmp_path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: tiny\nentry_points:\n"
        "  ok:\n    parameters:\n      word: {type: string, default: hi}\n"
        "    command: \"python -c 'import sys; print(sys.argv[1])' {word}\"\n"
        "  boom:\n    command: \"python -c 'import sys; sys.exit(3)'\"\n")
    return project


def test_mlflow_runner_runs_the_entry_point_in_a_tagged_run(store, tiny_project):
    from mlflow import MlflowClient

    tags = {"lab.schedule": "daily", "lab.schedule.step": "ok", "lab.schedule.firing": "f1"}
    result = mlflow_runner("ok", {"word": "hello"}, tags, project_uri=str(tiny_project))
    run = MlflowClient().get_run(result.run_id)
    assert (result.status, run.info.status) == ("FINISHED", "FINISHED")
    assert run.data.tags["lab.schedule"] == "daily"
    assert run.data.tags["mlflow.project.entryPoint"] == "ok"
    assert run.data.params == {"word": "hello"}


def test_mlflow_runner_failure_leaves_the_run_failed(store, tiny_project):
    from mlflow import MlflowClient

    tags = {"lab.schedule": "daily", "lab.schedule.step": "boom", "lab.schedule.firing": "f1"}
    with pytest.raises(StepFailedError, match=r"boom failed: run \w+ ended FAILED \(exit code 3\)") as info:
        mlflow_runner("boom", {}, tags, project_uri=str(tiny_project))
    run = MlflowClient().get_run(info.value.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["lab.schedule"] == "daily" and "exit code 3" in run.data.tags["lab.error"]


# -- APScheduler: overlap, failures, restarts ------------------------------------------------


def _started(plan: Schedule, runner: str):
    scheduler = build_scheduler(plan, blocking=False)
    scheduler.start(paused=True)
    actions = sync_jobs(scheduler, plan, runner=f"{HERE}:{runner}")
    return scheduler, actions


def test_scheduler_skips_a_firing_while_the_previous_one_runs(tmp_path):
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES

    plan = _plan(tmp_path, DAILY, workers=2)
    scheduler, _ = _started(plan, "slow_runner")
    skipped = []
    scheduler.add_listener(lambda event: skipped.append(event.job_id), EVENT_JOB_MAX_INSTANCES)
    scheduler.resume()
    try:
        scheduler.modify_job("daily", next_run_time=dt.datetime.now(UTC))
        assert wait_until(lambda: len(CALLS) == 1)
        scheduler.modify_job("daily", next_run_time=dt.datetime.now(UTC))
        assert wait_until(lambda: skipped == ["daily"])
    finally:
        RELEASE.set()
        scheduler.shutdown(wait=True)
    assert len(CALLS) == 1


def test_scheduler_keeps_going_after_a_failing_job(store, tmp_path):
    from mlflow import MlflowClient

    from apscheduler.events import EVENT_JOB_EXECUTED

    plan = _plan(tmp_path, DAILY)
    scheduler, _ = _started(plan, "failing_runner")
    finished = []
    scheduler.add_listener(lambda event: finished.append(event.job_id), EVENT_JOB_EXECUTED)
    scheduler.resume()
    try:
        for expected in (1, 2):
            scheduler.modify_job("daily", next_run_time=dt.datetime.now(UTC))
            assert wait_until(lambda: len(finished) == expected)
        assert len(CALLS) == 2 and scheduler.running
        client = MlflowClient()
        runs = client.search_runs([client.get_experiment_by_name("lab-test").experiment_id],
                                  "tags.`lab.schedule` = 'daily'")
        assert [run.info.status for run in runs] == ["FAILED", "FAILED"]
    finally:
        scheduler.shutdown(wait=True)


def test_scheduler_restart_runs_missed_firings_once(tmp_path):
    plan = _plan(tmp_path, DAILY, grace=4 * 86400)
    first, actions = _started(plan, "recording_runner")
    assert actions == {"daily": "added"}
    three_days_ago = DAILY.trigger().get_next_fire_time(None, dt.datetime.now(UTC) - dt.timedelta(days=3))
    first.modify_job("daily", next_run_time=three_days_ago)
    first.shutdown(wait=False)  # the machine was off for three days

    second, actions = _started(plan, "recording_runner")
    assert actions == {"daily": "kept"}
    second.resume()
    try:
        assert wait_until(lambda: len(CALLS) == 1)
        time.sleep(0.3)
        assert len(CALLS) == 1  # three missed firings, coalesced into one
        assert second.get_job("daily").next_run_time > dt.datetime.now(UTC)
    finally:
        second.shutdown(wait=True)


def test_scheduler_skips_a_firing_missed_beyond_the_grace_time(tmp_path):
    from apscheduler.events import EVENT_JOB_MISSED

    plan = _plan(tmp_path, DAILY, grace=1)
    scheduler, _ = _started(plan, "recording_runner")
    missed = []
    scheduler.add_listener(lambda event: missed.append(event.job_id), EVENT_JOB_MISSED)
    scheduler.modify_job("daily", next_run_time=dt.datetime.now(UTC) - dt.timedelta(hours=2))
    scheduler.resume()
    try:
        assert wait_until(lambda: missed == ["daily"])
        assert CALLS == []
    finally:
        scheduler.shutdown(wait=True)


def test_sync_jobs_adds_replaces_and_removes_to_match_the_file(tmp_path):
    plan = _plan(tmp_path, DAILY, JobSpec("weekly", "0 7 * * sat", "UTC", ("walk-forward",)))
    scheduler, actions = _started(plan, "recording_runner")
    assert actions == {"daily": "added", "weekly": "added"}
    changed = _plan(tmp_path, JobSpec("daily", "30 6 * * *", "UTC", ("featurize",), {"config": "lab.toml"}))
    assert sync_jobs(scheduler, changed, runner=f"{HERE}:recording_runner") == {"daily": "replaced", "weekly": "removed"}
    assert [job.id for job in scheduler.get_jobs()] == ["daily"]
    assert scheduler.get_job("daily").next_run_time.minute == 30
    scheduler.shutdown(wait=False)


# -- `lab schedule` --------------------------------------------------------------------------


def test_schedule_list_shows_steps_parameters_and_next_fire_times(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    result = CliRunner().invoke(schedule, ["list", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert "retrain-monthly  [0 4 1-7 * sun]  America/New_York" in result.output
    assert "steps: tune -> walk-forward -> backtest -> promote" in result.output
    assert "promote: config=lab.toml run_id={tune.run_id} alias=challenger" in result.output
    assert result.output.count("next: ") == 4


def test_schedule_run_once_runs_the_job_now(store, tmp_path):
    path = _write(tmp_path, '[jobs.daily]\ncron = "0 6 * * mon-fri"\nsteps = ["featurize"]\n')
    result = CliRunner().invoke(schedule, ["run-once", "daily", "--schedule", str(path),
                                           "--runner", f"{HERE}:recording_runner"])
    assert result.exit_code == 0, result.output
    assert "daily: featurize FINISHED run run-1" in result.output


def test_schedule_run_once_failing_job_exits_1(store, tmp_path):
    path = _write(tmp_path, '[jobs.daily]\ncron = "0 6 * * mon-fri"\nsteps = ["featurize"]\n')
    result = CliRunner().invoke(schedule, ["run-once", "daily", "--schedule", str(path),
                                           "--runner", f"{HERE}:failing_runner"])
    assert result.exit_code == 1
    assert "daily: failed: RuntimeError: disk full" in result.output


def test_schedule_run_catches_up_after_a_restart_and_stops_on_sigterm(tmp_path):
    """The foreground scheduler: loads the store, fires the missed job once, exits on SIGTERM."""
    path = _write(tmp_path, f'[scheduler]\ntimezone = "UTC"\njobstore = "sqlite:///{tmp_path / "jobs.db"}"\n'
                            'misfire_grace_time_s = 345600\n\n[jobs.daily]\ncron = "0 6 * * *"\nsteps = ["featurize"]\n')
    plan = load_schedule(path)
    earlier, _ = _started(plan, "file_runner")
    earlier.modify_job("daily", next_run_time=DAILY.trigger().get_next_fire_time(
        None, dt.datetime.now(UTC) - dt.timedelta(days=2)))
    earlier.shutdown(wait=False)
    runs = tmp_path / "runs.txt"
    env = {**os.environ, "LAB_TEST_RUNNER_LOG": str(runs), "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from jobs.scheduler import schedule; schedule()", "run", "--schedule", str(path),
         "--runner", f"{HERE}:file_runner"], cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: runs.exists(), timeout=30)
        time.sleep(0.5)  # let it log the step
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert runs.read_text() == "daily featurize\n"
    assert "job daily kept" in stderr and "step featurize FINISHED" in stderr
    assert process.returncode == 0


# -- stopping and overlapping across processes ------------------------------------------------

SLOW_JOB = """import os, pathlib, subprocess, time
def publish(name, pid):  # write then rename: a reader never sees the file empty
    pathlib.Path(name + ".tmp").write_text(str(pid))
    os.replace(name + ".tmp", name)
sleeper = subprocess.Popen(["sleep", "300"])
publish("sleeper.pid", sleeper.pid)
publish("job.pid", os.getpid())
time.sleep(300)
"""


def _lab(*args: str) -> list[str]:
    return [sys.executable, "-c", "from cli.main import main; main()", *args]


@pytest.mark.slow
def test_schedule_run_sigterm_stops_the_running_job_and_marks_its_run_killed(store, tmp_path):
    """A real `lab schedule run` with a slow entry point (which starts a process of its own): SIGTERM
    ends the scheduler, the entry point and its child; the step's run is KILLED."""
    from mlflow import MlflowClient

    project, path, process = _schedule_run_with_a_due_job(tmp_path, SLOW_JOB)
    try:
        assert wait_until(lambda: (project / "sleeper.pid").exists() and (project / "job.pid").exists(), timeout=60)
        job_pid = int((project / "job.pid").read_text())
        sleeper_pid = int((project / "sleeper.pid").read_text())
        assert process_alive(job_pid) and process_alive(sleeper_pid)
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert not process_alive(job_pid) and not process_alive(sleeper_pid)  # nothing left behind
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("lab-test").experiment_id],
                                "tags.`lab.schedule` = 'daily'")
    assert run.info.status == "KILLED"
    assert "ended KILLED" in run.data.tags["lab.error"] and "step featurize FAILED" in stderr


#: A lab job in miniature (jobs.common.job_main around a stage run) that publishes its pid and sleeps.
LAB_JOB = """import os, pathlib, sys, time
from jobs.common import job_main
from lab import tracking
from lab.config import LabConfig


@job_main("featurize")
def main(argv=None):
    with tracking.stage_run("featurize", LabConfig()):
        pathlib.Path("job.pid.tmp").write_text(str(os.getpid()))
        os.replace("job.pid.tmp", "job.pid")
        time.sleep(300)
    return 0


sys.exit(main())
"""


@pytest.mark.slow  # processes killed and watched: seconds each
def test_schedule_run_sigkill_ends_the_running_job_which_marks_its_run_killed(store, tmp_path):
    """SIGKILL of `lab schedule run` leaves no orphan: its entry point ends and marks its run KILLED."""
    from mlflow import MlflowClient

    project, path, process = _schedule_run_with_a_due_job(tmp_path, LAB_JOB)
    try:
        assert wait_until(lambda: (project / "job.pid").exists(), timeout=60)
        job_pid = int((project / "job.pid").read_text())
        process.kill()
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert wait_until(lambda: not process_alive(job_pid), timeout=30), "the scheduler's entry point outlived it"
    client = MlflowClient()
    experiment = client.get_experiment_by_name("lab-test").experiment_id
    assert wait_until(lambda: client.search_runs([experiment], "tags.`lab.schedule` = 'daily'")[0].info.status != "RUNNING",
                 timeout=30)
    (run,) = client.search_runs([experiment], "tags.`lab.schedule` = 'daily'")
    assert run.info.status == "KILLED" and run.data.tags["lab.error"] == "Terminated: stopped by SIGTERM"


def test_schedule_run_once_cannot_overlap_the_same_job_in_another_process(store, tmp_path):
    """Two `lab schedule run-once` of one job: the second is refused while the first runs; a killed
    holder leaves no stale lock."""
    path = _write(tmp_path, '[jobs.slow]\ncron = "0 6 * * mon-fri"\nsteps = ["featurize"]\n')
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "LAB_TEST_RUNNER_DIR": str(tmp_path)}
    command = _lab("schedule", "run-once", "slow", "--schedule", str(path), "--runner", f"{HERE}:blocking_file_runner")
    first = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert wait_until(lambda: (tmp_path / "started").exists(), timeout=60)
        second = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"slow: failed: job 'slow' is already running (pid {first.pid} on " in second.stderr
        assert not (tmp_path / "release").exists() and first.poll() is None  # the first still holds it
        first.kill()  # kill -9 of the holder: the kernel drops its lock
        first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    outcome = fire_job(JobSpec("slow", "0 6 * * *", "UTC", ("featurize",)), recording_runner)
    assert outcome.ok and len(CALLS) == 1


def test_fire_job_releases_its_lock_when_done(tmp_path):
    spec = JobSpec("daily", "0 6 * * *", "UTC", ("featurize",))
    assert fire_job(spec, recording_runner).ok and fire_job(spec, recording_runner).ok
    assert len(CALLS) == 2


@pytest.mark.parametrize(("text", "message"), [
    ('[scheduler]\nmisfire_grace_time_s = 0\n', r"\[scheduler\] misfire_grace_time_s = 0 must be a whole number >= 1"),
    ('[scheduler]\nmisfire_grace_time_s = 2.5\n', r"scheduler.misfire_grace_time_s = 2.5 must be a whole number"),
    ('[scheduler]\nmax_concurrent_jobs = nan\n', r"scheduler.max_concurrent_jobs = nan must be a finite number"),
    ('[scheduler]\ntimezon = "UTC"\n', r"\[scheduler\]: unknown key\(s\) 'timezon'; valid keys: .*timezone"),
    ('[scheduler\n', r"not valid TOML"),
])
def test_load_schedule_scheduler_table_is_read_like_lab_toml(tmp_path, text, message):
    with pytest.raises(ScheduleError, match=message):
        load_schedule(_write(tmp_path, text), project_dir=PROJECT_ROOT)


def test_load_schedule_missing_file_says_which_option(tmp_path):
    with pytest.raises(ScheduleError, match=r"schedule file '.*absent.toml' does not exist; pass --schedule"):
        load_schedule(tmp_path / "absent.toml")


def _schedule_run_with_a_due_job(tmp_path, job_source: str):
    """A project whose one entry point runs ``job_source``, a schedule whose daily job is due now (a
    scheduler that was stopped), and ``lab schedule run`` started on it: (project, schedule, process)."""
    from jobs.scheduler import DEFAULT_RUNNER

    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("name: slow\nentry_points:\n  featurize:\n    command: \"python job.py\"\n")
    (project / "job.py").write_text(job_source)
    path = _write(tmp_path, f'[scheduler]\ntimezone = "UTC"\njobstore = "sqlite:///{tmp_path / "jobs.db"}"\n'
                            'misfire_grace_time_s = 345600\n\n[jobs.daily]\ncron = "0 6 * * *"\nsteps = ["featurize"]\n')
    plan = load_schedule(path, project_dir=project)
    earlier = build_scheduler(plan, blocking=False)
    earlier.start(paused=True)
    sync_jobs(earlier, plan, runner=DEFAULT_RUNNER, project_dir=str(project))
    earlier.modify_job("daily", next_run_time=dt.datetime.now(UTC) - dt.timedelta(hours=1))  # due now
    earlier.shutdown(wait=False)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(_lab("schedule", "run", "--schedule", str(path)), cwd=project, env=env,
                               stderr=subprocess.PIPE, text=True)
    return project, path, process
