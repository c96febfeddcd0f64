"""``schedule.toml`` read into validated, frozen job specifications; their next fire times."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lab.config.parsing import build, read_toml
from lab.errors import ConfigError, LabError
from lab.paths import project_root

__all__ = ["ScheduleError", "JobSpec", "Schedule", "load_schedule", "next_fire_times", "DEFAULT_SCHEDULE", "STEPS",
           "PLACEHOLDER"]

DEFAULT_SCHEDULE = Path("jobs/schedule.toml")
STEPS = ("featurize", "tune", "walk-forward", "backtest", "promote", "monitor")
PROMOTE_PARAMETERS = ("run_id", "alias", "config")
#: ``{tune.run_id}``, ``{champion.run_id}``, ``{champion.version}``, ``{champion.target}``
PLACEHOLDER = re.compile(r"\{([A-Za-z_-]+)\.(run_id|version|target)\}")
_JOB_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ScheduleError(LabError, ValueError):
    """``schedule.toml`` is malformed, or a job name is unknown."""


@dataclass(frozen=True)
class SchedulerSettings:
    """The ``[scheduler]`` table, read by the lab's one TOML reader (:func:`lab.config.parsing.build`)."""

    timezone: str = "America/New_York"  # default for jobs that set none
    jobstore: str = ""  # empty: sqlite .lab/schedule.db under the project; or an SQLAlchemy URL
    misfire_grace_time_s: int = 3600
    max_concurrent_jobs: int = 1
    experiment: str = ""


@dataclass(frozen=True)
class JobSpec:
    """One ``[jobs.<name>]`` table."""

    name: str
    cron: str
    timezone: str
    steps: tuple[str, ...]
    parameters: Mapping[str, str] = field(default_factory=dict)
    step_parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    description: str = ""

    def trigger(self) -> Any:
        """The APScheduler ``CronTrigger`` of ``cron`` in ``timezone``."""
        from apscheduler.triggers.cron import CronTrigger  # heavy: apscheduler, the scheduler only

        return CronTrigger.from_crontab(self.cron, timezone=self.timezone)

    def parameters_for(self, step: str) -> dict[str, str]:
        """The parameters of one step: the shared ones, then the step's own (placeholders unresolved)."""
        return {**self.parameters, **self.step_parameters.get(step, {})}

    def as_dict(self) -> dict[str, Any]:
        """Plain data (what the persistent job store keeps)."""
        data = asdict(self)
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "JobSpec":
        return cls(**{**data, "steps": tuple(data["steps"])})


@dataclass(frozen=True)
class Schedule:
    """``schedule.toml``: scheduler settings and the jobs."""

    path: Path
    jobs: tuple[JobSpec, ...]
    timezone: str = "America/New_York"
    jobstore: str = ""
    misfire_grace_time_s: int = 3600
    max_concurrent_jobs: int = 1
    experiment: str = ""

    def job(self, name: str) -> JobSpec:
        """The job called ``name``; :class:`ScheduleError` lists the known names otherwise."""
        for spec in self.jobs:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.jobs) or "none"
        raise ScheduleError(f"no job {name!r} in {self.path}; jobs: {known}")

    def jobstore_url(self) -> str:
        """``jobstore``, or a sqlite file ``.lab/schedule.db`` under the project root (created)."""
        if self.jobstore:
            return self.jobstore

        folder = project_root() / ".lab"
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'schedule.db'}"


def load_schedule(path: str | Path | None = None, project_dir: str | Path = ".") -> Schedule:
    """Read and validate ``schedule.toml``.

    Parameters
    ----------
    path : str or Path, optional
        Default ``jobs/schedule.toml`` under ``project_dir``.
    project_dir : str or Path, default "."
        Where ``MLproject`` is; when present, step parameters are checked against the entry points'.

    Raises
    ------
    ScheduleError
        Unknown keys or steps, numeric weekdays, a bad cron or time zone, placeholders naming no
        earlier step, or parameters an entry point does not declare.
    """
    path = Path(path) if path else Path(project_dir) / DEFAULT_SCHEDULE
    try:
        raw = read_toml(path, "schedule file {path} does not exist; pass --schedule with a schedule.toml")
        _only(raw, {"scheduler", "jobs"}, "top level", path)
        settings = build(SchedulerSettings, raw.get("scheduler", {}), "scheduler")
    except ConfigError as exc:
        message = str(exc)
        raise ScheduleError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    declared = _declared_parameters(Path(project_dir))
    jobs = tuple(_job(name, table, settings.timezone, declared, path) for name, table in raw.get("jobs", {}).items())
    for key in ("misfire_grace_time_s", "max_concurrent_jobs"):
        if getattr(settings, key) < 1:
            raise ScheduleError(f"{path}: [scheduler] {key} = {getattr(settings, key)!r} must be a whole number >= 1")
    return Schedule(path, jobs, settings.timezone, settings.jobstore, settings.misfire_grace_time_s,
                    settings.max_concurrent_jobs, settings.experiment)


def _job(name: str, table: Mapping[str, Any], default_tz: str, declared: dict[str, set[str]], path: Path) -> JobSpec:
    where = f"{path}: [jobs.{name}]"
    if not _JOB_NAME.match(name):
        raise ScheduleError(f"{where}: job names use a-z, 0-9, '-' and '_'")
    _only(table, {"cron", "timezone", "steps", "parameters", "step_parameters", "description"}, f"[jobs.{name}]", path)
    steps = table.get("steps")
    if isinstance(steps, str):
        steps = [steps]
    if not steps or not all(isinstance(step, str) for step in steps):
        raise ScheduleError(f"{where}: steps must list entry points, e.g. steps = [\"featurize\"]")
    for step in steps:
        if step == "final-eval":
            raise ScheduleError(f"{where}: final-eval cannot be scheduled: it looks at the test window once, by hand")
        if step not in STEPS:
            raise ScheduleError(f"{where}: unknown step {step!r}; steps are {', '.join(STEPS)}")
    cron = str(table.get("cron", ""))
    fields = cron.split()
    if len(fields) != 5:
        raise ScheduleError(f"{where}: cron = {cron!r} needs 5 fields: minute hour day month day_of_week")
    if re.search(r"\d", fields[4]):
        raise ScheduleError(f"{where}: cron day_of_week {fields[4]!r}: write weekdays by name (mon-fri, sun); "
                            "APScheduler 3 counts 0 as Monday where crontab counts Sunday")
    step_parameters = table.get("step_parameters", {})
    unknown = sorted(set(step_parameters) - set(steps))
    if unknown:
        raise ScheduleError(f"{where}: step_parameters for {', '.join(unknown)}, which are not among its steps")
    spec = JobSpec(name, cron, str(table.get("timezone", default_tz)), tuple(steps),
                   _strings(table.get("parameters", {}), f"{where} parameters"),
                   {step: _strings(values, f"{where} step_parameters.{step}") for step, values in step_parameters.items()},
                   str(table.get("description", "")))
    try:
        spec.trigger()
    except (ValueError, LookupError) as exc:
        raise ScheduleError(f"{where}: cron = {cron!r} in {spec.timezone!r} is invalid: {exc}") from None
    for index, step in enumerate(steps):
        params = spec.parameters_for(step)
        allowed = set(PROMOTE_PARAMETERS) if step == "promote" else declared.get(step)
        if allowed is not None and set(params) - allowed:
            raise ScheduleError(f"{where}: {step} takes no parameter(s) {', '.join(sorted(set(params) - allowed))}; "
                                f"it takes {', '.join(sorted(allowed))} (move step-only ones to step_parameters.{step})")
        for value in params.values():
            for source, key in PLACEHOLDER.findall(value):
                if source != "champion" and (source not in steps[:index] or key != "run_id"):
                    raise ScheduleError(f"{where}: {step} uses {{{source}.{key}}}; only {{<earlier step>.run_id}} "
                                        "and {champion.run_id|version|target} exist")
    if "promote" in steps and "run_id" not in spec.parameters_for("promote"):
        raise ScheduleError(f"{where}: promote needs run_id, e.g. run_id = \"{{tune.run_id}}\"")
    return spec


def _strings(values: Any, where: str) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise ScheduleError(f"{where} must be a table of name = \"value\"")
    bad = [key for key, value in values.items() if isinstance(value, (Mapping, list))]
    if bad:
        raise ScheduleError(f"{where}: {', '.join(bad)} must be plain values (passed as -P name=value)")
    return {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in values.items()}


def _only(table: Mapping[str, Any], allowed: set[str], section: str, path: Path) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScheduleError(f"{path}: {section}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}")


def _declared_parameters(project_dir: Path) -> dict[str, set[str]]:
    """Entry point -> declared parameter names, from ``MLproject`` (empty when there is none)."""
    mlproject = project_dir / "MLproject"
    if not mlproject.is_file():
        return {}
    import yaml  # optional: MLmodel files only

    entries = (yaml.safe_load(mlproject.read_text()) or {}).get("entry_points", {})
    return {name: set((entry or {}).get("parameters", {}) or {}) for name, entry in entries.items()}


def next_fire_times(spec: JobSpec, count: int = 3, now: dt.datetime | None = None) -> list[dt.datetime]:
    """The next ``count`` fire times of a job (aware datetimes in its time zone)."""
    trigger = spec.trigger()
    current = now or dt.datetime.now(dt.timezone.utc)
    times: list[dt.datetime] = []
    previous = None
    while len(times) < count:
        fire = trigger.get_next_fire_time(previous, current)
        if fire is None:
            break
        times.append(fire)
        previous, current = fire, fire + dt.timedelta(microseconds=1)
    return times
