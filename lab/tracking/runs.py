"""Reading and tagging runs, and the store handle: what jobs/ and registry/ ask of MLflow's runs.

Re-exported by :mod:`lab.tracking` (``tracking.lookup_run``, ``tracking.client`` ...). MLflow is imported on
first use, not with the package. Every function works on the current tracking URI (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from lab.tracking.core import configure

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

__all__ = ["client", "tracking_uri", "set_tracking_uri", "create_experiment", "get_run",
           "lookup_run", "active_run_id", "run_experiment_id", "download_artifact", "child_run",
           "create_terminated_run"]


def client(existing: "MlflowClient | None" = None) -> "MlflowClient":
    """``existing``, or a client on the current tracking URI (the registry's handle on the store)."""
    if existing is not None:
        return existing
    from mlflow import MlflowClient  # heavy: mlflow, 1.4 s to import

    configure()
    return MlflowClient()


def tracking_uri() -> str:
    """The tracking URI this process logs to."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    return mlflow.get_tracking_uri()


def set_tracking_uri(uri: str) -> None:
    """Log to ``uri`` from now on in this process (a tune worker, the demo's own store)."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    mlflow.set_tracking_uri(uri)


def create_experiment(name: str, artifact_location: str | None = None) -> str:
    """Create experiment ``name`` (artifacts under ``artifact_location``, a URI); its id."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    return mlflow.create_experiment(name, artifact_location=artifact_location)


def get_run(run_id: str) -> Any:
    """The run ``run_id`` (``info``, ``data.params``, ``data.tags``, ``data.metrics``).

    Raises
    ------
    MlflowException
        The store has no such run.
    """
    return client().get_run(run_id)


def lookup_run(run_id: str) -> Any | None:
    """The run ``run_id``, or ``None`` when the store has no such run."""
    from mlflow.exceptions import MlflowException  # heavy: mlflow, 1.4 s to import

    try:
        return get_run(run_id)
    except MlflowException:
        return None


def active_run_id() -> str:
    """The id of the active run (``""`` without one)."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    run = mlflow.active_run()
    return run.info.run_id if run else ""


def run_experiment_id(run_id: str) -> str:
    """The id of the experiment holding ``run_id``."""
    return client().get_run(run_id).info.experiment_id


def download_artifact(run_id: str, artifact_path: str, dst_path: str) -> str:
    """Download one artifact of a run into the folder ``dst_path``; the local path.

    Raises
    ------
    MlflowException or OSError
        No such run or artifact.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import

    return mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=dst_path)


@contextlib.contextmanager
def child_run(experiment_id: str, run_name: str, tags: Mapping[str, str]) -> Iterator[Any]:
    """Open a run in ``experiment_id`` for the ``with`` block, nested under the active run if there is one."""
    import mlflow  # heavy: mlflow, 1.4 s to import

    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, nested=mlflow.active_run() is not None,
                          tags=dict(tags)) as run:
        yield run


def create_terminated_run(experiment_id: str, tags: Mapping[str, str], run_name: str, status: str = "FAILED") -> str:
    """A run that is already over (``status``): records an event that had no run of its own; its id."""
    handle = client()
    run = handle.create_run(experiment_id, tags=dict(tags), run_name=run_name)
    handle.set_terminated(run.info.run_id, status)
    return run.info.run_id
