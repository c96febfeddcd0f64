"""The tracking core: the MLflow store, stage runs, batched logging and run queries.

Every job logs through these functions (re-exported by :mod:`lab.tracking`)."""


from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import pandas as pd

from lab import tags as tag
from lab.config import LabConfig
from lab.data.readers import iso8601
from lab.errors import LabError
from lab.processes import process_gone, this_process
from lab.tracking.faults import store_fault, store_faults

if TYPE_CHECKING:  # pragma: no cover - the registry's handle, named for annotations (`tracking.client()`)
    from mlflow import MlflowClient  # noqa: F401 (re-exported for annotations)


STAGE_TAG = tag.STAGE

_SECONDS = {"all": 0.0, "blocking": 0.0}
_SECONDS_LOCK = threading.Lock()


def _new_process_counts() -> None:
    """A forked child (a job run by :mod:`lab.tracking.forked`) counts its own time in MLflow from zero."""
    global _SECONDS_LOCK
    _SECONDS.update({"all": 0.0, "blocking": 0.0})
    _SECONDS_LOCK = threading.Lock()  # a lock held by another thread at the fork stays held in the copy


os.register_at_fork(after_in_child=_new_process_counts)


def seconds_in_mlflow(blocking: bool = False) -> float:
    """Wall seconds this process has spent inside this module's logging functions.

    ``blocking=True`` counts only the time the job waited for them: calls on the main thread and
    waits for the background logger to drain, not logging that overlapped training.
    """
    return _SECONDS["blocking" if blocking else "all"]


