"""``lab status``: the champion (and challenger, previous) and every sealed test range with its state.

A sealed range is ``open`` (no ticket), ``in progress`` (a final-eval holds its ticket; alive or
dead by its heartbeat and pid), or ``spent`` (by which run, with which verdict). Released tickets
are listed under their range, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab import tags as tag
from lab import tracking
from lab.config import LabConfig
from registry import ledger
from registry.champion import ChampionError, gate_version
from registry.records import get_client
from registry.seals import Seal, list_seals
from registry.ticket import Ticket, list_released, list_tickets, liveness

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["AliasedVersion", "LabStatus", "lab_status", "format_status", "STATUS_ALIASES"]

STATUS_ALIASES = ("champion", "challenger", "previous")


@dataclass(frozen=True)
class AliasedVersion:
    """A registered version reached through an alias, with the lab's tags on it."""

    alias: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str] = field(default_factory=dict)
    untrusted: str = ""  # why the gate did not put this version behind the alias ("" when it did)

    @property
    def evidence_runs(self) -> dict[str, Any]:
        """``lab.evidence_runs`` decoded (empty when missing)."""
        return _json(self.tags.get(tag.EVIDENCE_RUNS), {})

    @property
    def gates(self) -> list[dict[str, Any]]:
        """``lab.gates`` decoded (empty when missing)."""
        return _json(self.tags.get(tag.GATES), [])


@dataclass(frozen=True)
class LabStatus:
    """What ``lab status`` reports."""

    model_name: str
    tracking_uri: str
    window: str
    versions: dict[str, AliasedVersion]
    seals: list[Seal] = field(default_factory=list)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    released: dict[str, list[Ticket]] = field(default_factory=dict)
    run_status: dict[str, str] = field(default_factory=dict)
    unsealed_tickets: list[Ticket] = field(default_factory=list)
    ledger: tuple[str, str, dict[str, int]] = ("", "", {})  # market, validation window, evaluations per stage
    seen: dict[str, list[str]] = field(default_factory=dict)  # windows of the market the ledger has looked at
    abandoned: list[str] = field(default_factory=list)  # RUNNING runs whose process was gone: marked KILLED now


def lab_status(config: LabConfig, client: "MlflowClient | None" = None) -> LabStatus:
    """Collect the aliased versions of ``[promotion] model_name`` and the tickets of its test windows.

    Parameters
    ----------
    config : LabConfig
        Gives the model name and the current test window.
    client : MlflowClient, optional
    """
    from lab.tracking import MlflowException  # heavy: loads mlflow

    client = get_client(client)
    name = config.promotion.model_name
    versions: dict[str, AliasedVersion] = {}
    for alias in STATUS_ALIASES:
        mv = tracking.version_by_alias(name, alias, client)
        if mv is None:
            continue
        untrusted = ""
        if alias != "previous":
            try:
                gate_version(name, alias, client)
            except ChampionError as exc:
                untrusted = str(exc)
        versions[alias] = AliasedVersion(alias, str(mv.version), mv.run_id, mv.source, dict(mv.tags), untrusted)
    window = str(config.windows.test)
    seals = list_seals(client=client)
    key = lambda market, rng: f"{market} {rng}"  # noqa: E731
    tickets = {key(t.market, t.window): t for t in list_tickets(client=client)}
    released: dict[str, list[Ticket]] = {}
    for ticket in list_released(client=client):
        released.setdefault(key(ticket.market, ticket.window), []).append(ticket)
    run_status = {}
    for ticket in tickets.values():
        if ticket.run_id:
            try:
                run_status[ticket.run_id] = client.get_run(ticket.run_id).info.status
            except MlflowException:
                run_status[ticket.run_id] = "DELETED"
    sealed = {key(s.market, s.window) for s in seals}
    unsealed = [t for k, t in tickets.items() if k not in sealed]  # tickets of stores older than seals

    market, validation = ledger.market_key(config), ledger.window_key(config)
    counted = (market, validation, ledger.by_stage(ledger.entries(market, validation)))
    # a run whose process died without a word (SIGKILL, a crash) would stay RUNNING for ever
    abandoned = tracking.mark_abandoned_runs("attributes.status = 'RUNNING'")
    return LabStatus(name, client.tracking_uri, window, versions, seals, tickets, released, run_status, unsealed,
                     counted, ledger.seen_ranges(market), abandoned)


