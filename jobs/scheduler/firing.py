"""Firing a job: run its steps in order through a runner, record failures, never raise.

The default runner, :func:`mlflow_runner`, runs the step's entry point through the lab's one
runner, :func:`lab.tracking.run_entry_point`, in a run carrying the schedule's tags.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from jobs.scheduler.lock import JobRunningError, job_lock
from jobs.scheduler.spec import PLACEHOLDER, JobSpec
from lab import tags as tag
from lab import tracking
from lab.config import load_lab_config
from lab.errors import LabError
from lab.tracking import run_entry_point, set_tags
from registry.champion import ChampionError, gate_version
from registry.errors import PromotionRefusedError
from registry.promote import promote

__all__ = ["StepFailedError", "StepResult", "JobOutcome", "Runner", "fire_job", "fire_stored_job", "mlflow_runner",
           "DEFAULT_RUNNER", "STOP"]

log = logging.getLogger("lab.schedule")
DEFAULT_RUNNER = "jobs.scheduler:mlflow_runner"
#: Set when the scheduler stops (SIGTERM): the running entry point is terminated, no further step starts.
STOP = threading.Event()


class StepFailedError(LabError):
    """A step ran and failed; ``run_id`` is its (FAILED) run when it had one."""

    def __init__(self, message: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


@dataclass(frozen=True)
class StepResult:
    """What one step did: its run, the run's status (or ``PROMOTED``/``REFUSED``), a detail line."""

    step: str
    run_id: str | None
    status: str
    detail: str = ""


@dataclass(frozen=True)
class JobOutcome:
    """One firing of a job."""

    name: str
    firing: str
    ok: bool
    steps: list[StepResult]
    error: str = ""


#: ``runner(entry_point, parameters, tags, experiment) -> StepResult``; raise to fail the step.
Runner = Callable[[str, Mapping[str, str], Mapping[str, str], "str | None"], StepResult]


def fire_job(spec: JobSpec, runner: Runner | None = None, *, experiment: str | None = None,
             project_dir: str | Path = ".") -> JobOutcome:
    """Run every step of a job now, in order; never raises.

    Parameters
    ----------
    spec : JobSpec
    runner : callable, optional
        Runs one entry point (default :func:`mlflow_runner`); tests inject their own.
    experiment : str, optional
        MLflow experiment of the runs (default: ``MLFLOW_EXPERIMENT_NAME`` or Default).
    project_dir : str or Path, default "."
        Where the ``config`` parameter's relative path is read from (for ``{champion...}``).

    Returns
    -------
    JobOutcome
        ``ok`` false when a step failed (its run is FAILED and an ERROR line is logged), when the
        scheduler is stopping, or when another process is firing the same job right now (the
        job's lock, :func:`jobs.scheduler.lock.job_lock`: a job never overlaps itself, across
        processes too).
    """
    runner = runner or mlflow_runner
    firing = uuid.uuid4().hex[:12]
    try:
        with job_lock(spec.name):
            return _fire(spec, runner, firing, experiment, project_dir)
    except JobRunningError as exc:
        log.warning("job %s firing %s: not started: %s", spec.name, firing, exc)
        return JobOutcome(spec.name, firing, False, [], str(exc))


def _fire(spec: JobSpec, runner: Runner, firing: str, experiment: str | None, project_dir: str | Path) -> JobOutcome:
    fired_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    done: dict[str, StepResult] = {}
    log.info("job %s firing %s: %s", spec.name, firing, " -> ".join(spec.steps))
    for step in spec.steps:
        tags = {tag.SCHEDULE: spec.name, tag.SCHEDULE_STEP: step, tag.SCHEDULE_FIRING: firing,
                tag.SCHEDULE_FIRED_AT: fired_at}
        if STOP.is_set():
            message = f"scheduler stopping: {step} and later steps not started"
            log.warning("job %s firing %s: %s", spec.name, firing, message)
            return JobOutcome(spec.name, firing, False, list(done.values()), message)
        try:
            params = _resolve(spec.parameters_for(step), done, project_dir)
            result = _promote_step(params, spec.name, project_dir) if step == "promote" else runner(step, params, tags, experiment)
            if step != "promote" and result.status != "FINISHED":
                raise StepFailedError(f"{step} ended {result.status}", result.run_id)
        except Exception as exc:  # noqa: BLE001 - a failing job must not stop the scheduler
            run_id = exc.run_id if isinstance(exc, StepFailedError) else None
            if run_id is None:
                run_id = _record_failure(tags, experiment, exc)
            message = f"{type(exc).__name__}: {exc}"
            log.error("job %s firing %s: step %s FAILED (run %s): %s", spec.name, firing, step, run_id, message)
            return JobOutcome(spec.name, firing, False, [*done.values(), StepResult(step, run_id, "FAILED", message)],
                              message)
        done[step] = result
        log.info("job %s firing %s: step %s %s (run %s) %s", spec.name, firing, step, result.status,
                 result.run_id, result.detail)
    return JobOutcome(spec.name, firing, True, list(done.values()))


