"""What every entry point shares: its command-line options and loading the configuration."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import multiprocessing
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from jobs.context import JobContext, open_dataset
from lab import tags as tag
from lab import tracking
from lab.config import TARGET_NAMES, LabConfig, load_config
from lab.config.locate import caller_dir, config_origin, locate_config
from lab.errors import LabError
from lab.models.boosters import predict_proba
from lab.processes import process_gone
from lab.tracking import param_value
from lab.tracking.entry_points import PARENT_ENV  # the `lab` process (host, pid, start) the job ends with
from lab.tracking.faults import store_fault

__all__ = ["base_parser", "config_from_args", "refuse", "job_main"]


#: What MLproject passes for a parameter left unset. MLflow logs an entry point's parameters as it
#: quotes them for the shell, so an empty default would show as ``''`` on every run; ``-`` reads as
#: "not given" in the UI and is turned back into "" here, before any option is parsed.
UNSET = "-"


class _EntryPointParser(argparse.ArgumentParser):
    """An ArgumentParser that reads an option value of ``-`` (:data:`UNSET`) as not given ("")."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        given = list(sys.argv[1:] if args is None else args)
        return super().parse_args(["" if value == UNSET else value for value in given], namespace)


def base_parser(description: str) -> argparse.ArgumentParser:
    """``--config`` and ``--data``, the options every entry point takes (``-`` for a value means unset)."""
    parser = _EntryPointParser(description=description)
    parser.add_argument("--config", default="", help="lab configuration file (default: the configuration of the run "
                        "this stage builds on, else lab.toml)")
    parser.add_argument("--data", default="", help="minute file; overrides [data] path (empty: use the configuration)")
    return parser


def config_from_args(args: argparse.Namespace, **overrides: Any) -> LabConfig:
    """Load ``--config`` (where the user stands: :func:`lab.config.locate.locate_config`) and apply
    ``--data`` plus any non-empty ``section.key`` overrides; say which file was read, first."""
    changes = {key: value for key, value in overrides.items() if value not in (None, "")}
    if getattr(args, "data", ""):
        changes["data.path"] = data_argument(args.data)
    path = locate_config(args.config)
    print(config_origin(path), file=sys.stderr, flush=True)
    return load_config(path, changes)


