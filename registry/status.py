"""``lab status``: the champion (and challenger, previous) and whether the test window is spent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.config import LabConfig
from registry.evidence import get_client
from registry.ticket import Ticket, get_ticket, list_tickets

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

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

    @property
    def evidence_runs(self) -> dict[str, Any]:
        """``lab.evidence_runs`` decoded (empty when missing)."""
        return _json(self.tags.get("lab.evidence_runs"), {})

    @property
    def gates(self) -> list[dict[str, Any]]:
        """``lab.gates`` decoded (empty when missing)."""
        return _json(self.tags.get("lab.gates"), [])


@dataclass(frozen=True)
class LabStatus:
    """What ``lab status`` reports."""

    model_name: str
    tracking_uri: str
    window: str
    versions: dict[str, AliasedVersion]
    ticket: Ticket | None
    ticket_run_status: str | None
    other_tickets: list[Ticket]
    ledger: tuple[str, str, dict[str, int]] = ("", "", {})  # market, validation window, evaluations per stage


def lab_status(config: LabConfig, client: "MlflowClient | None" = None) -> LabStatus:
    """Collect the aliased versions of ``[promotion] model_name`` and the tickets of its test windows.

    Parameters
    ----------
    config : LabConfig
        Gives the model name and the current test window.
    client : MlflowClient, optional
    """
    from mlflow.exceptions import MlflowException

    client = get_client(client)
    name = config.promotion.model_name
    versions: dict[str, AliasedVersion] = {}
    for alias in STATUS_ALIASES:
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            continue
        versions[alias] = AliasedVersion(alias, str(mv.version), mv.run_id, mv.source, dict(mv.tags))
    window = str(config.windows.test)
    ticket = get_ticket(name, window, client)
    run_status = None
    if ticket is not None and ticket.run_id:
        try:
            run_status = client.get_run(ticket.run_id).info.status
        except MlflowException:
            run_status = "DELETED"
    others = [t for t in list_tickets(name, client) if t.window != window]
    from registry import ledger

    market, validation = ledger.market_key(config), ledger.window_key(config)
    counted = (market, validation, ledger.by_stage(ledger.entries(market, validation)))
    return LabStatus(name, client.tracking_uri, window, versions, ticket, run_status, others, counted)


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
        who = f"promoted {tags.get('lab.promoted_at', '?')} by {tags.get('lab.promoted_by', '?')}"
        lines.append(f"  {alias}: version {version.version}  run {version.run_id}  {version.source}  {who}")
        if alias == "previous":
            continue
        lines.append(f"    dataset {tags.get('lab.dataset_digest', '?')}  target {tags.get('lab.target', '?')}  "
                     f"engine {tags.get('lab.model_engine', '?')}  code {tags.get('lab.code_revision', '?')[:12]}")
        evidence = ", ".join(f"{stage} {run or 'none'}" for stage, run in version.evidence_runs.items())
        lines.append(f"    evidence: {evidence or 'not recorded'}")
        gates = ", ".join(f"{'PASS' if g.get('passed') else 'FAIL'} {g.get('name')}" for g in version.gates)
        lines.append(f"    gates: {gates or 'not recorded'}")
        if tags.get("lab.alert"):
            lines.append(f"    ALERT (monitor run {tags.get('lab.monitor_run', '?')}): {tags['lab.alert']}")
        if tags.get("lab.forced") == "true":
            lines.append(f"    FORCED: {tags.get('lab.force_reason', '(no reason recorded)')}")
    lines.append(f"test window {status.window}: " + _window_line(status))
    for ticket in status.other_tickets:
        lines.append(f"  earlier window {ticket.window}: {ticket.describe()}")
    market, validation, stages = status.ledger
    if market:
        detail = ", ".join(f"{stage} {count}" for stage, count in stages.items())
        lines.append(f"trial ledger, validation {validation} on {market}: {sum(stages.values())} evaluations"
                     + (f" ({detail})" if detail else ""))
    return "\n".join(lines)


def _window_line(status: LabStatus) -> str:
    ticket = status.ticket
    if ticket is None:
        return "open (no final-eval has looked at it)"
    text = "SPENT: " + ticket.describe()
    if ticket.in_progress and status.ticket_run_status and status.ticket_run_status != "RUNNING":
        text += f"; run {ticket.run_id} is {status.ticket_run_status}"
    return text


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default
