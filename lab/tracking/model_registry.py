"""MLflow's model registry as the lab uses it: registered models created once, versions by alias, tags.

Re-exported by :mod:`lab.tracking`. The lab's records (seals, tickets, promotion locks) and its
promoted models are registered models; creating one is the atomic step the backend's primary key
decides, so :func:`create_registered_model_if_absent` tells "made it" from "someone else did".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from lab.tracking.runs import client as _client

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

__all__ = ["is_already_exists", "is_busy", "create_registered_model_if_absent", "registered_model_or_none",
           "version_by_alias", "set_version_tags", "delete_version_tag", "set_registered_model_tag"]

#: MLflow's error codes for "a registered model of this name exists" (REST and SQL stores differ).
ALREADY_EXISTS_CODES = ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS")


def is_already_exists(exc: BaseException) -> bool:
    """Whether ``exc`` is MLflow's refusal to create something that already exists."""
    return getattr(exc, "error_code", "") in ALREADY_EXISTS_CODES


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is a busy backend (a locked sqlite file): worth a retry."""
    return getattr(exc, "error_code", "") == "TEMPORARILY_UNAVAILABLE"


def create_registered_model_if_absent(name: str, *, tags: Mapping[str, str] | None = None, description: str = "",
                                      client: "MlflowClient | None" = None, busy_retries: int = 0) -> bool:
    """Create the registered model ``name``; ``False`` when it already exists (someone else made it).

    A busy backend is retried ``busy_retries`` times (0.2 s, 0.4 s, ... apart) before its error is raised.

    Raises
    ------
    MlflowException
        Any failure other than "already exists".
    """
    from mlflow.exceptions import MlflowException  # heavy: mlflow, 1.4 s to import

    handle = _client(client)
    for attempt in range(busy_retries + 1):
        try:
            handle.create_registered_model(name, tags=dict(tags or {}), description=description)
            return True
        except MlflowException as exc:
            if is_already_exists(exc):
                return False
            if is_busy(exc) and attempt < busy_retries:
                time.sleep(0.2 * 2**attempt)
                continue
            raise
    return False  # pragma: no cover


def registered_model_or_none(name: str, client: "MlflowClient | None" = None) -> Any | None:
    """The registered model ``name``, or ``None`` when there is none (other errors are raised)."""
    from mlflow.exceptions import MlflowException  # heavy: mlflow, 1.4 s to import

    try:
        return _client(client).get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def version_by_alias(name: str, alias: str, client: "MlflowClient | None" = None) -> Any | None:
    """The version of registered model ``name`` behind ``alias`` (``champion`` ...), or ``None``."""
    from mlflow.exceptions import MlflowException  # heavy: mlflow, 1.4 s to import

    try:
        return _client(client).get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_version_tags(name: str, version: str, tags: Mapping[str, str], client: "MlflowClient | None" = None) -> None:
    """Set tags of one model version (one call each: the registry has no batch call)."""
    handle = _client(client)
    for key, value in tags.items():
        handle.set_model_version_tag(name, str(version), key, value)


def set_registered_model_tag(name: str, key: str, value: str, client: "MlflowClient | None" = None) -> None:
    """Set one tag of registered model ``name``."""
    _client(client).set_registered_model_tag(name, key, value)


def delete_version_tag(name: str, version: str, key: str, client: "MlflowClient | None" = None) -> None:
    """Remove one tag of a model version."""
    _client(client).delete_model_version_tag(name, str(version), key)
