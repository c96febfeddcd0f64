"""Records the lab keeps as registered models: created atomically, read back by name or kind.

Seals and tickets are registered models of the tracking backend's model registry. Creating one
*is* the atomic step: the backend's primary key on the name lets exactly one creator win across
processes and machines (a sqlite file, PostgreSQL, or either behind ``mlflow server``); the
others get ``RESOURCE_ALREADY_EXISTS``. Tags hold the facts, the description says them in words
(the MLflow UI shows both under "Models"). Nothing here depends on the promotion gate.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from registry.errors import RegistryError
from lab import tags as tag

from lab import tracking

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["get_client", "current_user", "who", "now", "create_record", "get_record", "search_records", "set_tags",
           "is_already_exists"]

_BUSY_RETRIES = 4


def get_client(client: "MlflowClient | None" = None) -> "MlflowClient":
    """``client``, or a client on the current tracking URI (``MLFLOW_TRACKING_URI`` or ``mlflow.db``)."""
    return tracking.client(client)


def current_user() -> str:
    """The login name of the person running the lab (``unknown`` when it cannot be told)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return os.environ.get("USER", "unknown")


def who() -> str:
    """``user@host``."""
    return f"{current_user()}@{socket.gethostname()}"


def now() -> str:
    """UTC time, ISO 8601 with milliseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


is_already_exists = tracking.is_already_exists


def create_record(client: "MlflowClient", name: str, tags: Mapping[str, str], description: str) -> bool:
    """Create the registered model ``name``; ``False`` when it already exists (someone else made it).

    Retries a busy backend a few times. Raises :class:`RegistryError` on any other failure.
    """
    try:
        return tracking.create_registered_model_if_absent(name, tags=tags, description=description, client=client,
                                                          busy_retries=_BUSY_RETRIES)
    except tracking.MlflowException as exc:
        raise RegistryError(f"could not create {name} in {client.tracking_uri}: {exc.message}") from None


def get_record(client: "MlflowClient", name: str) -> Any | None:
    """The registered model ``name``, or ``None`` when there is none."""
    return tracking.registered_model_or_none(name, client)


def search_records(client: "MlflowClient", kind: str) -> Iterator[Any]:
    """Every registered model tagged ``lab.kind = kind``."""
    token = None
    while True:
        page = client.search_registered_models(filter_string=f"tags.`{tag.KIND}` = '{kind}'", max_results=1000,
                                               page_token=token)
        yield from page
        token = page.token
        if not token:
            break


def set_tags(client: "MlflowClient", name: str, tags: Mapping[str, str]) -> None:
    """Set several tags of a registered model (one call each: the registry has no batch call)."""
    for key, value in tags.items():
        client.set_registered_model_tag(name, key, value)
