"""The one-time ticket: final-eval may look at a sealed test range of a market once, ever.

A ticket is a registered model named ``lab-ticket-<market>-<start>_<end>`` (see
:mod:`registry.records`): keyed on the *market* (:func:`lab.market.identity.market_id`) and the dates,
not on the model, so renaming ``[promotion] model_name`` gives no second look. Taking it *is*
creating that object with its tags in one transaction: exactly one creator wins, across processes
and machines sharing the backend (sqlite, PostgreSQL, either behind ``mlflow server``).

The ticket records its stage as final-eval goes (``taken`` -> ``data-read`` -> ``predicted`` ->
``verdict``) and a heartbeat (pid, host, UTC time, renewed every :data:`HEARTBEAT_S` seconds
while final-eval runs), so ``lab status`` tells a dead final-eval from a live one.

    ticket = take_ticket("ES", config.windows.test, model_name="mes-scalper", run_id=run_id)
    with heartbeat(ticket):
        set_stage(ticket, DATA_READ); ...; set_stage(ticket, PREDICTED); ...
        record_result(ticket, run_id, verdict="PASS-minimum")

A final-eval that died before any prediction (stage ``taken`` or ``data-read``) can be freed by
:func:`release_ticket` (``lab ticket release --reason "..."``): the ticket is renamed to
``lab-released-ticket-...`` with the reason, who and when, stays on record and in ``lab status``,
and the window is open again. After predictions it is never released: the test set was seen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from lab import tags as tag
from lab.config import DateRange
from registry.errors import RegistryError, TicketError, TicketSpentError
from registry.records import create_record, get_client, get_record, now, search_records, set_tags, who
from registry.seals import check_market, mark_seal_state, parse_window

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["Ticket", "ticket_name", "take_ticket", "get_ticket", "list_tickets", "list_released", "attach_run",
           "set_stage", "beat", "heartbeat", "record_result", "release_ticket", "liveness", "normalize_window",
           "TICKET_KIND", "RELEASED_KIND", "TICKET_PREFIX", "TAKEN", "DATA_READ", "PREDICTED", "VERDICT", "STAGES",
           "HEARTBEAT_S", "STALE_S"]

TICKET_KIND = "test-window-ticket"
RELEASED_KIND = "test-window-ticket-released"
TICKET_PREFIX = "lab-ticket-"
RELEASED_PREFIX = "lab-released-ticket-"
TAKEN, DATA_READ, PREDICTED, VERDICT = "taken", "data-read", "predicted", "verdict"
STAGES = (TAKEN, DATA_READ, PREDICTED, VERDICT)
#: Seconds between heartbeats while final-eval runs, and the age after which a holder counts as dead.
HEARTBEAT_S = 10.0
STALE_S = 60.0


@dataclass(frozen=True)
class Ticket:
    """A ticket as the backend holds it.

    Parameters
    ----------
    name, market, window : str
        The registered model, the market key and the dates (``start..end``).
    model_name : str
        ``[promotion] model_name`` of the final-eval that took it (for people; not part of the key).
    taken_by, taken_at : str
        ``user@host`` and UTC time (ISO 8601).
    run_id, model_version : str or None
        The final-eval run and the registered version evaluated.
    stage : str
        ``taken``, ``data-read``, ``predicted`` or ``verdict``.
    pid, host, heartbeat_at : str
        The holder process and its last heartbeat (UTC, ISO 8601).
    verdict, finished_at : str or None
        Set by :func:`record_result`.
    released_at, released_by, release_reason : str or None
        Set on a released ticket (then ``name`` starts with ``lab-released-ticket-``).
    previous_windows : list of dict
        Windows of this market spent before this ticket was taken.
    claim : str
        A random token naming the taker (tells a retried creation from a lost race).
    """

    name: str
    market: str
    window: str
    model_name: str
    taken_by: str
    taken_at: str
    run_id: str | None = None
    model_version: str | None = None
    stage: str = TAKEN
    pid: str = ""
    host: str = ""
    heartbeat_at: str = ""
    verdict: str | None = None
    finished_at: str | None = None
    released_at: str | None = None
    released_by: str | None = None
    release_reason: str | None = None
    previous_windows: list[dict[str, Any]] = field(default_factory=list)
    claim: str = ""

    @property
    def in_progress(self) -> bool:
        """True until a result is recorded (also after a final-eval that died)."""
        return self.verdict is None and self.released_at is None

    @property
    def predicted(self) -> bool:
        """Whether the model has (or may have) made predictions on the test window."""
        return self.stage in (PREDICTED, VERDICT)

    def describe(self) -> str:
        """One line for people: who holds or spent the window, with which run, and the verdict."""
        run = f"run {self.run_id}" if self.run_id else "no run recorded yet"
        if self.released_at:
            return (f"released {self.released_at} by {self.released_by} at stage {self.stage} ({run}, model "
                    f"{self.model_name}): {self.release_reason}")
        if self.in_progress:
            return (f"in progress since {self.taken_at} ({run}, model {self.model_name}, taken by {self.taken_by}, "
                    f"stage {self.stage}, pid {self.pid or '?'} on {self.host or '?'}, last heartbeat "
                    f"{self.heartbeat_at or 'never'})")
        return (f"final-eval {run} (model {self.model_name}) gave the verdict {self.verdict} at {self.finished_at} "
                f"(taken by {self.taken_by})")


def normalize_window(window: DateRange | str) -> str:
    """``start..end`` with ISO dates; raises :class:`TicketError` on anything else."""
    try:
        return str(parse_window(window))
    except RegistryError as exc:
        raise TicketError(f"{exc}; pass config.windows.test") from None


def ticket_name(market: str, window: DateRange | str) -> str:
    """The registered-model name of the ticket for ``window`` on ``market``."""
    try:
        check_market(market)
    except RegistryError as exc:
        raise TicketError(str(exc)) from None
    start, _, end = normalize_window(window).partition("..")
    return f"{TICKET_PREFIX}{market}-{start}_{end}"


def take_ticket(
    market: str,
    window: DateRange | str,
    *,
    model_name: str = "",
    run_id: str | None = None,
    model_version: str | None = None,
    client: "MlflowClient | None" = None,
) -> Ticket:
    """Take the one-time ticket of ``window`` on ``market``: exactly one caller ever succeeds.

    Parameters
    ----------
    market : str
        :func:`lab.market.identity.market_id` of the test data.
    window : DateRange or str
        ``config.windows.test`` (or ``"2024-01-01..2025-12-31"``).
    model_name : str
        ``[promotion] model_name``, recorded for people (the key ignores it).
    run_id, model_version : str, optional
        The final-eval run and the registered version being evaluated.
    client : MlflowClient, optional
        Default: the current tracking URI. All takers must share one backend.

    Raises
    ------
    TicketSpentError
        The ticket exists: another final-eval took the window (``.ticket`` says who, which run, which stage).
    TicketError
        Bad market or window, or the backend failed.
    """
    client = get_client(client)
    name = ticket_name(market, window)
    window = normalize_window(window)
    claim = uuid.uuid4().hex
    earlier = [t for t in list_tickets(market, client) if t.window != window]
    at = now()
    tags = {
        tag.KIND: TICKET_KIND, tag.TICKET_MARKET: market, tag.TICKET_WINDOW: window,
        tag.TICKET_MODEL_NAME: model_name, tag.TICKET_TAKEN_BY: who(), tag.TICKET_TAKEN_AT: at,
        tag.TICKET_STAGE: TAKEN, tag.TICKET_PID: str(os.getpid()), tag.TICKET_HOST: socket.gethostname(),
        tag.TICKET_HEARTBEAT_AT: at, tag.TICKET_CLAIM: claim,
    }
    if run_id:
        tags[tag.TICKET_RUN_ID] = run_id
    if model_version:
        tags[tag.TICKET_MODEL_VERSION] = str(model_version)
    if earlier:
        tags[tag.TICKET_PREVIOUS_WINDOWS] = json.dumps(
            [{"window": t.window, "run_id": t.run_id, "verdict": t.verdict, "taken_at": t.taken_at} for t in earlier])
    seen = [t.window for t in earlier if _overlap(t.window, window)]
    if seen:
        tags[tag.TICKET_OVERLAPS_SPENT] = json.dumps(seen)
    description = (f"One-time ticket: final-eval of the sealed test range {window} of market {market} (model "
                   f"{model_name or '?'}). Deleting it re-opens a window whose data may have been looked at: don't; "
                   "free a ticket whose final-eval died before predicting with `lab ticket release --reason ...`.")
    try:
        created = create_record(client, name, tags, description)
    except RegistryError as exc:
        raise TicketError(f"could not take the ticket {name}: {exc}") from None
    existing = get_ticket(market, window, client)
    if existing is None:  # pragma: no cover - the winner's row is committed before we see the conflict
        raise TicketError(f"ticket {name} exists but cannot be read back; retry, then check `lab status`")
    if created or existing.claim == claim:  # ours (also a creation whose reply was lost and retried)
        if seen:
            warnings.warn(f"test window {window} overlaps window(s) {', '.join(seen)} already evaluated on market "
                          f"{market}: part of it has been looked at, so this verdict is not on unseen data "
                          "(recorded as lab.ticket.overlaps_spent)", stacklevel=2)
        with contextlib.suppress(Exception):
            mark_seal_state(market, window, f"in progress (final-eval run {run_id or '?'})", client)
        return existing
    raise TicketSpentError(
        f"the test window {window} of market {market} was already taken: {existing.describe()}. The test set is "
        "looked at once per market, whatever the model is called; see that result with `lab status` or in "
        "`mlflow ui`. To evaluate again, set a new, unseen [windows] test in lab.toml (that opens a new ticket).",
        existing,
    )


def get_ticket(market: str, window: DateRange | str, client: "MlflowClient | None" = None) -> Ticket | None:
    """The ticket of ``window`` on ``market``, or ``None`` while the window is open."""
    model = get_record(get_client(client), ticket_name(market, window))
    return None if model is None else _ticket(model)


def list_tickets(market: str | None = None, client: "MlflowClient | None" = None) -> list[Ticket]:
    """Every live ticket (of ``market``, when given), oldest first; released ones: :func:`list_released`."""
    tickets = [_ticket(model) for model in search_records(get_client(client), TICKET_KIND)]
    return sorted((t for t in tickets if market is None or t.market == market), key=lambda t: t.taken_at)


def list_released(market: str | None = None, client: "MlflowClient | None" = None) -> list[Ticket]:
    """Every released ticket (of ``market``, when given), oldest release first."""
    tickets = [_ticket(model) for model in search_records(get_client(client), RELEASED_KIND)]
    return sorted((t for t in tickets if market is None or t.market == market), key=lambda t: t.released_at or "")


def attach_run(ticket: Ticket, run_id: str, client: "MlflowClient | None" = None) -> Ticket:
    """Record the final-eval run on a ticket taken before the run existed.

    Raises
    ------
    TicketError
        The ticket already names another run, or is no longer this taker's.
    """
    client = get_client(client)
    current = _reload(ticket, client)
    if current.run_id and current.run_id != run_id:
        raise TicketError(f"ticket {ticket.name} already belongs to run {current.run_id}, not {run_id}")
    client.set_registered_model_tag(ticket.name, tag.TICKET_RUN_ID, run_id)
    return _reload(ticket, client)


def set_stage(ticket: Ticket, stage: str, client: "MlflowClient | None" = None) -> Ticket:
    """Move the ticket forward to ``stage`` (never back), renewing its heartbeat."""
    if stage not in STAGES:
        raise TicketError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    client = get_client(client)
    current = _reload(ticket, client)
    if STAGES.index(stage) < STAGES.index(current.stage):
        raise TicketError(f"ticket {ticket.name} is at stage {current.stage}; it cannot go back to {stage}")
    set_tags(client, ticket.name, {tag.TICKET_STAGE: stage, tag.TICKET_HEARTBEAT_AT: now()})
    return _reload(ticket, client)


def beat(ticket: Ticket, client: "MlflowClient | None" = None) -> None:
    """Renew the heartbeat (UTC time) of a ticket this process holds."""
    get_client(client).set_registered_model_tag(ticket.name, tag.TICKET_HEARTBEAT_AT, now())


@contextlib.contextmanager
def heartbeat(ticket: Ticket, interval_s: float = HEARTBEAT_S, client: "MlflowClient | None" = None) -> Iterator[None]:
    """Renew the ticket's heartbeat every ``interval_s`` seconds on a daemon thread while the block runs."""
    client = get_client(client)
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval_s):
            with contextlib.suppress(Exception):  # a missed beat only makes the holder look older
                beat(ticket, client)

    thread = threading.Thread(target=run, name="lab-ticket-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def liveness(ticket: Ticket, now_utc: dt.datetime | None = None) -> str:
    """``finished``, ``released``, ``alive`` or ``dead`` (with why), for ``lab status`` and release.

    On the holder's own host the pid is checked (gone: dead); anywhere, a heartbeat older than
    :data:`STALE_S` seconds means the holder stopped beating (dead or hung).
    """
    if ticket.released_at:
        return "released"
    if not ticket.in_progress:
        return "finished"
    now_utc = now_utc or dt.datetime.now(dt.timezone.utc)
    age = None
    with contextlib.suppress(ValueError):
        age = (now_utc - dt.datetime.fromisoformat(ticket.heartbeat_at or ticket.taken_at)).total_seconds()
    if ticket.host == socket.gethostname() and ticket.pid.isdigit() and not _pid_alive(int(ticket.pid)):
        return f"dead (pid {ticket.pid} on {ticket.host} is gone)"
    if age is None or age > STALE_S:
        return f"dead (no heartbeat for {age:.0f} s)" if age is not None else "dead (no heartbeat recorded)"
    return f"alive (pid {ticket.pid} on {ticket.host}, heartbeat {age:.0f} s ago)"


def record_result(ticket: Ticket, run_id: str, verdict: str, client: "MlflowClient | None" = None) -> Ticket:
    """Store the final-eval's run id and verdict on its ticket (stage ``verdict``).

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
    at = now()
    set_tags(client, ticket.name, {tag.TICKET_RUN_ID: run_id, tag.TICKET_VERDICT: verdict.strip(),
                                   tag.TICKET_FINISHED_AT: at, tag.TICKET_STAGE: VERDICT,
                                   tag.TICKET_HEARTBEAT_AT: at})
    with contextlib.suppress(Exception):
        mark_seal_state(current.market, current.window, f"spent: final-eval run {run_id}, verdict {verdict.strip()}",
                        client)
    return _reload(ticket, client)


def release_ticket(market: str, window: DateRange | str, reason: str,
                   client: "MlflowClient | None" = None) -> Ticket:
    """Free the ticket of a final-eval that died before making any prediction; the release stays on record.

    Raises
    ------
    TicketError
        No reason, no ticket, a prediction was made (stage ``predicted`` or ``verdict``: never
        released), or the holder is still alive.
    """
    if not reason or not reason.strip():
        raise TicketError('a release needs --reason "...": say why the window may be opened again')
    client = get_client(client)
    ticket = get_ticket(market, window, client)
    if ticket is None:
        raise TicketError(f"no ticket holds the test window {normalize_window(window)} of market {market}: it is open")
    if ticket.predicted:
        raise TicketError(
            f"ticket {ticket.name} is at stage {ticket.stage}: the model made predictions on the test window, so its "
            "data has been looked at and the ticket can never be released. A new look needs new, unseen dates.")
    state = liveness(ticket)
    if state.startswith("alive"):
        raise TicketError(f"ticket {ticket.name} is held by a final-eval that is {state}; stop it (or wait "
                          f"{STALE_S:.0f} s after it stopped) before releasing")
    released = f"{RELEASED_PREFIX}{market}-{ticket.window.replace('..', '_')}-{ticket.claim[:8] or uuid.uuid4().hex[:8]}"
    from lab.tracking import MlflowException  # heavy: loads mlflow

    try:
        client.rename_registered_model(ticket.name, released)  # the atomic step: one release wins
    except MlflowException as exc:
        raise TicketError(f"could not release {ticket.name}: {exc.message} (released or taken meanwhile? see "
                          "`lab status`)") from None
    set_tags(client, released, {tag.KIND: RELEASED_KIND, tag.TICKET_RELEASED_AT: now(),
                                tag.TICKET_RELEASED_BY: who(), tag.TICKET_RELEASE_REASON: reason.strip(),
                                tag.TICKET_RELEASED_LIVENESS: state})
    client.update_registered_model(released, description=(
        f"Released ticket of the test window {ticket.window} of market {market}: final-eval run {ticket.run_id or '?'} "
        f"stopped at stage {ticket.stage}, before any prediction. Reason: {reason.strip()}"))
    with contextlib.suppress(Exception):
        mark_seal_state(market, ticket.window, f"open (ticket released: {reason.strip()})", client)
    return _ticket(client.get_registered_model(released))


def _reload(ticket: Ticket, client: "MlflowClient") -> Ticket:
    current = get_ticket(ticket.market, ticket.window, client)
    if current is None:
        raise TicketError(f"ticket {ticket.name} no longer exists in {client.tracking_uri}: it was released or deleted")
    if ticket.claim and current.claim and current.claim != ticket.claim:
        raise TicketError(f"ticket {ticket.name} was released and taken again by another final-eval "
                          f"({current.describe()}); this run no longer holds it")
    return current


def _ticket(model: Any) -> Ticket:
    tags = dict(model.tags)
    previous = json.loads(tags.get(tag.TICKET_PREVIOUS_WINDOWS, "[]") or "[]")
    return Ticket(
        name=model.name,
        market=tags.get(tag.TICKET_MARKET, ""),
        window=tags.get(tag.TICKET_WINDOW, ""),
        model_name=tags.get(tag.TICKET_MODEL_NAME, ""),
        taken_by=tags.get(tag.TICKET_TAKEN_BY, ""),
        taken_at=tags.get(tag.TICKET_TAKEN_AT, ""),
        run_id=tags.get(tag.TICKET_RUN_ID) or None,
        model_version=tags.get(tag.TICKET_MODEL_VERSION) or None,
        stage=tags.get(tag.TICKET_STAGE, TAKEN),
        pid=tags.get(tag.TICKET_PID, ""),
        host=tags.get(tag.TICKET_HOST, ""),
        heartbeat_at=tags.get(tag.TICKET_HEARTBEAT_AT, ""),
        verdict=tags.get(tag.TICKET_VERDICT) or None,
        finished_at=tags.get(tag.TICKET_FINISHED_AT) or None,
        released_at=tags.get(tag.TICKET_RELEASED_AT) or None,
        released_by=tags.get(tag.TICKET_RELEASED_BY) or None,
        release_reason=tags.get(tag.TICKET_RELEASE_REASON) or None,
        previous_windows=previous,
        claim=tags.get(tag.TICKET_CLAIM, ""),
    )


def _overlap(first: str, second: str) -> bool:
    a_start, _, a_end = first.partition("..")
    b_start, _, b_end = second.partition("..")
    return a_start <= b_end and b_start <= a_end  # ISO dates compare as text


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
