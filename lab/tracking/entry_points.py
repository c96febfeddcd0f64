"""Running MLproject entry points: the lab's one runner (``lab run``, the scheduler, ``lab demo``).

Re-exported by :mod:`lab.tracking`: call ``tracking.run_entry_point``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from lab import tags as tag
from lab.config.locate import CALLER_DIR_ENV
from lab.errors import LabError
from lab.paths import code_root
from lab.processes import process_record, this_process
from lab.forkserver import ServedProcess, from_environment
from lab.tracking.core import configure
from lab.tracking.forked import (
    ForkedProcess,
    PythonCommand,
    die_with_parent,
    end_active_run,
    fork_command,
    forkable_here,
    parse_python_command,
)

__all__ = ["EntryPointFailed", "EntryPointRun", "PARENT_ENV", "Stopped", "resolve_experiment_id", "run_entry_point"]


class EntryPointFailed(LabError):
    """An entry point ended FAILED or KILLED; ``result`` holds its run and the command's exit code."""

    def __init__(self, result: "EntryPointRun") -> None:
        super().__init__(f"{result.entry_point} ended {result.status} (run {result.run_id}, exit code {result.exit_code})")
        self.result = result


@dataclass(frozen=True)
class EntryPointRun:
    """One finished entry point: its run, the run's final status and the command's exit code.

    ``exit_code`` is the shell's: 128 + the signal's number when the command was killed.
    """

    entry_point: str
    run_id: str
    status: str  # FINISHED, FAILED or KILLED
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED"

    def raise_for_status(self) -> "EntryPointRun":
        """``self`` when FINISHED; :class:`EntryPointFailed` otherwise."""
        if not self.ok:
            raise EntryPointFailed(self)
        return self