def data_argument(given: str) -> str:
    """``--data``: a path relative to where the user stands made absolute (a bare name not found there
    is kept, for the lookup in ``data/raw/``)."""
    path = Path(os.path.expanduser(given))
    if path.is_absolute():
        return str(path)
    where = caller_dir() / path
    return str(where) if where.exists() else given


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--target`` and ``--model``, the options of every modelling entry point."""
    parser.add_argument("--target", default="target_6bar", choices=list(TARGET_NAMES), help="what the model predicts")
    parser.add_argument("--model", default="", choices=["", "lightgbm", "xgboost"], help="overrides [model] engine")


def model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"model.engine": args.model}


def prepare(job: JobContext):
    """The featurized dataset of the job's data (from the cache when possible), recorded as its run's inputs."""
    dataset = open_dataset(job)
    tracking.set_tags({tag.DATASET_DIGEST: dataset.digest}, job.run_id)
    tracking.log_params({"dataset_digest": dataset.digest}, job.run_id)
    for name, table in dataset.tables.items():
        tracking.log_dataset(table, name=f"{name}-{dataset.digest}", digest=dataset.digest, source=dataset.source, context=name)
    return dataset


def labelled(table, features: list[str], target: str):
    """Feature frame and 0/1 labels of the rows where ``target`` is labelled."""
    rows = table[target].notna().to_numpy()
    return table.loc[rows, features], table.loc[rows, target].to_numpy(dtype=np.float64)



def tune_run_params(run_id: str, target: str) -> tuple[dict[str, Any], str, dict[str, str]]:
    """Best parameters and engine of a tune run, and the tag naming it as the evidence's subject.

    Raises
    ------
    LabError
        The run does not exist, is not a finished tune run, or was tuned for another target.
    """
    run = tracking.lookup_run(run_id)
    if run is None:
        raise LabError(f"run {run_id!r} does not exist in {tracking.tracking_uri()}; pass a tune run id "
                       "(see `mlflow ui` or the line tune printed)")
    if run.data.tags.get(tag.STAGE) != "tune" or run.info.status != "FINISHED":
        raise LabError(f"run {run_id} is a {run.data.tags.get(tag.STAGE, 'non-lab')} run ({run.info.status}), "
                       "not a finished tune run")
    tuned_for = run.data.params.get("target")
    if tuned_for != target:
        raise LabError(f"run {run_id} was tuned for {tuned_for}, not {target}; pass -P target={tuned_for}")

    params = {key[len("best."):]: param_value(value) for key, value in run.data.params.items() if key.startswith("best.")}
    return params, run.data.params.get("model.engine", ""), {tag.EVIDENCE_FOR: run_id}


@dataclasses.dataclass(frozen=True)
class RunModel:
    """A model logged by a tune run, loaded with its native flavor, and what it predicts."""

    run_id: str
    target: str
    engine: str
    model_uri: str
    features: tuple[str, ...]
    booster: Any

    def predict(self, frame) -> Any:
        """P(label 1) per row of ``frame`` (columns in the model's feature order)."""
        return predict_proba(self.booster, frame[list(self.features)])


def load_run_model(run_id: str, model_uri: str | None = None) -> RunModel:
    """Load the model a tune run logged (or ``model_uri``, e.g. ``models:/mes-scalper@champion``).

    Raises
    ------
    LabError
        The run does not exist or holds no model.
    """
    run = tracking.lookup_run(run_id)
    if run is None:
        raise LabError(f"run {run_id!r} does not exist in {tracking.tracking_uri()}")
    uri = model_uri or run.data.tags.get(tag.MODEL_URI)
    if not uri:
        raise LabError(f"run {run_id} ({run.data.tags.get(tag.STAGE, 'not a lab run')}) logged no model; "
                       "pass the id of a finished tune run")
    engine = run.data.params.get("model.engine", "lightgbm")
    booster = tracking.load_native_model(uri, engine)
    features = tuple(run.data.tags.get(tag.FEATURES, "").split(","))
    return RunModel(run_id, run.data.params.get("target", ""), engine, uri, features, booster)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the job, or the ``lab`` process that started it died.

    A KeyboardInterrupt, so :func:`lab.tracking.stage_run` marks the run KILLED and a tune trial
    in progress has its grid point re-queued (:func:`lab.study.tuning.run_study`).
    """

    def __init__(self, why: str, signum: int) -> None:
        super().__init__(why)
        self.why, self.signum = why, signum


#: Seconds between two looks at the parent process (the ``lab`` command that started the job).
PARENT_POLL_S = 0.5


def _stop_on_signal(signum: int, frame: Any) -> None:
    signal.signal(signum, signal.SIG_IGN)  # one stop: the second SIGTERM of the runner changes nothing
    for child in multiprocessing.active_children():  # tune's worker processes stop with their job
        child.terminate()
    raise Terminated(f"stopped by {signal.Signals(signum).name}", signum)


def _watch_parent(record: dict, stopped: threading.Event) -> None:
    """SIGTERM to this process when the recorded parent process is gone (killed with SIGKILL, say)."""
    while not stopped.wait(PARENT_POLL_S):
        if process_gone(record):
            os.kill(os.getpid(), signal.SIGTERM)
            return


def _terminable():
    """While the job runs: SIGTERM and SIGHUP raise :class:`Terminated`; when started by
    :func:`lab.tracking.run_entry_point` (``LAB_PARENT_PROCESS``), the death of that process too."""
    @contextlib.contextmanager
    def scope():
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield
            return
        previous = {signum: signal.signal(signum, _stop_on_signal) for signum in (signal.SIGTERM, signal.SIGHUP)}
        stopped = threading.Event()
        try:
            record = json.loads(os.environ.get(PARENT_ENV, "") or "null")
        except ValueError:
            record = None
        if isinstance(record, dict):
            threading.Thread(target=_watch_parent, args=(record, stopped), name="lab-parent-watch", daemon=True).start()
        try:
            yield
        finally:
            stopped.set()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    return scope()


def job_main(stage: str):
    """Decorate an entry point's ``main`` (the process's life, not the job's logic):

    * SIGTERM, SIGHUP and the death of the ``lab`` process that started it stop the job: its
      worker processes end, its run is marked KILLED, a tune trial's point is re-queued; one
      line says so and the exit code is 128 + the signal's number;
    * a store fault anywhere (a full or read-only disk, a damaged ``mlflow.db``; before or inside
      its run) ends as one line naming the file and the fix, exit 2; inside
      :func:`lab.tracking.stage_run` the run is already marked FAILED with the reason.
    """
    def decorate(main):
        @functools.wraps(main)
        def guarded(argv: list[str] | None = None) -> int:
            given = os.environ.get("MLFLOW_RUN_ID", "")  # the run `mlflow run` / the lab's runner made
            try:
                with _terminable():
                    return main(argv)
            except Terminated as exc:
                run_id = tracking.mark_run_killed(f"Terminated: {exc.why}", getattr(exc, "run_id", "") or given)
                print(f"{stage}: {exc.why}; run {run_id or '(none yet)'} marked KILLED", file=sys.stderr)
                return 128 + exc.signum
            except Exception as exc:
                fault = store_fault(exc)
                if fault is None:
                    raise
                return refuse(stage, fault, verb="refused" if stage in ("final-eval", "paper") else "error")

        return guarded

    return decorate


def refuse(stage: str, exc: BaseException, verb: str = "error") -> int:
    """How an entry point ends on a user error: the reason on its run, one line on stderr, exit 2."""
    tracking.record_refusal(exc)
    print(f"{stage}: {verb}: {exc}", file=sys.stderr)
    return 2
