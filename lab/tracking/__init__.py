"""The one door to MLflow: every job logs and reads runs through this package.

``stage_run`` opens (or, under ``mlflow run``, attaches to) a run, tags it with the lab stage,
the code revision and the command line, logs the configuration flattened as parameters and raw
as an artifact, and records a failure before MLflow marks the run FAILED. The other helpers
batch their calls (one MLflow call per value costs ~3 ms; 81 runs that way took 44 s).

Modules: :mod:`~lab.tracking.core` (store, stage runs, logging, run queries),
:mod:`~lab.tracking.runs` (run handles), :mod:`~lab.tracking.model_registry`,
:mod:`~lab.tracking.models` (native flavors, the signal pyfunc), :mod:`~lab.tracking.entry_points`.
"""

from __future__ import annotations

from typing import Any

from lab.tracking.core import (
    EXPERIMENT_DESCRIPTION,
    STAGE_TAG,
    BackgroundLogger,
    code_revision,
    configure,
    count_runs,
    experiment_name,
    find_runs,
    get_run_data,
    log_artifact,
    log_dataset,
    log_figure,
    log_json,
    log_metrics,
    log_params,
    log_table,
    log_text,
    log_trial_run,
    mark_abandoned_runs,
    mark_run_killed,
    param_value,
    record_refusal,
    run_record,
    seconds_in_mlflow,
    set_tags,
    stage_run,
    store_key,
    table_csv,
)
from lab.tracking.entry_points import EntryPointFailed, EntryPointRun, resolve_experiment_id, run_entry_point
from lab.tracking.faults import StoreError, store_fault, store_faults
from lab.tracking.model_registry import (
    create_registered_model_if_absent,
    delete_version_tag,
    is_already_exists,
    is_busy,
    registered_model_or_none,
    set_registered_model_tag,
    set_version_tags,
    version_by_alias,
)
from lab.tracking.models import load_native_model, log_model, log_signal_model
from lab.tracking.runs import (
    active_run_id,
    child_run,
    client,
    create_experiment,
    create_terminated_run,
    download_artifact,
    get_run,
    lookup_run,
    run_experiment_id,
    set_tracking_uri,
    tracking_uri,
)

__all__ = [
    "EXPERIMENT_DESCRIPTION",
    "mark_run_killed",
    "configure",
    "StoreError",
    "store_fault",
    "store_faults",
    "stage_run",
    "log_params",
    "param_value",
    "log_metrics",
    "log_dataset",
    "log_table",
    "table_csv",
    "log_figure",
    "log_artifact",
    "log_json",
    "log_text",
    "code_revision",
    "log_trial_run",
    "store_key",
    "count_runs",
    "mark_abandoned_runs",
    "run_record",
    "get_run_data",
    "experiment_name",
    "record_refusal",
    "resolve_experiment_id",
    "run_entry_point",
    "EntryPointRun",
    "EntryPointFailed",
    "seconds_in_mlflow",
    "BackgroundLogger",
    "log_model",
    "log_signal_model",
    "load_native_model",
    "STAGE_TAG",
    "set_tags",
    "find_runs",
    "MlflowException",
    # lab.tracking.runs
    "client",
    "tracking_uri",
    "set_tracking_uri",
    "create_experiment",
    "get_run",
    "lookup_run",
    "active_run_id",
    "run_experiment_id",
    "download_artifact",
    "child_run",
    "create_terminated_run",
    # lab.tracking.model_registry
    "is_already_exists",
    "is_busy",
    "create_registered_model_if_absent",
    "registered_model_or_none",
    "version_by_alias",
    "set_version_tags",
    "set_registered_model_tag",
    "delete_version_tag",
]


def __getattr__(name: str) -> Any:
    """``tracking.MlflowException``: MLflow's error, for callers that catch it (imported on first use)."""
    if name == "MlflowException":
        from mlflow.exceptions import MlflowException  # heavy: mlflow, 1.4 s to import

        return MlflowException
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