def _timed(function):
    """Count the time a logging function takes (benchmarks report MLflow's share of a job's wall time)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - began
            with _SECONDS_LOCK:
                _SECONDS["all"] += elapsed
                if threading.current_thread() is threading.main_thread():
                    _SECONDS["blocking"] += elapsed

    return wrapper


class BackgroundLogger:
    """Runs logging calls on one background thread, in order, so they overlap the work.

    ``submit(function, *args)`` queues a call; leaving the ``with`` block waits for the queue to
    drain (that wait counts as blocking MLflow time) and re-raises the first error of a call.
    """

    def __init__(self) -> None:
        self._queue: "queue.Queue[tuple | None]" = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="lab-mlflow-logger", daemon=True)

    def __enter__(self) -> "BackgroundLogger":
        self._thread.start()
        return self

    def submit(self, function, *args, **kwargs) -> None:
        self._queue.put((function, args, kwargs))

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            function, args, kwargs = item
            if self._error is None:
                try:
                    function(*args, **kwargs)
                except BaseException as exc:  # reported when the block exits
                    self._error = exc

    def __exit__(self, *exc_info) -> None:
        began = time.perf_counter()
        self._queue.put(None)
        self._thread.join()
        with _SECONDS_LOCK:
            _SECONDS["blocking"] += time.perf_counter() - began
        if self._error is not None and exc_info[0] is None:
            raise self._error


def configure() -> None:
    """Environment every lab run needs: telemetry off, this interpreter first on PATH. The tracking URI is MLflow's own default
    (``sqlite:///mlflow.db`` in the working directory) unless ``MLFLOW_TRACKING_URI`` says otherwise."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per small artifact read: noise
    # Entry points run `python -m jobs...`: make that the interpreter running the lab (its venv),
    # also when the venv was not activated.
    folder = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != folder:
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def code_revision(root: str | Path = ".") -> tuple[str, bool, str]:
    """``(commit, dirty, diff)`` of the git checkout at ``root``; ``("unknown", False, "")`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return "unknown", False, ""
        diff = subprocess.run(["git", "diff", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10).stdout
        return commit.stdout.strip(), bool(diff.strip()), diff
    except (OSError, subprocess.SubprocessError):
        return "unknown", False, ""


@contextlib.contextmanager
def stage_run(
    stage: str,
    config: LabConfig,
    *,
    target: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    run_name: str | None = None,
) -> Iterator[Any]:
    """Open the run of one lab stage (attaching to the run ``mlflow run`` created, if any).

    Parameters
    ----------
    stage : str
        ``featurize``, ``tune``, ``walk-forward``, ``backtest``, ``final-eval``; tagged ``lab.stage``.
    config : LabConfig
        Logged flattened as parameters (``data.path``, ``rules.stop_loss_ticks`` ...) and raw as
        ``config/lab.toml``.
    target : str, optional
        Logged as the parameter ``target`` (featurize logs ``all``).
    params, tags : mapping, optional
        Extra parameters and tags.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import

    configure()
    revision, dirty, diff = code_revision()
    run_tags = {
        STAGE_TAG: stage,
        tag.CODE_REVISION: revision,
        tag.CODE_DIRTY: str(dirty).lower(),
        tag.COMMAND: " ".join(sys.argv),
        tag.CONFIG_SOURCE: config.source,
        tag.PROCESS: json.dumps(this_process()),  # a run whose process is gone is marked KILLED later
        **(tags or {}),
    }
    active = mlflow.active_run()
    run = active or mlflow.start_run(run_name=run_name or stage)
    try:
        mlflow.set_tags(run_tags)
        describe_experiment(run.info.experiment_id)
        all_params = dict(config.flat())
        if target is not None:
            all_params["target"] = target
        all_params.update({k: v for k, v in (params or {}).items()})
        log_params(all_params)
        source = Path(config.source)
        log_text(source.read_text() if source.is_file() else json.dumps(config.flat(), indent=2), "config/lab.toml")
        if dirty:
            log_text(diff, "code/uncommitted.diff")
        yield run
    except BaseException as exc:
        # A full or read-only disk, a damaged database: one sentence naming the file and the fix.
        fault = store_fault(exc) if isinstance(exc, Exception) else None
        reason = fault or exc
        with contextlib.suppress(Exception):
            exc.run_id = run.info.run_id  # type: ignore[attr-defined]  # the run it ended, for the job's last line
        with contextlib.suppress(Exception):
            mlflow.set_tag(tag.ERROR, f"{type(reason).__name__}: {reason}"[:5000])
        if active is None:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            if fault is None:
                mlflow.end_run(status=status)
            else:
                with contextlib.suppress(Exception):  # the store itself may be what failed
                    mlflow.end_run(status=status)
        if fault is not None and fault is not exc:
            raise fault from None
        raise
    else:
        if active is None:
            mlflow.end_run()


EXPERIMENT_DESCRIPTION = (
    "Runs of the MES 5-minute lab. Each run is one stage, tagged `lab.stage` (featurize, tune, "
    "walk-forward, backtest, final-eval, paper, schedule): filter with `tags.lab.stage = 'backtest'`. "
    "Tune trials are nested under their tune run and named by their parameters (`nl15-d4-lr0.05-md200`: "
    "num_leaves 15, max_depth 4, learning_rate 0.05, min_data_in_leaf 200); a trial's duration is its "
    "training time. Every run logs its configuration (`config/lab.toml`), its dataset digest (Datasets column) "
    "and its code revision. Promotion evidence for a tune run R: a walk-forward and a whole-window validation "
    "backtest tagged `lab.evidence_for = R`. The registered model's champion version describes its gates and "
    "verdict. A backtest's `report.html` opens with its verdict on the plan's criteria.\n\n"
    "Tags you will see:\n"
    "- `lab.stage`: the stage of the run; `lab.window`: which dates it covers (validation, paper ...).\n"
    "- `lab.code_revision`, `lab.code_dirty`: the git commit of the code, and `true` when it had "
    "uncommitted changes (their diff is the artifact `code/uncommitted.diff`).\n"
    "- `lab.command`, `lab.config_source`: the command line and the configuration file.\n"
    "- `lab.dataset_digest`, `lab.market`: the featurized dataset and the market of the data file.\n"
    "- `lab.ledger.market`, `lab.ledger.window`, `lab.ledger.trials_in_run`: the trial ledger. The run "
    "looked at that market's validation window and adds `trials_in_run` evaluations to it (1 a trial or "
    "backtest; 0 a tune parent, whose `lab.ledger.trials_nested` trials are its nested runs, each counted 1); "
    "the metric `trials_on_validation` is the ledger's total at the run's end, this run included (what the "
    "deflated Sharpe ratio deflates by: every tune, backtest and analysis of that window, not only this one).\n"
    "- `lab.study`, `lab.trial_number`, `lab.same_model_as`: the Optuna study and trial; a trial that grows "
    "the same trees as an earlier one copies its scores.\n"
    "- `lab.evidence_for`, `lab.strategy`, `lab.costs_off`: the tune run a run is evidence for, the "
    "strategy traded, and `true` when commission or slippage was zero.\n"
    "- `lab.verdict`, `lab.ticket`: a final evaluation's verdict and the one-time ticket it spent.\n"
    "- `lab.error`: why a run failed or refused."
)


def describe_experiment(experiment_id: str) -> None:
    """Give an experiment the lab's description (the UI's *Description*) unless it has one of its own (an
    older lab description is brought up to date), and mark it a model-training experiment, so the MLflow UI
    opens on its runs rather than on GenAI traces."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    client = mlflow.MlflowClient()
    experiment = client.get_experiment(experiment_id)
    present = experiment.tags or {}
    note = present.get("mlflow.note.content", "")
    if not note or (note.startswith(EXPERIMENT_DESCRIPTION[:40]) and note != EXPERIMENT_DESCRIPTION):
        client.set_experiment_tag(experiment_id, "mlflow.note.content", EXPERIMENT_DESCRIPTION)
    if not present.get("mlflow.experimentKind"):
        client.set_experiment_tag(experiment_id, "mlflow.experimentKind", "custom_model_development")


@_timed
def param_value(text: str) -> bool | int | float | str:
    """A logged parameter back in its type: MLflow stores ``True``, ``15``, ``0.05`` as strings."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def log_params(params: Mapping[str, Any], run_id: str | None = None) -> None:
    """Log parameters in batches, skipping those already logged with the same value.

    ``mlflow run`` logs the entry point's parameters itself; re-logging one with another value
    is an error MLflow refuses, so that case raises a clear :class:`LabError`.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.entities import Param  # heavy: mlflow, 1.4 s to import

    client = mlflow.MlflowClient()
    run_id = run_id or mlflow.active_run().info.run_id
    existing = client.get_run(run_id).data.params
    fresh = []
    for key, value in params.items():
        text = str(value)[:6000]
        if key in existing:
            if existing[key] != text:
                raise LabError(
                    f"parameter {key!r} is already logged as {existing[key]!r} in run {run_id}; "
                    f"this run cannot also record {text!r}. Pass the value through -P {key}=... instead."
                )
            continue
        fresh.append(Param(key, text))
    for start in range(0, len(fresh), 100):
        client.log_batch(run_id, params=fresh[start : start + 100])


@_timed
def log_metrics(metrics: Mapping[str, float], step: int | None = None, run_id: str | None = None) -> None:
    """Log many metrics in one call; non-finite values are skipped (MLflow cannot chart them)."""
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.entities import Metric  # heavy: mlflow, 1.4 s to import

    run_id = run_id or mlflow.active_run().info.run_id
    now = int(pd.Timestamp.now().timestamp() * 1000)
    batch = [
        Metric(key, float(value), now, step or 0)
        for key, value in metrics.items()
        if value is not None and math.isfinite(float(value))
    ]
    client = mlflow.MlflowClient()
    for start in range(0, len(batch), 1000):
        client.log_batch(run_id, metrics=batch[start : start + 1000])


@_timed
def log_dataset(table: pd.DataFrame, name: str, digest: str, source: str, context: str, targets: str | None = None) -> None:
    """Record a dataset input (name, our digest, source file) without copying its rows."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    schema_sample = table.head(0).reset_index()
    for column in schema_sample.columns:  # MLflow's schema inference cannot map tz-aware datetimes
        if isinstance(schema_sample[column].dtype, pd.DatetimeTZDtype):
            schema_sample[column] = schema_sample[column].dt.tz_localize(None)
    with warnings.catch_warnings():  # MLflow's source-kind and integer-schema hints: not actionable here
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(schema_sample, source=source, name=name, digest=digest, targets=targets)
        mlflow.log_input(dataset, context=context, tags={"rows": str(len(table))})


@_timed
def log_table(table: pd.DataFrame, artifact_file: str, index: bool = False) -> None:
    """A table as a CSV artifact (times in ISO 8601 with offset)."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    with store_faults(artifact_file):
        mlflow.log_text(table_csv(table, index=index), artifact_file)


def table_csv(table: pd.DataFrame, index: bool = False) -> str:
    """The CSV text :func:`log_table` logs for ``table`` (times in ISO 8601 with offset)."""
    table = table.copy()
    for column in table.columns:
        if isinstance(table[column].dtype, pd.DatetimeTZDtype):
            table[column] = iso8601(table[column])
    buffer = io.StringIO()
    table.to_csv(buffer, index=index)
    return buffer.getvalue()


@_timed
def log_figure(figure: Any, artifact_file: str) -> None:
    """A matplotlib figure as a PNG artifact; the figure is closed afterwards."""
    import matplotlib.pyplot as plt  # heavy: matplotlib, only to draw
    import mlflow  # heavy: mlflow, 1.4 s to import

    try:
        with store_faults(artifact_file):
            mlflow.log_figure(figure, artifact_file)
    finally:
        plt.close(figure)


@_timed
def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    """An existing file as an artifact."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    with store_faults(f"{artifact_path}/{Path(path).name}" if artifact_path else Path(path).name):
        mlflow.log_artifact(str(path), artifact_path)


@_timed
def log_json(obj: Any, artifact_file: str) -> None:
    import mlflow  # heavy: mlflow, 1.4 s to import

    with store_faults(artifact_file):
        mlflow.log_text(json.dumps(obj, indent=2, sort_keys=True, default=str), artifact_file)


@_timed
def log_text(text: str, artifact_file: str) -> None:
    import mlflow  # heavy: mlflow, 1.4 s to import

    with store_faults(artifact_file):
        mlflow.log_text(text, artifact_file)


@_timed
def log_trial_run(parent_run_id: str, number: int, params: Mapping[str, Any], metrics: Mapping[str, float],
                  study: str = "", tags: Mapping[str, str] | None = None, *, run_name: str = "",
                  started: Any = None, ended: Any = None) -> str:
    """One tuning trial as a nested run of ``parent_run_id``, in four calls (create, batch, end).

    ``study`` is tagged ``lab.study`` (a resumed study checks its trial runs are in this store);
    ``tags`` are added to the run (the trial ledger's). ``run_name`` names it in the UI (default
    ``trial-<number>``). The run is created after the trial: ``started`` and ``ended`` (datetimes,
    e.g. Optuna's ``datetime_start`` / ``datetime_complete``; naive ones are local time) make its
    start, end and duration the trial's own instead of the few milliseconds of logging.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.entities import Metric, Param  # heavy: mlflow, 1.4 s to import

    client = mlflow.MlflowClient()
    experiment_id, digest = _parent_facts(parent_run_id)
    run_tags = {"mlflow.parentRunId": parent_run_id, STAGE_TAG: "tune-trial", tag.TRIAL_NUMBER: str(number),
                tag.DATASET_DIGEST: digest, **(tags or {})}
    if study:
        run_tags[tag.STUDY] = study
    start_ms, end_ms = _epoch_ms(started), _epoch_ms(ended)
    run = client.create_run(experiment_id, start_time=start_ms, run_name=run_name or f"trial-{number}", tags=run_tags)
    now = end_ms if end_ms is not None else int(pd.Timestamp.now().timestamp() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None and math.isfinite(float(v))],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    client.set_terminated(run.info.run_id, end_time=end_ms)
    return run.info.run_id


def _epoch_ms(moment: Any) -> int | None:
    """Milliseconds since the epoch of a datetime (naive: local time, as Optuna records it), or None."""
    if moment is None:
        return None
    return int(moment.timestamp() * 1000)


def store_key() -> tuple[str, str]:
    """``(tracking URI, key)``: the key (16 hex) names this tracking store and changes when it is made anew.

    It hashes the URI (a relative sqlite path made absolute) with the creation time of the store's
    first experiment, so a deleted and re-created ``mlflow.db`` at the same path is another store.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.entities import ViewType  # heavy: mlflow, 1.4 s to import

    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
    client = mlflow.MlflowClient()
    try:
        born = client.get_experiment("0").creation_time
    except Exception:  # noqa: BLE001 - the default experiment was deleted for good, or never existed
        experiments = client.search_experiments(view_type=ViewType.ALL, max_results=1000)
        born = min((e.creation_time or 0 for e in experiments), default=0)
    return uri, hashlib.sha256(f"{uri}|{born}".encode()).hexdigest()[:16]


def count_runs(filter_string: str) -> int:
    """How many active (not deleted) runs of any experiment match ``filter_string`` (MLflow search syntax)."""
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.entities import ViewType  # heavy: mlflow, 1.4 s to import

    client = mlflow.MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    found, token = 0, None
    while True:
        page = client.search_runs(experiments, filter_string, max_results=1000, page_token=token)
        found += len(page)
        token = page.token
        if not token:
            return found


def run_record(run_id: str | None = None) -> None:
    """Tag the run (default: the active one) with the process running it: ``lab.process`` (host, pid, start)."""
    import mlflow  # heavy: mlflow, 1.4 s to import


    run_id = run_id or mlflow.active_run().info.run_id
    mlflow.MlflowClient().set_tag(run_id, tag.PROCESS, json.dumps(this_process()))


#: Pauses before asking the store again to mark a run KILLED (seconds).
KILL_MARK_RETRY_S = (0.2, 1.0)


def mark_run_killed(reason: str, run_id: str = "") -> str:
    """Mark the run this process works in (the active run, else ``run_id``, else ``MLFLOW_RUN_ID``)
    KILLED with ``reason`` unless it already ended; its id, or ``""`` without one. Never raises: a store
    that refuses (a write lock held past its timeout, say) is asked twice more, then one line on stderr
    says the run stays RUNNING and why."""
    import mlflow  # heavy: imported where a run is touched, as everywhere in this module

    run = mlflow.active_run()
    run_id = run.info.run_id if run else run_id or os.environ.get("MLFLOW_RUN_ID", "")
    if not run_id:
        return ""
    for pause in KILL_MARK_RETRY_S + (None,):
        try:
            client = mlflow.MlflowClient()
            current = client.get_run(run_id)
            if current.info.status in ("RUNNING", "SCHEDULED"):
                if tag.ERROR not in current.data.tags:
                    client.set_tag(run_id, tag.ERROR, reason[:5000])
                client.set_terminated(run_id, status="KILLED")
            break
        except Exception as exc:  # noqa: BLE001 - the process is ending; say it and go on
            if pause is None:
                print(f"lab: could not mark run {run_id} KILLED ({type(exc).__name__}: {exc}); it stays RUNNING "
                      "in the store", file=sys.stderr)
            else:
                time.sleep(pause)
    with contextlib.suppress(Exception):
        if run is not None:
            mlflow.end_run(status="KILLED")
    return run_id


def mark_abandoned_runs(filter_string: str, keep: str = "") -> list[str]:
    """Mark KILLED the RUNNING runs matching ``filter_string`` whose recorded process on this host is gone.

    Runs without a ``lab.process`` tag, or whose process runs on another host, are left alone.
    Returns the ids of the runs marked.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import


    client = mlflow.MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    marked = []
    for run in client.search_runs(experiments, f"{filter_string} and attributes.status = 'RUNNING'", max_results=1000):
        if run.info.run_id == keep:
            continue
        try:
            record = json.loads(run.data.tags.get(tag.PROCESS, ""))
        except ValueError:
            continue
        if isinstance(record, dict) and process_gone(record):
            client.set_tag(run.info.run_id, tag.ERROR, f"abandoned: its process {record.get('pid')} on "
                           f"{record.get('host')} is gone (killed or crashed); marked KILLED by a later run")
            client.set_terminated(run.info.run_id, status="KILLED")
            marked.append(run.info.run_id)
    return marked


def get_run_data(run_id: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """``(params, tags)`` of a run, or None when the store has no such run."""
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.exceptions import MlflowException  # heavy: mlflow, 1.4 s to import

    try:
        run = mlflow.MlflowClient().get_run(run_id)
    except MlflowException:
        return None
    return dict(run.data.params), dict(run.data.tags)


def experiment_name(run_id: str) -> str:
    """The name of the experiment holding ``run_id``."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    client = mlflow.MlflowClient()
    return client.get_experiment(client.get_run(run_id).info.experiment_id).name


@functools.lru_cache(maxsize=8)
def _parent_facts(parent_run_id: str) -> tuple[str, str]:
    """Experiment id and dataset digest of a parent run (read once, not once per trial)."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    parent = mlflow.MlflowClient().get_run(parent_run_id)
    return parent.info.experiment_id, parent.data.tags.get(tag.DATASET_DIGEST, "")


def record_refusal(exc: BaseException) -> None:
    """Tag the run ``mlflow run`` made (if any) with why the job refused before its work began.

    Errors inside :func:`stage_run` are tagged there; this covers refusals before it opened
    (a bad configuration, dates in the test window, no champion).
    """
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    import mlflow  # heavy: mlflow, 1.4 s to import

    with contextlib.suppress(Exception):
        client = mlflow.MlflowClient()
        if tag.ERROR not in client.get_run(run_id).data.tags:
            client.set_tag(run_id, tag.ERROR, f"{type(exc).__name__}: {exc}"[:5000])


@_timed
def set_tags(tags: Mapping[str, str], run_id: str | None = None) -> None:
    """Set tags on ``run_id`` (default: the active run, as ``mlflow.set_tags`` does) in one call."""
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.entities import RunTag  # heavy: mlflow, 1.4 s to import

    if run_id is None:
        mlflow.set_tags(dict(tags))
        return
    mlflow.MlflowClient().log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


@_timed
def find_runs(filter_string: str, include_deleted: bool = True) -> list[Any]:
    """Every run of every experiment of the store matching ``filter_string`` (MLflow search syntax).

    ``include_deleted`` also searches deleted runs and experiments: the trial ledger counts what
    was evaluated, and deleting a run does not undo having looked at its result.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.entities import ViewType  # heavy: mlflow, 1.4 s to import

    view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    client = mlflow.MlflowClient()
    experiment_ids = [e.experiment_id for e in client.search_experiments(view_type=view)]
    runs: list[Any] = []
    token = None
    while experiment_ids:
        page = client.search_runs(experiment_ids, filter_string, run_view_type=view, max_results=5000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs
