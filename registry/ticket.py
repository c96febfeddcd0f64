"""The one-time ticket: final-eval may look at a test window once per model, ever.

A ticket is a registered model named ``lab-ticket-<model>-<start>_<end>`` in the tracking
backend's model registry. Taking it *is* creating that object, with its tags in the same
transaction: the backend's primary key on the name makes exactly one creator win, across
processes and machines sharing the backend (a sqlite file, PostgreSQL directly, or either behind
``mlflow server``), and the ticket outlives every process. The losers get the backend's
``RESOURCE_ALREADY_EXISTS`` and are told who took the window and which run holds the result.

    ticket = take_ticket("mes-scalper", config.windows.test, run_id=run.info.run_id)
    ...evaluate on the test window...
    record_result(ticket, run.info.run_id, verdict="pass")

A crashed final-eval leaves its ticket "in progress": the window counts as spent, because the
test data may already have been seen. Changing ``[windows] test`` opens a new ticket, which lists
the windows already spent for the model in its tag ``lab.ticket.previous_windows``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.config import DateRange
from registry.errors import TicketError, TicketSpentError
from registry.evidence import get_client
from registry.promote import TICKET_PREFIX, current_user

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

__all__ = ["Ticket", "ticket_name", "take_ticket", "get_ticket", "list_tickets", "attach_run", "record_result",
           "TICKET_KIND"]

TICKET_KIND = "test-window-ticket"
_WINDOW = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_BUSY_RETRIES = 4


@dataclass(frozen=True)
class Ticket:
    """A taken ticket, as the backend holds it.

    Parameters
    ----------
    name : str
        The registered model that is the ticket (``lab-ticket-...``).
    model_name, window : str
        What it is for: ``[promotion] model_name`` and ``[windows] test`` (``start..end``).
    taken_by, taken_at : str
        ``user@host`` and the UTC time (ISO 8601) it was taken.
    run_id : str or None
        The final-eval run (known at taking time under ``mlflow run``, else after :func:`attach_run`).
    model_version : str or None
        The registered version evaluated, when given.
    verdict, finished_at : str or None
        Set by :func:`record_result`; ``None`` while in progress (or after a crash).
    previous_windows : list of dict
        Windows of this model spent before this ticket was taken.
    claim : str
        A random token naming the taker (tells a retried creation from a lost race).
    """

    name: str
    model_name: str
    window: str
    taken_by: str
    taken_at: str
    run_id: str | None = None
    model_version: str | None = None
    verdict: str | None = None
    finished_at: str | None = None
    previous_windows: list[dict[str, Any]] = field(default_factory=list)
    claim: str = ""

    @property
    def in_progress(self) -> bool:
        """True until a result is recorded (also after a final-eval that crashed)."""
        return self.verdict is None

    def describe(self) -> str:
        """One line for people: who spent the window, with which run, and the verdict."""
        run = f"run {self.run_id}" if self.run_id else "no run recorded yet"
        if self.in_progress:
            return (f"in progress since {self.taken_at} ({run}, taken by {self.taken_by}; "
                    "a final-eval that crashed stays in progress: the window still counts as spent)")
        return f"final-eval {run} gave the verdict {self.verdict} at {self.finished_at} (taken by {self.taken_by})"


def normalize_window(window: DateRange | str) -> str:
    """``start..end`` with ISO dates; raises :class:`TicketError` on anything else."""
    text = str(window).strip()
    match = _WINDOW.match(text)
    if not match:
        raise TicketError(f"test window {text!r} must read YYYY-MM-DD..YYYY-MM-DD (e.g. 2024-01-01..2025-12-31); "
                          "pass config.windows.test")
    start, end = (dt.date.fromisoformat(part) for part in match.groups())
    if end < start:
        raise TicketError(f"test window {text!r} ends before it starts; fix [windows] test in lab.toml")
    return text


def ticket_name(model_name: str, window: DateRange | str) -> str:
    """The registered-model name of the ticket for ``model_name`` on ``window``."""
    if not model_name or not model_name.strip() or any(c in model_name for c in "/:"):
        raise TicketError(f"model name {model_name!r} must be non-empty without '/' or ':'; check [promotion] model_name")
    start, _, end = normalize_window(window).partition("..")
    return f"{TICKET_PREFIX}{model_name.strip()}-{start}_{end}"


def take_ticket(
    model_name: str,
    window: DateRange | str,
    *,
    run_id: str | None = None,
    model_version: str | None = None,
    client: "MlflowClient | None" = None,
) -> Ticket:
    """Take the one-time ticket of ``window`` for ``model_name``: exactly one caller ever succeeds.

    Parameters
    ----------
    model_name : str
        ``[promotion] model_name``.
    window : DateRange or str
        ``config.windows.test`` (or ``"2024-01-01..2025-12-31"``).
    run_id : str, optional
        The final-eval run, when it already exists (under ``mlflow run`` it does).
    model_version : str, optional
        The registered version being evaluated.
    client : MlflowClient, optional
        Default: the current tracking URI. All takers must share one backend.

    Raises
    ------
    TicketSpentError
        The ticket exists: another final-eval took the window (``.ticket`` says who and which run).
    TicketError
        Bad model name or window, or the backend stayed busy through every retry.
    """
    from mlflow.exceptions import MlflowException

    client = get_client(client)
    name = ticket_name(model_name, window)
    window = normalize_window(window)
    claim = uuid.uuid4().hex
    earlier = [t for t in list_tickets(model_name, client) if t.window != window]
    tags = {
        "lab.kind": TICKET_KIND,
        "lab.ticket.model_name": model_name,
        "lab.ticket.window": window,
        "lab.ticket.taken_by": f"{current_user()}@{socket.gethostname()}",
        "lab.ticket.taken_at": _now(),
        "lab.ticket.pid": str(os.getpid()),
        "lab.ticket.claim": claim,
    }
    if run_id:
        tags["lab.ticket.run_id"] = run_id
    if model_version:
        tags["lab.ticket.model_version"] = str(model_version)
    if earlier:
        tags["lab.ticket.previous_windows"] = json.dumps(
            [{"window": t.window, "run_id": t.run_id, "verdict": t.verdict, "taken_at": t.taken_at} for t in earlier])
    seen = [t.window for t in earlier if _overlap(t.window, window)]
    if seen:
        tags["lab.ticket.overlaps_spent"] = json.dumps(seen)
    description = (f"One-time ticket: final-eval of model {model_name!r} on the test window {window}. "
                   "Deleting it re-opens a window whose data has been looked at: don't.")
    for attempt in range(_BUSY_RETRIES + 1):
        try:
            created = client.create_registered_model(name, tags=tags, description=description)
            if seen:
                warnings.warn(f"test window {window} overlaps window(s) {', '.join(seen)} already evaluated for "
                              f"{model_name!r}: part of it has been looked at, so this verdict is not on unseen data "
                              "(recorded as lab.ticket.overlaps_spent)", stacklevel=2)
            return _ticket(created)
        except MlflowException as exc:
            if _is_already_exists(exc):
                break
            if exc.error_code == "TEMPORARILY_UNAVAILABLE" and attempt < _BUSY_RETRIES:
                time.sleep(0.2 * 2**attempt)
                continue
            raise TicketError(f"could not take the ticket {name} in {client.tracking_uri}: {exc.message}") from None
    existing = get_ticket(model_name, window, client)
    if existing is None:  # pragma: no cover - the winner's row is committed before we see the conflict
        raise TicketError(f"ticket {name} exists but cannot be read back; retry, then check `lab status`")
    if existing.claim == claim:  # our own creation, whose reply was lost and retried
        return existing
    raise TicketSpentError(
        f"the test window {window} of model {model_name!r} was already taken: {existing.describe()}. The test set "
        "is looked at once; see that result with `lab status` or in `mlflow ui`. To evaluate again, set a new, "
        "unseen [windows] test in lab.toml (that opens a new ticket).",
        existing,
    )


def get_ticket(model_name: str, window: DateRange | str, client: "MlflowClient | None" = None) -> Ticket | None:
    """The ticket of ``window`` for ``model_name``, or ``None`` while the window is unspent."""
    from mlflow.exceptions import MlflowException

    client = get_client(client)
    try:
        return _ticket(client.get_registered_model(ticket_name(model_name, window)))
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def list_tickets(model_name: str | None = None, client: "MlflowClient | None" = None) -> list[Ticket]:
    """Every ticket (of ``model_name``, when given), oldest first."""
    client = get_client(client)
    found, token = [], None
    while True:
        page = client.search_registered_models(filter_string=f"tags.`lab.kind` = '{TICKET_KIND}'",
                                               max_results=1000, page_token=token)
        found.extend(_ticket(model) for model in page)
        token = page.token
        if not token:
            break
    tickets = [t for t in found if model_name is None or t.model_name == model_name]
    return sorted(tickets, key=lambda t: t.taken_at)


def attach_run(ticket: Ticket, run_id: str, client: "MlflowClient | None" = None) -> Ticket:
    """Record the final-eval run on a ticket taken before the run existed.

    Raises
    ------
    TicketError
        The ticket already names another run.
    """
    client = get_client(client)
    current = _reload(ticket, client)
    if current.run_id and current.run_id != run_id:
        raise TicketError(f"ticket {ticket.name} already belongs to run {current.run_id}, not {run_id}")
    client.set_registered_model_tag(ticket.name, "lab.ticket.run_id", run_id)
    return _reload(ticket, client)


def record_result(ticket: Ticket, run_id: str, verdict: str, client: "MlflowClient | None" = None) -> Ticket:
    """Store the final-eval's run id and verdict on its ticket.

    Parameters
    ----------
    ticket : Ticket
        What :func:`take_ticket` returned.
    run_id : str
        The final-eval run.
    verdict : str
        e.g. ``pass`` / ``fail`` against the plan's criteria.

    Raises
    ------
    TicketError
        Empty verdict, the ticket belongs to another run, or it already holds a result.
    """
    if not verdict or not verdict.strip():
        raise TicketError("verdict must be a non-empty word such as 'pass' or 'fail'")
    client = get_client(client)
    current = _reload(ticket, client)
    if current.run_id and current.run_id != run_id:
        raise TicketError(f"ticket {ticket.name} belongs to run {current.run_id}; run {run_id} cannot record its result")
    if current.verdict is not None:
        raise TicketError(f"ticket {ticket.name} already holds the verdict {current.verdict!r} of run {current.run_id}")
    for key, value in (("lab.ticket.run_id", run_id), ("lab.ticket.verdict", verdict.strip()),
                       ("lab.ticket.finished_at", _now())):
        client.set_registered_model_tag(ticket.name, key, value)
    return _reload(ticket, client)


def _reload(ticket: Ticket, client: "MlflowClient") -> Ticket:
    current = get_ticket(ticket.model_name, ticket.window, client)
    if current is None:
        raise TicketError(f"ticket {ticket.name} no longer exists in {client.tracking_uri}; it was deleted by hand")
    return current


def _ticket(model: Any) -> Ticket:
    tags = dict(model.tags)
    previous = json.loads(tags.get("lab.ticket.previous_windows", "[]") or "[]")
    return Ticket(
        name=model.name,
        model_name=tags.get("lab.ticket.model_name", ""),
        window=tags.get("lab.ticket.window", ""),
        taken_by=tags.get("lab.ticket.taken_by", ""),
        taken_at=tags.get("lab.ticket.taken_at", ""),
        run_id=tags.get("lab.ticket.run_id") or None,
        model_version=tags.get("lab.ticket.model_version") or None,
        verdict=tags.get("lab.ticket.verdict") or None,
        finished_at=tags.get("lab.ticket.finished_at") or None,
        previous_windows=previous,
        claim=tags.get("lab.ticket.claim", ""),
    )


def _overlap(first: str, second: str) -> bool:
    a_start, _, a_end = first.partition("..")
    b_start, _, b_end = second.partition("..")
    return a_start <= b_end and b_start <= a_end  # ISO dates compare as text


def _is_already_exists(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