def _resolve(params: Mapping[str, str], done: Mapping[str, StepResult], project_dir: str | Path) -> dict[str, str]:
    champion: dict[str, str] = {}

    def fill(match: re.Match) -> str:
        source, key = match.groups()
        if source != "champion":
            return done[source].run_id or ""
        if not champion:
            champion.update(_champion(params.get("config", "lab.toml"), project_dir))
        return champion[key]

    return {name: PLACEHOLDER.sub(fill, value) for name, value in params.items()}


def _lab_config(config: str, project_dir: str | Path) -> Any:
    """The step's ``config`` parameter, read relative to the project (defaults if lab.toml is absent)."""
    path = Path(config) if Path(config).is_absolute() else Path(project_dir) / config
    return load_lab_config(str(path) if path.exists() else config)


def _champion(config: str, project_dir: str | Path) -> dict[str, str]:
    name = _lab_config(config, project_dir).promotion.model_name
    try:
        version = gate_version(name, "champion")
    except ChampionError as exc:
        raise StepFailedError(f"{exc} (or remove the {{champion...}} job from the schedule)") from None
    return {"run_id": version.run_id or "", "version": str(version.version), "target": version.tags.get(tag.TARGET, "")}


def _promote_step(params: Mapping[str, str], job: str, project_dir: str | Path) -> StepResult:
    """``promote``: the registry gate in-process; a refusal is an outcome, not a failure."""
    run_id = params["run_id"]
    config = _lab_config(params.get("config", "lab.toml"), project_dir)
    client = tracking.client()
    try:
        promotion = promote(run_id, config.promotion, alias=params.get("alias", "challenger"), client=client)
    except PromotionRefusedError as exc:
        failed = ", ".join(f"{g.name} ({g.measured} vs {g.rule} {g.threshold})" for g in exc.failed)
        tracking.set_tags({tag.SCHEDULE_PROMOTION: f"refused by {job}: {failed}"[:5000]}, run_id)
        log.warning("job %s: run %s not promoted, gates failed: %s", job, run_id, failed)
        return StepResult("promote", run_id, "REFUSED", f"gates failed: {failed}")
    detail = f"{promotion.model_name} version {promotion.version} -> {promotion.alias}"
    tracking.set_tags({tag.SCHEDULE_PROMOTION: detail}, run_id)
    return StepResult("promote", run_id, "PROMOTED", detail)


def _record_failure(tags: Mapping[str, str], experiment: str | None, exc: BaseException) -> str | None:
    """A FAILED run for a step that failed before it had one, so the failure shows in the UI."""
    try:
        return tracking.create_terminated_run(tracking.resolve_experiment_id(experiment),
                                              {**tags, tag.ERROR: f"{type(exc).__name__}: {exc}"[:5000]},
                                              run_name=f"{tags[tag.SCHEDULE]}:{tags[tag.SCHEDULE_STEP]}", status="FAILED")
    except Exception:  # noqa: BLE001 - the tracking store itself may be what failed
        log.exception("could not record the failure of job %s in MLflow", tags.get(tag.SCHEDULE))
        return None


def mlflow_runner(entry_point: str, parameters: Mapping[str, str], tags: Mapping[str, str],
                  experiment: str | None = None, *, project_uri: str = ".") -> StepResult:
    """Run one MLproject entry point here (:func:`lab.tracking.run_entry_point`), in a run tagged ``tags``.

    When the scheduler stops (:data:`STOP`, set on SIGTERM) the entry point's process group is
    terminated and its run marked KILLED.

    Raises
    ------
    StepFailedError
        The entry point failed; its run is FAILED (or KILLED) and tagged ``lab.error``.
    """
    result = run_entry_point(entry_point, {k: v for k, v in parameters.items() if v != ""}, project_uri=project_uri,
                             experiment_name=experiment, tags=tags, run_name=f"{tags[tag.SCHEDULE]}:{entry_point}",
                             stop=STOP)
    if not result.ok:
        message = f"{entry_point} failed: run {result.run_id} ended {result.status} (exit code {result.exit_code})"

        set_tags({tag.ERROR: message[:5000]}, result.run_id)
        raise StepFailedError(message, result.run_id)
    return StepResult(entry_point, result.run_id, result.status)


def fire_stored_job(spec: Mapping[str, Any], runner: str = DEFAULT_RUNNER, experiment: str | None = None,
                    project_dir: str = ".", fingerprint: str = "") -> None:
    """What the job store calls (by reference, so the store holds only plain data)."""
    from apscheduler.util import ref_to_obj  # heavy: apscheduler, the scheduler only

    fire_job(JobSpec.from_dict(spec), ref_to_obj(runner), experiment=experiment, project_dir=project_dir)
