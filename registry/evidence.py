"""Find what the gate judges: the candidate's model and its walk-forward and backtest runs.

The run contract (what the jobs log) that this module reads:

- the candidate (a tune run) holds a model logged with a native flavor; its tag ``lab.model_id``
  names the LoggedModel (else the LoggedModel whose ``source_run_id`` is the run is used);
- evidence runs carry ``lab.stage`` (``walk-forward`` / ``backtest``), ``lab.evidence_for`` = the
  candidate's run id and ``lab.dataset_digest``; backtests also ``lab.window = validation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from lab import tags as tag
from lab.tracking import param_value
from registry.errors import CandidateError
from registry.gate import Evidence, GateResult, RunFacts
from registry.records import get_client  # noqa: F401 (the registry's one client helper, used here and re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["Candidate", "ModelRef", "get_client", "run_facts", "find_model", "find_evidence", "EVIDENCE_STAGES", "TRADING_SECTIONS",
           "with_trading_settings"]

#: The configuration sections a champion trades with: those its validation backtest logged.
TRADING_SECTIONS = ("rules.", "costs.", "strategy.")

#: The stages whose runs count as evidence, and the extra tags each must carry.
EVIDENCE_STAGES: dict[str, dict[str, str]] = {
    "walk-forward": {},
    "backtest": {tag.WINDOW: "validation"},
}


@dataclass(frozen=True)
class ModelRef:
    """The logged model a run holds.

    Parameters
    ----------
    model_id : str
        The LoggedModel id (``m-...``).
    model_uri : str
        ``models:/<model_id>``: what the registry version is created from.
    found_by : str
        ``tag`` (the run's ``lab.model_id``) or ``search`` (a LoggedModel with this source run).
    """

    model_id: str
    model_uri: str
    found_by: str


def run_facts(run_id: str, client: "MlflowClient | None" = None) -> RunFacts:
    """Load one run as :class:`RunFacts`.

    Raises
    ------
    CandidateError
        No run has this id in the current tracking store.
    """
    from lab.tracking import MlflowException  # heavy: loads mlflow

    client = get_client(client)
    if not run_id or not run_id.strip():
        raise CandidateError("--run-id is empty; pass the id of the tune run whose model you want to promote")
    try:
        run = client.get_run(run_id.strip())
    except MlflowException as exc:
        raise CandidateError(
            f"no run {run_id!r} in the tracking store {client.tracking_uri}: {exc.message}. Check the id in "
            "`mlflow ui` and that MLFLOW_TRACKING_URI points at the store that holds it"
        ) from None
    return _facts(run)


def _facts(run: Any) -> RunFacts:
    return RunFacts(
        run_id=run.info.run_id,
        status=run.info.status,
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        start_time_ms=int(run.info.start_time or 0),
    )


def find_model(candidate: RunFacts, client: "MlflowClient | None" = None) -> ModelRef:
    """The logged model held by ``candidate``.

    Parameters
    ----------
    candidate : RunFacts
        The run to promote.
    client : MlflowClient, optional

    Raises
    ------
    CandidateError
        The run names no model, its ``lab.model_id`` points at a missing model, or it holds
        several models and names none of them.
    """
    from lab.tracking import MlflowException  # heavy: loads mlflow

    client = get_client(client)
    model_id = candidate.tags.get(tag.MODEL_ID, "").strip()
    if model_id:
        try:
            client.get_logged_model(model_id)
        except MlflowException:
            raise CandidateError(
                f"run {candidate.run_id} names model {model_id} (tag lab.model_id) but the tracking store has no "
                "such logged model; it was deleted or lives in another store. Re-run tune, then promote its run"
            ) from None
        return ModelRef(model_id, f"models:/{model_id}", "tag")
    experiment_id = client.get_run(candidate.run_id).info.experiment_id
    found = client.search_logged_models(
        experiment_ids=[experiment_id], filter_string=f"source_run_id = '{candidate.run_id}'"
    )
    models = list(found)
    if not models:
        stage = candidate.stage or "untagged"
        raise CandidateError(
            f"run {candidate.run_id} ({stage}) holds no logged model: no tag lab.model_id and no LoggedModel whose "
            "source run it is. Promote the tune run that logged the best model (tag lab.stage = tune)"
        )
    if len(models) > 1:
        named = [m for m in models if m.name == "model"]
        if len(named) != 1:
            ids = ", ".join(sorted(m.model_id for m in models))
            raise CandidateError(
                f"run {candidate.run_id} holds {len(models)} logged models ({ids}) and no tag lab.model_id says "
                "which one to promote; set the tag on the run (mlflow ui, or MlflowClient().set_tag)"
            )
        models = named
    return ModelRef(models[0].model_id, f"models:/{models[0].model_id}", "search")


def find_evidence(candidate: RunFacts, stage: str, client: "MlflowClient | None" = None) -> Evidence:
    """The newest FINISHED ``stage`` run made for ``candidate`` on its dataset digest.

    Parameters
    ----------
    candidate : RunFacts
        The run to promote; evidence runs carry ``lab.evidence_for`` = its run id.
    stage : str
        ``walk-forward`` or ``backtest`` (backtests must also be tagged ``lab.window = validation``).
    client : MlflowClient, optional

    Returns
    -------
    Evidence
        With ``run`` set when found, else a ``note`` saying what was found and why it does not
        count (still running, failed, another dataset, another target, another window).
    """
    if stage not in EVIDENCE_STAGES:
        raise ValueError(f"stage {stage!r} is not an evidence stage; use one of {', '.join(EVIDENCE_STAGES)}")
    client = get_client(client)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    filter_string = f"tags.`{tag.STAGE}` = '{stage}' and tags.`{tag.EVIDENCE_FOR}` = '{candidate.run_id}'"
    runs = client.search_runs(experiment_ids, filter_string, order_by=["attributes.start_time DESC"], max_results=200)
    if not runs:
        return Evidence(stage, None, f"no {stage} run is tagged lab.evidence_for = {candidate.run_id}; "
                                     f"run `mlflow run . -e {stage}` for it")
    rejected: list[str] = []
    for run in runs:
        facts = _facts(run)
        reason = _mismatch(candidate, facts, EVIDENCE_STAGES[stage])
        if reason is None:
            return Evidence(stage, facts, "")
        rejected.append(f"{facts.run_id} {reason}")
    shown = "; ".join(rejected[:3]) + (f"; and {len(rejected) - 3} more" if len(rejected) > 3 else "")
    return Evidence(stage, None, f"no {stage} run qualifies: {shown}")


def _mismatch(candidate: RunFacts, evidence: RunFacts, required_tags: dict[str, str]) -> str | None:
    if evidence.status != "FINISHED":
        return f"is {evidence.status}"
    if not candidate.dataset_digest:
        return f"cannot be matched: run {candidate.run_id} has no lab.dataset_digest tag"
    if evidence.dataset_digest != candidate.dataset_digest:
        return f"is on dataset {evidence.dataset_digest or '(none)'}, not {candidate.dataset_digest}"
    if candidate.target and evidence.target and candidate.target != evidence.target:
        return f"is for {evidence.target}, not {candidate.target}"
    for key, value in required_tags.items():
        if evidence.tags.get(key) != value:
            return f"has {key} = {evidence.tags.get(key, '(none)')}, not {value}"
    return None


def with_trading_settings(config: Any, backtest_params: "Mapping[str, str]") -> Any:
    """``config`` (a :class:`lab.config.settings.LabConfig`) with rules, costs and strategy as a backtest run
    logged them (its ``rules.*``, ``costs.*`` and ``strategy.*`` params): how its champion trades.

    Final-eval, paper trading and the servable signal model all trade a champion this way.
    """
    return config.replace({k: param_value(v) for k, v in backtest_params.items() if k.startswith(TRADING_SECTIONS)})


@dataclass(frozen=True)
class Candidate:
    """A run judged by the gate: its facts, its model, its evidence and every gate result."""

    run: RunFacts
    model: ModelRef
    walk_forward: Evidence
    backtest: Evidence
    gates: list[GateResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every gate passed."""
        return all(gate.passed for gate in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        """The gates that did not pass."""
        return [gate for gate in self.gates if not gate.passed]

    @property
    def evidence_runs(self) -> dict[str, str | None]:
        """``{"tune": id, "walk-forward": id or None, "backtest": id or None}``."""
        return {
            "tune": self.run.run_id,
            "walk-forward": self.walk_forward.run.run_id if self.walk_forward.run else None,
            "backtest": self.backtest.run.run_id if self.backtest.run else None,
        }