def resolve_experiment_id(name: str | None = None) -> str:
    """The id of experiment ``name`` (created when missing); without a name, ``MLFLOW_EXPERIMENT_NAME``,
    then ``MLFLOW_EXPERIMENT_ID``, then MLflow's Default experiment ("0")."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    name = name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if not name:
        return os.environ.get("MLFLOW_EXPERIMENT_ID", "0")
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def run_entry_point(
    entry_point: str,
    parameters: Mapping[str, str | None],
    *,
    project_uri: str | Path | None = None,
    experiment_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_name: str | None = None,
    stop: threading.Event | None = None,
    grace_s: float = 5.0,
) -> EntryPointRun:
    """Run one MLproject entry point with this interpreter and wait for it (the lab's only runner).

    What ``mlflow.projects.run(..., env_manager="local", synchronous=True)`` does, built from the
    same MLflow project functions (validation of the parameters, the run with MLflow's project tags
    and parameters, the command line, the run's environment), with the one difference the lab
    needs: the command runs in a process group of its own, so the lab knows its exit code and can
    stop it and everything it started (tune workers) when asked, marking its run KILLED. A
    ``python -m jobs...`` command of this checkout runs in a fork of this process
    (:mod:`lab.tracking.forked`): the same run, tags, parameters and artifacts, without a second
    interpreter importing pandas and MLflow again (1.5 to 3 s of a warm stage). The
    command ends with this process: SIGTERM or SIGHUP here stop it (then :class:`Stopped` is
    raised), and should this process die without a word (SIGKILL) the command gets SIGTERM from
    the kernel (``PR_SET_PDEATHSIG``) and from its own watch of ``LAB_PARENT_PROCESS``
    (:func:`jobs.common.job_main`).

    Parameters
    ----------
    entry_point : str
        A name under ``entry_points`` of the project's ``MLproject``.
    parameters : mapping
        ``-P`` values; ``None`` values are left out (the entry point's default applies).
    project_uri : str or Path, optional
        The project folder; default the checkout this package lives in.
    experiment_name : str, optional
        Created when missing; default ``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID`` / Default.
    tags, run_name : optional
        Set on the run before the command starts.
    stop : threading.Event, optional
        When set while the command runs: SIGTERM to its process group, SIGKILL after ``grace_s``
        seconds, the run marked KILLED. Ctrl-C of this process does the same, then re-raises.

    Returns
    -------
    EntryPointRun
        Never raises for a command that ran and failed: see ``status`` and ``exit_code``
        (:meth:`EntryPointRun.raise_for_status` raises).

    Raises
    ------
    LabError
        The project or entry point does not exist, or a parameter is missing or of the wrong type.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.exceptions import MlflowException  # heavy: mlflow, 1.4 s to import
    from mlflow.projects import utils as project_utils  # heavy: mlflow, 1.4 s to import


    configure()
    uri = str(project_uri or code_root())
    # An empty value would be logged as ''; leave it out so the entry point's "-" (not given) applies.
    params = {key: str(value) for key, value in parameters.items() if value not in (None, "")}
    client = mlflow.MlflowClient()
    try:
        experiment_id = resolve_experiment_id(experiment_name)
        work_dir = project_utils.fetch_and_validate_project(uri, None, entry_point, params)
        project = project_utils.load_project(work_dir)
        command = " ".join(project_utils.get_entry_point_command(project, entry_point, params, None))
        run = project_utils.get_or_create_run(None, uri, experiment_id, work_dir, None, entry_point, params)
    except MlflowException as exc:  # ExecutionException: no such entry point, a missing parameter...
        raise LabError(f"cannot run entry point {entry_point!r} of {uri}: {exc.message}") from None
    run_id = run.info.run_id
    from mlflow.entities import RunTag  # heavy: mlflow, 1.4 s to import

    # The tags `mlflow run --env-manager local` sets (it sets no mlflow.project.env for the local manager).
    run_tags = {"mlflow.project.backend": "local", **(tags or {}),
                **({"mlflow.runName": run_name} if run_name else {})}
    client.log_batch(run_id, tags=[RunTag(key, str(value)) for key, value in run_tags.items()])
    env = {**os.environ, **project_utils.get_run_env_vars(run_id, experiment_id),
           CALLER_DIR_ENV: os.getcwd(),  # the command runs in the project folder: where the caller stands
           PARENT_ENV: json.dumps(this_process())}  # the job watches this process and ends with it
    # The same command, without a second interpreter when this process already holds what it imports.
    parsed = parse_python_command(command, work_dir, env)
    if parsed is not None and _store_connections_closable() and forkable_here(parsed, env):
        process = fork_command(parsed, env, before_fork=_close_store_connections, in_child=die_with_parent,
                               at_exit=end_active_run, text=command)
    elif parsed is not None and (served := _served(parsed, env, command)) is not None:  # a warm interpreter forks it
        process = served
    else:
        process = subprocess.Popen(["bash", "-c", command], cwd=work_dir, env=env, start_new_session=True,
                                   preexec_fn=die_with_parent)
    with contextlib.suppress(Exception):  # until the job records itself: `lab status` can tell a dead one
        client.set_tag(run_id, tag.PROCESS, json.dumps(process_record(process.pid)))
    stopped = False
    try:
        with _signals_stop(entry_point, run_id):
            while True:
                try:
                    code = process.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if stop is not None and stop.is_set():
                        code, stopped = _stop_group(process, grace_s), True
                        break
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP (_signals_stop): never leave the command behind
        _stop_group(process, grace_s)
        _end_run(client, run_id, "KILLED")
        raise
    with contextlib.suppress(ProcessLookupError):  # what it left behind (workers of a SIGKILLed tune)
        os.killpg(process.pid, signal.SIGKILL)
    # A command killed by a signal (code < 0) was stopped, not failed on its own.
    status = "KILLED" if stopped or code < 0 else "FINISHED" if code == 0 else "FAILED"
    status = _end_run(client, run_id, status)
    return EntryPointRun(entry_point, run_id, status, code if code >= 0 else 128 - code)


def _served(command: PythonCommand, env: Mapping[str, str], text: str) -> ServedProcess | None:
    """The command run by the fork server ``LAB_FORK_SERVER`` names, or the background one
    (:mod:`lab.forkserver`), when there is one and it is the interpreter the command would start; else None."""
    server = from_environment(env)
    return server.run(command, env, text=text) if server is not None else None


#: The environment variable naming the process (host, pid, start) an entry point ends with.
PARENT_ENV = "LAB_PARENT_PROCESS"


class Stopped(SystemExit):
    """SIGTERM or SIGHUP reached the process running an entry point: the command was stopped and
    its run marked KILLED; exits with 128 + the signal's number."""


@contextlib.contextmanager
def _signals_stop(entry_point: str, run_id: str):
    """In the main thread: SIGTERM and SIGHUP raise :class:`Stopped` (the caller stops the command)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        signal.signal(signum, signal.SIG_IGN)
        print(f"lab: stopped by {signal.Signals(signum).name}: stopping {entry_point} (run {run_id}) and marking it "
              "KILLED", file=sys.stderr)
        raise Stopped(128 + signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


#: MLflow's SQL stores whose pooled connections this process closes before a fork.
_SQL_STORES = ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store")


def _store_connections_closable() -> bool:
    """Whether every SQL store this process opened keeps its engines where :func:`_close_store_connections`
    finds them (MLflow's ``SqlAlchemyStore._engine_map``); otherwise no fork: the command gets a process."""
    return all(hasattr(getattr(sys.modules[name], "SqlAlchemyStore", None), "_engine_map")
               for name in _SQL_STORES if name in sys.modules)


def _close_store_connections() -> None:
    """Close this process's pooled database connections before a fork (they reopen on next use): two
    processes must not share one connection (SQLite's rule), so none is open across the fork."""
    for name in _SQL_STORES:
        if name in sys.modules:
            for engine in list(sys.modules[name].SqlAlchemyStore._engine_map.values()):
                engine.dispose()


def _stop_group(process: "subprocess.Popen | ForkedProcess | ServedProcess", grace_s: float) -> int:
    """SIGTERM to the command's process group, SIGKILL to what is left after ``grace_s``; its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # also workers that outlived the leader
    return process.wait()


def _end_run(client: Any, run_id: str, status: str) -> str:
    """Terminate the run with ``status`` unless the entry point did; the run's final status.

    KILLED overrides what a dying entry point wrote (it may have marked itself FAILED on SIGTERM).
    """
    current = client.get_run(run_id).info.status
    if current in ("RUNNING", "SCHEDULED") or (status == "KILLED" and current != "KILLED"):
        client.set_terminated(run_id, status)
        return status
    return current
