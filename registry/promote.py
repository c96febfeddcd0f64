"""The registry gate in action: check a candidate run, then register it and move an alias.

    candidate = check_candidate(run_id, config.promotion)       # evidence + policy, no side effect
    promotion = promote(run_id, config.promotion)                # raises PromotionRefusedError on a FAIL
    promotion = promote(run_id, config.promotion, force=True, reason="...")   # recorded override

A promotion registers a new version of ``[promotion] model_name`` from the run's LoggedModel
(``models:/<model_id>``), tags it (``lab.dataset_digest``, ``lab.features``, ``lab.target``,
``lab.params``, ``lab.code_revision``, ``lab.evidence_runs``, ``lab.gates``, ``lab.promoted_by``,
``lab.promoted_at``, ``lab.promoted_as``, and ``lab.forced`` / ``lab.force_reason`` on an override)
and points the alias at it. Promoting as ``champion`` moves the former champion to ``previous``;
the scheduler's retrain promotes as ``challenger``. Stages are not used.

Promotions of one model are serialized in the tracking backend (:func:`promotion_lock`): the lock
is a registered model ``lab-lock-promote-<model>`` whose creation one caller wins (the backend's
primary key; sqlite, PostgreSQL, ``mlflow server``); the others wait. A lock whose holder on this
host is gone, or older than :data:`LOCK_STALE_S` seconds, is taken over. So two promotions at
once each print the version and the ``previous`` they really got.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab import tags as tag
from lab import tracking
from lab.config import PromotionConfig
from lab.processes import process_gone, this_process
from lab.tracking import param_value
from registry.champion import ChampionError, alias_record_tag, gate_version
from registry.deflated import ledger_facts_of_run
from registry.description import version_description
from registry.errors import PromotionRefusedError, RegistryError
from registry.evidence import Candidate, find_evidence, find_model, get_client, run_facts
from registry.gate import evaluate_gates, gates_to_json_ready
from registry.records import current_user
from registry.seals import SEAL_PREFIX
from registry.signal_model import build_signal_model, warn_no_signal_model
from registry.ticket import RELEASED_PREFIX, TICKET_PREFIX

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["Candidate", "Promotion", "already_promoted", "check_candidate", "promote", "register", "version_tags", "current_user", "ALIASES",
           "promotion_lock"]

#: Aliases a promotion may move. ``previous`` is moved by the lab itself, never asked for.
ALIASES = ("champion", "challenger")
#: Registered models named ``lab-lock-promote-<model>`` are the promotion locks (see :func:`promotion_lock`).
LOCK_PREFIX = "lab-lock-"
#: A lock older than this (seconds) whose holder cannot be seen (another host) is taken over.
LOCK_STALE_S = 120.0
LOCK_WAIT_S = 120.0


@dataclass(frozen=True)
class Promotion:
    """A registered model version and the alias moved to it."""

    model_name: str
    version: str
    alias: str
    previous_version: str | None
    candidate: Candidate | None  # None when nothing changed (the run already held the alias)
    forced: bool
    reason: str
    tags: dict[str, str]
    unchanged: bool = False  # the run already held the alias through the gate: nothing was registered


def check_candidate(run_id: str, policy: PromotionConfig, client: "MlflowClient | None" = None) -> Candidate:
    """Judge a run against the ``[promotion]`` policy; nothing is written.

    Parameters
    ----------
    run_id : str
        The run holding the model (a tune run).
    policy : PromotionConfig
        ``[promotion]`` of ``lab.toml``.
    client : MlflowClient, optional
        Default: the current tracking URI.

    Raises
    ------
    CandidateError
        No such run, or it holds no logged model (nothing to register, so no override either).
    """
    client = get_client(client)
    facts = run_facts(run_id, client)
    model = find_model(facts, client)
    walk_forward = find_evidence(facts, "walk-forward", client)
    backtest = find_evidence(facts, "backtest", client)
    ledger = ledger_facts_of_run(backtest.run.run_id, backtest.run.tags) if backtest.run else None  # trial ledger
    return Candidate(facts, model, walk_forward, backtest, evaluate_gates(policy, facts, walk_forward, backtest, ledger))


def promote(
    run_id: str,
    policy: PromotionConfig,
    *,
    force: bool = False,
    reason: str = "",
    alias: str = "champion",
    client: "MlflowClient | None" = None,
    candidate: Candidate | None = None,
) -> Promotion:
    """Check a run and, when every gate passes (or on a reasoned override), register it.

    Parameters
    ----------
    run_id : str
        The run holding the model.
    policy : PromotionConfig
        ``[promotion]`` of ``lab.toml``: model name, required evidence, thresholds.
    force : bool, default False
        Register even though gates failed; needs ``reason``.
    reason : str, default ""
        Why the override is justified; stored as ``lab.force_reason``.
    alias : {"champion", "challenger"}, default "champion"
        The alias moved to the new version (the scheduler's retrain uses ``challenger``).
    client : MlflowClient, optional
    candidate : Candidate, optional
        A result of :func:`check_candidate` for ``run_id`` (saves searching twice).

    Raises
    ------
    PromotionRefusedError
        A gate failed and ``force`` is false; ``.gates`` holds every result.
    RegistryError
        ``force`` without a reason, or an unknown alias.
    CandidateError
        No such run or no model in it.
    """
    if force and not reason.strip():
        raise RegistryError('--force needs --reason "...": say why this model should be promoted despite its gates')
    if alias not in ALIASES:
        raise RegistryError(f"alias {alias!r} is not one of {', '.join(ALIASES)}; 'previous' is moved by the lab")
    client = get_client(client)
    current = already_promoted(run_id, policy.model_name, alias, client)
    if current is not None:
        return current
    if candidate is None or candidate.run.run_id != run_id:
        candidate = check_candidate(run_id, policy, client)
    if not candidate.passed and not force:
        names = ", ".join(gate.name for gate in candidate.failed)
        raise PromotionRefusedError(
            f"run {run_id} was not promoted: {len(candidate.failed)} gate(s) failed ({names}). Fix the model or "
            f"its evidence, or override with: lab promote --run-id {run_id} --force --reason \"why\"",
            candidate.gates,
        )
    return register(candidate, policy.model_name, alias=alias, forced=force and not candidate.passed,
                    reason=reason.strip() if force else "", client=client)


def register(
    candidate: Candidate,
    model_name: str,
    *,
    alias: str = "champion",
    forced: bool = False,
    reason: str = "",
    client: "MlflowClient | None" = None,
) -> Promotion:
    """Register the candidate's model as a new version, tag it and move ``alias`` to it.

    No gate is checked here: call :func:`promote`, which does.
    """
    if model_name.startswith(LOCK_PREFIX):
        raise RegistryError(f"[promotion] model_name {model_name!r} starts with {LOCK_PREFIX!r}, the prefix of "
                            "the lab's promotion locks; choose another name")
    for prefix, what in ((TICKET_PREFIX, "test-window tickets"), (RELEASED_PREFIX, "released tickets"),
                         (SEAL_PREFIX, "sealed test ranges")):
        if model_name.startswith(prefix):
            raise RegistryError(f"[promotion] model_name {model_name!r} starts with {prefix!r}, the prefix of the lab's "
                                f"{what}; choose another name")
    client = get_client(client)
    tracking.create_registered_model_if_absent(model_name, description="MES 5-minute models promoted by `lab promote`.",
                                               client=client)
    tags = version_tags(candidate, alias=alias, forced=forced, reason=reason)

    signal = build_signal_model(candidate, model_name, client)  # the servable pyfunc around the same booster (lab.live)
    source, model_id = (signal.model_uri, signal.model_id) if signal.model_id else (candidate.model.model_uri,
                                                                                    candidate.model.model_id)
    tags.update({tag.NATIVE_MODEL_URI: candidate.model.model_uri,
                 tag.SIGNAL_MODEL: f"run {signal.run_id}" if signal.model_id else f"none: {signal.why}"[:5000]})
    description = version_description(
        model_name=model_name, run_id=candidate.run.run_id, experiment_id=tracking.run_experiment_id(candidate.run.run_id),
        target=candidate.run.target, dataset_digest=candidate.run.dataset_digest,
        gates=gates_to_json_ready(candidate.gates), evidence_runs=candidate.evidence_runs, forced=forced, reason=reason,
        promoted_by=tags.get(tag.PROMOTED_BY, ""), promoted_at=tags.get(tag.PROMOTED_AT, ""),
        strategy=candidate.backtest.run.params.get("strategy.name", "") if candidate.backtest.run else "")
    with promotion_lock(model_name, client):  # read-then-move of the aliases: one promotion at a time
        version = client.create_model_version(
            model_name, source=source, run_id=candidate.run.run_id, tags=tags, model_id=model_id,
            description=description,
        )
        previous = _version_with_alias(client, model_name, alias)
        if alias == "champion" and previous is not None:
            client.set_registered_model_alias(model_name, "previous", previous)
        client.set_registered_model_alias(model_name, alias, version.version)
        tracking.set_registered_model_tag(model_name, alias_record_tag(alias), str(version.version), client)
    if not signal.model_id:
        warn_no_signal_model(model_name, str(version.version), signal.why)
    return Promotion(model_name, str(version.version), alias, previous, candidate, forced, reason, tags)


def version_tags(candidate: Candidate, *, alias: str, forced: bool, reason: str) -> dict[str, str]:
    """The tags a promoted version carries (empty values left out)."""
    run = candidate.run
    best = {key.removeprefix("best."): param_value(value) for key, value in run.params.items() if key.startswith("best.")}
    tags = {
        tag.DATASET_DIGEST: run.dataset_digest,
        tag.FEATURES: run.tags.get(tag.FEATURES, ""),
        tag.TARGET: run.target,
        tag.MODEL_ENGINE: run.params.get("model.engine", ""),
        tag.MODEL_ID: candidate.model.model_id,
        tag.PARAMS: json.dumps(best, sort_keys=True),
        tag.CODE_REVISION: run.tags.get(tag.CODE_REVISION, ""),
        tag.EVIDENCE_RUNS: json.dumps(candidate.evidence_runs),
        tag.GATES: json.dumps(gates_to_json_ready(candidate.gates)),
        tag.PROMOTED_BY: current_user(),
        tag.PROMOTED_AT: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        tag.PROMOTED_AS: alias,
    }
    if forced:
        tags[tag.FORCED] = "true"
        tags[tag.FORCE_REASON] = reason
    return {key: value for key, value in tags.items() if value}


def already_promoted(run_id: str, model_name: str, alias: str, client: "MlflowClient") -> "Promotion | None":
    """The promotion that already holds ``alias`` for ``run_id`` (through the gate), or None.

    Promoting the run that already is the champion changes nothing: no second version, the
    alias and the first version's record (its final-eval verdict included) stay as they are.
    """
    try:
        version = gate_version(model_name, alias, client)
    except ChampionError:
        return None
    if version.run_id != run_id:
        return None
    tags = dict(version.tags or {})
    return Promotion(model_name, str(version.version), alias, None, None, tags.get(tag.FORCED) == "true",
                     tags.get(tag.FORCE_REASON, ""), tags, unchanged=True)


def _version_with_alias(client: "MlflowClient", model_name: str, alias: str) -> str | None:
    version = tracking.version_by_alias(model_name, alias, client)
    return None if version is None else str(version.version)


@contextlib.contextmanager
def promotion_lock(model_name: str, client: "MlflowClient | None" = None, wait_s: float = LOCK_WAIT_S):
    """Hold the promotion lock of ``model_name`` for the ``with`` block (a registered model as mutex).

    Raises
    ------
    RegistryError
        Another promotion held the lock for longer than ``wait_s`` seconds and is still alive.
    """
    from lab.tracking import MlflowException  # heavy: loads mlflow

    client = get_client(client)
    name = f"{LOCK_PREFIX}promote-{model_name}"
    claim = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    while True:
        tags = {tag.KIND: "promotion-lock", tag.LOCK_MODEL_NAME: model_name, tag.LOCK_CLAIM: claim,
                tag.LOCK_PROCESS: json.dumps(this_process()), tag.LOCK_TAKEN_AT: f"{time.time():.3f}"}
        try:
            if tracking.create_registered_model_if_absent(name, tags=tags, client=client, description=(
                    f"Lock: a promotion of {model_name!r} is moving its aliases. Deleted when it ends.")):
                break
        except MlflowException as exc:
            if not tracking.is_busy(exc):
                raise RegistryError(f"could not take the promotion lock {name} in {client.tracking_uri}: "
                                    f"{exc.message}") from None
        holder = _lock_holder(client, name)
        if holder is not None and _lock_stale(holder, process_gone):
            with contextlib.suppress(MlflowException):
                if (_lock_holder(client, name) or {}).get(tag.LOCK_CLAIM) == holder.get(tag.LOCK_CLAIM):
                    client.delete_registered_model(name)
            continue
        if time.monotonic() > deadline:
            raise RegistryError(f"another promotion of {model_name!r} holds the lock {name} "
                                f"({(holder or {}).get(tag.LOCK_PROCESS, '?')}); retry when it is done, or, if "
                                f"that process is gone, delete the registered model {name}")
        time.sleep(0.05 + random.random() * 0.15)
    try:
        yield
    finally:
        with contextlib.suppress(MlflowException):
            if (_lock_holder(client, name) or {}).get(tag.LOCK_CLAIM) == claim:
                client.delete_registered_model(name)


def _lock_holder(client: "MlflowClient", name: str) -> dict[str, str] | None:
    from lab.tracking import MlflowException  # heavy: loads mlflow

    try:
        return dict(client.get_registered_model(name).tags)
    except MlflowException:
        return None


def _lock_stale(tags: dict[str, str], process_gone) -> bool:
    try:
        record = json.loads(tags.get(tag.LOCK_PROCESS, "{}"))
        age = time.time() - float(tags.get(tag.LOCK_TAKEN_AT, "0"))
    except ValueError:
        return True
    return (isinstance(record, dict) and process_gone(record)) or age > LOCK_STALE_S
