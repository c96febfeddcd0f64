"""The champion is the gate's: the version behind an alias counts only when ``lab promote`` put it there.

``lab promote`` records, on the registered model, which version it moved each alias to (tag
``lab.alias.<alias>``) and, on the version, the gate's record (gates, evidence, who promoted it and
when, the override if forced). An alias moved any other way (the MLflow UI's "Promote model", the
client API) points at a version without that record, or at another version than the record names:
final-eval, paper, monitor and the served signal model (:func:`admit_served`, called where
``mlflow models serve`` loads it) refuse it, naming the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab import tags as tag
from lab import tracking
from registry.errors import RegistryError

if TYPE_CHECKING:  # pragma: no cover
    from lab.live.serving import SignalSpec
    from lab.tracking import MlflowClient

__all__ = ["ChampionError", "gate_version", "admit_served", "alias_record_tag", "GATE_RECORD_TAGS"]

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


def admit_served(spec: "SignalSpec") -> None:
    """Let a loaded signal model answer only when the gate put it where it is served from.

    Called by :class:`lab.tracking.pyfunc.SignalModel` at load (``mlflow models serve -m
    models:/<name>@champion``, ``mlflow.pyfunc.load_model``), in the serving process: the tune run
    the model was built from must be the run of a version that an alias of ``spec.model_name``
    points at *and* that ``lab promote`` moved it to (:func:`gate_version`). A version registered or
    aliased another way, or one the gate has since replaced, is refused.

    Raises
    ------
    ChampionError
        The spec names no model (built outside ``lab promote``), or no alias the gate recorded
        points at a version of this run.
    """
    if not spec.model_name or not spec.run_id:
        raise ChampionError("this signal model names no registered model or run: it was not built by `lab promote`, "
                            "and only a version the promotion gate registered is served; promote its tune run "
                            "with `lab promote --run-id <tune run>`")
    registered = tracking.registered_model_or_none(spec.model_name)
    prefix = f"{tag.ALIAS_RECORD}."
    aliases = sorted(key[len(prefix):] for key in ((registered.tags or {}) if registered is not None else {})
                     if key.startswith(prefix))
    why = []
    for alias in aliases:
        try:
            version = gate_version(spec.model_name, alias)
        except ChampionError as exc:
            why.append(str(exc))
            continue
        if version.run_id == spec.run_id:
            return
        why.append(f"the gate's {alias} of {spec.model_name!r} is version {version.version}, run {version.run_id}")
    raise ChampionError(
        f"refusing to serve the signal model of run {spec.run_id}: no alias the promotion gate recorded on "
        f"{spec.model_name!r} in {tracking.tracking_uri()} points at it ({'; '.join(why) or 'no alias was ever promoted'}); "
        f"serve `models:/{spec.model_name}@champion`, or promote this run with `lab promote --run-id {spec.run_id}`")
