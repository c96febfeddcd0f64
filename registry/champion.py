"""The champion is the gate's: the version behind an alias counts only when ``lab promote`` put it there.

``lab promote`` records, on the registered model, which version it moved each alias to (tag
``lab.alias.<alias>``) and, on the version, the gate's record (gates, evidence, who promoted it and
when, the override if forced). An alias moved any other way (the MLflow UI's "Promote model", the
client API) points at a version without that record, or at another version than the record names:
final-eval, paper and monitor refuse it, naming the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab import tags as tag
from lab import tracking
from registry.errors import RegistryError

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["ChampionError", "gate_version", "alias_record_tag", "GATE_RECORD_TAGS"]

#: The tags `lab promote` writes on every version it registers: without them no gate judged it.
GATE_RECORD_TAGS = (tag.GATES, tag.EVIDENCE_RUNS, tag.PROMOTED_AT, tag.PROMOTED_BY)


class ChampionError(RegistryError):
    """The alias names no version, or a version the gate did not put there."""


def alias_record_tag(alias: str) -> str:
    """The registered-model tag holding the version ``lab promote`` moved ``alias`` to."""
    return f"{tag.ALIAS_RECORD}.{alias}"


def gate_version(model_name: str, alias: str = "champion", client: "MlflowClient | None" = None) -> Any:
    """The model version behind ``alias`` when the gate put it there.

    Raises
    ------
    ChampionError
        No version has the alias; or the version lacks the gate's record; or ``lab promote`` moved
        the alias to another version than the one it points at now.
    """
    version = tracking.version_by_alias(model_name, alias, client)
    if version is None:
        raise ChampionError(f"model {model_name!r} has no {alias} in {tracking.tracking_uri()}: promote one first "
                            "with `lab promote --run-id <tune run>`")
    number, run_id = str(version.version), version.run_id or "<tune run>"
    missing = [key for key in GATE_RECORD_TAGS if not (version.tags or {}).get(key)]
    registered = tracking.registered_model_or_none(model_name, client)
    recorded = ((registered.tags or {}) if registered is not None else {}).get(alias_record_tag(alias), "")
    if missing or recorded != number:
        why = (f"version {number} carries no gate record ({', '.join(missing)} missing)" if missing else
               f"`lab promote` last moved it to version {recorded or 'none'}, not to version {number}")
        raise ChampionError(
            f"the {alias} of {model_name!r} is version {number}, but the promotion gate did not put it there ({why}; "
            f"an alias moved in the MLflow UI or through the client API is not trusted): promote through the gate "
            f"with `lab promote --run-id {run_id}`")
    return version
