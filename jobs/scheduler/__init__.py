"""Recurring lab jobs: ``jobs/schedule.toml`` run by APScheduler, every step an MLflow run.

    lab schedule list                # each job, its cron, its next fire times
    lab schedule run                 # BlockingScheduler in the foreground, persistent job store
    lab schedule run-once NAME       # one job now

A job is an entry point or a chain (``tune -> walk-forward -> backtest -> promote``). Each step
runs through a *runner*, by default :func:`mlflow_runner`, which runs the entry point through
:func:`lab.tracking.run_entry_point` in a run tagged ``lab.schedule=<job>``, ``lab.schedule.step``,
``lab.schedule.firing``. A failing step leaves its run FAILED (a run is created to say so when none
was), logs an ERROR line and ends that firing; the scheduler goes on. SIGTERM stops the scheduler
and the running entry point (its process group; its run KILLED). Jobs never overlap themselves
(``max_instances=1`` in one scheduler, a per-job ``flock`` across processes), missed firings collapse into one
(``coalesce``) when within ``misfire_grace_time_s``, and the job store (sqlite under ``.lab/`` by
default) keeps the next fire times across restarts.
"""

from __future__ import annotations

import logging

import click

from jobs.scheduler.firing import (
    DEFAULT_RUNNER,
    STOP,
    JobOutcome,
    Runner,
    StepFailedError,
    StepResult,
    fire_job,
    fire_stored_job,
    mlflow_runner,
)
from jobs.scheduler.service import build_scheduler, run_scheduler, sync_jobs
from jobs.scheduler.spec import (
    DEFAULT_SCHEDULE,
    STEPS,
    JobSpec,
    Schedule,
    ScheduleError,
    load_schedule,
    next_fire_times,
)

__all__ = ["ScheduleError", "StepFailedError", "JobSpec", "Schedule", "StepResult", "JobOutcome", "Runner",
           "load_schedule", "next_fire_times", "fire_job", "fire_stored_job", "mlflow_runner", "build_scheduler",
           "sync_jobs", "run_scheduler", "schedule", "DEFAULT_SCHEDULE", "DEFAULT_RUNNER", "STEPS", "STOP"]

_schedule_option = click.option("--schedule", "schedule_path", default=str(DEFAULT_SCHEDULE), show_default=True,
                                help="the schedule file")
_runner_option = click.option("--runner", default=DEFAULT_RUNNER, hidden=True, help="module:function running a step")


@click.group("schedule")
def schedule() -> None:
    """Recurring jobs from jobs/schedule.toml (featurize, walk-forward, monthly retrain)."""


@schedule.command("list")
@_schedule_option
@click.option("--count", default=3, show_default=True, help="next fire times shown per job")
def list_command(schedule_path: str, count: int) -> None:
    """Each job: cron, time zone, steps, parameters and its next fire times."""
    plan = load_schedule(schedule_path)
    click.echo(f"{plan.path}: {len(plan.jobs)} job(s); job store {plan.jobstore or '.lab/schedule.db'}; "
               f"misfire grace {plan.misfire_grace_time_s} s")
    for spec in plan.jobs:
        click.echo(f"{spec.name}  [{spec.cron}]  {spec.timezone}  {spec.description}".rstrip())
        click.echo(f"  steps: {' -> '.join(spec.steps)}")
        for step in spec.steps:
            params = spec.parameters_for(step)
            if params:
                click.echo(f"    {step}: " + " ".join(f"{key}={value}" for key, value in params.items()))
        click.echo("  next: " + " | ".join(t.strftime("%a %Y-%m-%d %H:%M %Z") for t in next_fire_times(spec, count)))


@schedule.command("run")
@_schedule_option
@click.option("--jobstore", default="", help="SQLAlchemy URL of the job store (default: [scheduler] jobstore)")
@_runner_option
def run_command(schedule_path: str, jobstore: str, runner: str) -> None:
    """Run the schedule in the foreground (Ctrl-C stops it); fire times persist across restarts."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plan = load_schedule(schedule_path)
    click.echo(f"scheduler: {len(plan.jobs)} job(s) from {plan.path}, store {jobstore or plan.jobstore_url()}")
    run_scheduler(plan, runner, jobstore_url=jobstore or None)


@schedule.command("run-once")
@click.argument("name")
@_schedule_option
@_runner_option
def run_once_command(name: str, schedule_path: str, runner: str) -> None:
    """Run one job now, in the foreground; exit status 1 when a step fails."""
    from apscheduler.util import ref_to_obj  # heavy: apscheduler, the scheduler only

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plan = load_schedule(schedule_path)
    outcome = fire_job(plan.job(name), ref_to_obj(runner), experiment=plan.experiment or None)
    for step in outcome.steps:
        click.echo(f"{name}: {step.step} {step.status} run {step.run_id or '-'} {step.detail}".rstrip())
    if not outcome.ok:
        click.echo(f"{name}: failed: {outcome.error}", err=True)
        raise SystemExit(1)
