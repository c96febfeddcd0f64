"""The APScheduler side: a scheduler on the persistent job store, kept in step with the file."""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from jobs.scheduler.firing import DEFAULT_RUNNER, STOP
from jobs.scheduler.spec import Schedule, ScheduleError
from lab.forkserver import serving

__all__ = ["build_scheduler", "sync_jobs", "run_scheduler", "STORED_JOB_FUNCTION"]

log = logging.getLogger("lab.schedule")
#: What the job store calls, by reference (a stable public name, so stored jobs survive refactors).
STORED_JOB_FUNCTION = "jobs.scheduler:fire_stored_job"


def build_scheduler(schedule: Schedule, *, blocking: bool = True, jobstore_url: str | None = None) -> Any:
    """An APScheduler scheduler on the persistent job store, with the lab's job defaults."""
    from apscheduler.events import (  # heavy: apscheduler, the scheduler only
        EVENT_JOB_ERROR,
        EVENT_JOB_MAX_INSTANCES,
        EVENT_JOB_MISSED,
    )
    from apscheduler.executors.pool import ThreadPoolExecutor  # heavy: apscheduler, the scheduler only
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # heavy: apscheduler, the scheduler only
    from apscheduler.schedulers.background import BackgroundScheduler  # heavy: apscheduler, the scheduler only
    from apscheduler.schedulers.blocking import BlockingScheduler  # heavy: apscheduler, the scheduler only

    scheduler = _stops_cleanly(BlockingScheduler if blocking else BackgroundScheduler)(
        jobstores={"default": SQLAlchemyJobStore(url=jobstore_url or schedule.jobstore_url(), tablename="lab_jobs")},
        executors={"default": ThreadPoolExecutor(schedule.max_concurrent_jobs)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": schedule.misfire_grace_time_s},
        timezone=schedule.timezone,
    )
    notes = {EVENT_JOB_MAX_INSTANCES: "skipped: the previous firing is still running",
             EVENT_JOB_MISSED: "missed by more than misfire_grace_time_s: skipped",
             EVENT_JOB_ERROR: "raised"}
    scheduler.add_listener(lambda event: log.warning("job %s %s (scheduled %s)", event.job_id, notes[event.code],
                                                     getattr(event, "scheduled_run_time", "")),
                           EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    return scheduler


def _stops_cleanly(cls: type) -> type:
    """``cls`` without APScheduler 3's last pass after ``shutdown``.

    Its main loop wakes once more after ``shutdown()`` and processes due jobs with the executor
    already closed: the firing is logged as an error and its next run time advanced, so a job due
    at that moment (or missed while the scheduler was down) would be lost.
    """
    from apscheduler.schedulers.base import STATE_STOPPED  # heavy: apscheduler, the scheduler only

    class Scheduler(cls):  # type: ignore[misc, valid-type]
        def _process_jobs(self) -> float | None:
            if self.state == STATE_STOPPED:
                return None
            return super()._process_jobs()

    Scheduler.__name__ = Scheduler.__qualname__ = cls.__name__
    return Scheduler


def sync_jobs(scheduler: Any, schedule: Schedule, runner: str = DEFAULT_RUNNER, project_dir: str = ".") -> dict[str, str]:
    """Make a started scheduler's job store match ``schedule``.

    Unchanged jobs keep their stored next fire time (so a firing missed while the scheduler was
    down still runs, once); changed ones are replaced, new ones added, removed ones deleted.

    Returns
    -------
    dict
        Job name -> ``kept``, ``added``, ``replaced`` or ``removed``.
    """
    existing = {job.id: job for job in scheduler.get_jobs()}
    actions: dict[str, str] = {}
    for spec in schedule.jobs:
        kwargs = {"spec": spec.as_dict(), "runner": runner, "experiment": schedule.experiment or None,
                  "project_dir": str(Path(project_dir).resolve())}
        kwargs["fingerprint"] = hashlib.sha256(json.dumps([kwargs, schedule.misfire_grace_time_s],
                                                          sort_keys=True).encode()).hexdigest()[:16]
        job = existing.pop(spec.name, None)
        if job is not None and job.kwargs.get("fingerprint") == kwargs["fingerprint"]:
            actions[spec.name] = "kept"
            continue
        scheduler.add_job(STORED_JOB_FUNCTION, trigger=spec.trigger(), id=spec.name, name=spec.name,
                          kwargs=kwargs, replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=schedule.misfire_grace_time_s)
        actions[spec.name] = "added" if job is None else "replaced"
    for name in existing:
        scheduler.remove_job(name)
        actions[name] = "removed"
    for name, action in actions.items():
        log.info("job %s %s", name, action)
    return actions


def run_scheduler(schedule: Schedule, runner: str = DEFAULT_RUNNER, project_dir: str = ".",
                  jobstore_url: str | None = None) -> None:
    """Run the schedule in the foreground until Ctrl-C or SIGTERM.

    Stopping ends the running firing too: its entry point's process group gets SIGTERM (SIGKILL
    5 s later), its run is marked KILLED and no later step starts; the process then exits.
    """
    from apscheduler.events import EVENT_SCHEDULER_STARTED  # heavy: apscheduler, the scheduler only

    scheduler = build_scheduler(schedule, blocking=True, jobstore_url=jobstore_url)
    problems: list[BaseException] = []

    def on_start(_event: Any) -> None:
        try:
            sync_jobs(scheduler, schedule, runner, project_dir)
            for job in scheduler.get_jobs():
                log.info("job %s next fires %s", job.id, job.next_run_time)
        except Exception as exc:  # noqa: BLE001 - reported after the scheduler stops
            problems.append(exc)
            scheduler.shutdown(wait=False)

    def stop(*_: Any) -> None:
        STOP.set()  # the running entry point is terminated by its runner, in the job's thread
        scheduler.shutdown(wait=False)

    scheduler.add_listener(on_start, EVENT_SCHEDULER_STARTED)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    # The firings run in threads, so the runner cannot fork this process: a fork server started now,
    # before any thread, gives every firing's entry point a warm interpreter (lab.forkserver).
    with serving():
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            stop()
    if problems:
        raise ScheduleError(f"could not load the jobs into {jobstore_url or schedule.jobstore_url()}: {problems[0]}")