def format_status(status: LabStatus) -> str:
    """The report ``lab status`` prints."""
    lines = [f"model {status.model_name}  (tracking {status.tracking_uri})"]
    if not status.versions:
        lines.append("  champion: none yet; promote a tune run with `lab promote --run-id <run>`")
    for alias in STATUS_ALIASES:
        version = status.versions.get(alias)
        if version is None:
            continue
        tags = version.tags
        who = f"promoted {tags.get(tag.PROMOTED_AT, '?')} by {tags.get(tag.PROMOTED_BY, '?')}"
        lines.append(f"  {alias}: version {version.version}  run {version.run_id}  {version.source}  {who}")
        if alias == "previous":
            continue
        if version.untrusted:
            lines.append(f"    NOT TRUSTED: {version.untrusted}")
        verdict = tags.get(tag.FINAL_EVAL_VERDICT)
        lines.append(f"    final-eval: {verdict} on {tags.get(tag.FINAL_EVAL_WINDOW, '?')} "
                     f"(run {tags.get(tag.FINAL_EVAL_RUN_ID, '?')})" if verdict else
                     "    final-eval: not yet evaluated on the test window")
        lines.append(f"    dataset {tags.get(tag.DATASET_DIGEST, '?')}  target {tags.get(tag.TARGET, '?')}  "
                     f"engine {tags.get(tag.MODEL_ENGINE, '?')}  code {tags.get(tag.CODE_REVISION, '?')[:12]}")
        evidence = ", ".join(f"{stage} {run or 'none'}" for stage, run in version.evidence_runs.items())
        lines.append(f"    evidence: {evidence or 'not recorded'}")
        gates = ", ".join(f"{'PASS' if g.get('passed') else 'FAIL'} {g.get('name')}" for g in version.gates)
        lines.append(f"    gates: {gates or 'not recorded'}")
        if tags.get(tag.ALERT):
            lines.append(f"    ALERT (monitor run {tags.get(tag.MONITOR_RUN, '?')}): {tags[tag.ALERT]}")
        if tags.get(tag.FORCED) == "true":
            lines.append(f"    FORCED: {tags.get(tag.FORCE_REASON, '(no reason recorded)')}")
    lines.append(f"sealed test ranges (this configuration's test window: {status.window}):")
    if not status.seals and not status.unsealed_tickets:
        lines.append("  none yet (a test window is sealed the first time an entry point runs with it)")
    for seal in status.seals:
        key = f"{seal.market} {seal.window}"
        lines.append(f"  {seal.market} {seal.window}: {_state_line(status, status.tickets.get(key))}")
        lines.append(f"    {seal.describe()}")
        for ticket in status.released.get(key, []):
            lines.append(f"    ticket {ticket.describe()}")
    for ticket in status.unsealed_tickets:
        lines.append(f"  {ticket.market} {ticket.window} (no seal record): {_state_line(status, ticket)}")
    market, validation, stages = status.ledger
    if market:
        detail = ", ".join(f"{stage} {count}" for stage, count in stages.items())
        lines.append(f"trial ledger, validation {validation} on {market}: {sum(stages.values())} evaluations"
                     + (f" ({detail})" if detail else ""))
        if status.seen:
            lines.append(f"already seen on {market} (never a test window): "
                         + ", ".join(f"{window} ({len(runs)} run(s))" for window, runs in sorted(status.seen.items())))
    if status.abandoned:
        lines.append(f"abandoned runs (RUNNING, their process gone: killed or crashed), marked KILLED now: "
                     f"{', '.join(status.abandoned)}")
    return "\n".join(lines)


def _state_line(status: LabStatus, ticket: Ticket | None) -> str:
    if ticket is None:
        return "open (no final-eval has looked at it)"
    if not ticket.in_progress:
        return "SPENT: " + ticket.describe()
    alive = liveness(ticket)
    text = f"IN PROGRESS, final-eval {alive}: {ticket.describe()}"
    run_status = status.run_status.get(ticket.run_id or "")
    if run_status and run_status != "RUNNING":
        text += f"; run {ticket.run_id} is {run_status}"
    if not alive.startswith("alive"):
        text += ("; if it made no prediction, free it with `lab ticket release --reason \"...\"`" if not ticket.predicted
                 else "; it made predictions, so the window counts as spent")
    return text


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default
