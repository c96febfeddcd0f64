"""The promotion policy as pure checks: facts about runs in, a list of :class:`GateResult` out.

Nothing here talks to MLflow: :mod:`registry.evidence` turns runs into :class:`RunFacts`, this
module decides, :mod:`registry.promote` acts. The gates, in order:

``walk_forward_evidence``
    a FINISHED walk-forward run for the candidate on the same dataset digest
    (``[promotion] require_walk_forward``).
``backtest_evidence``
    a FINISHED validation backtest of the candidate on the same digest (``require_backtest``).
``min_validation_auc``
    the candidate's ``val_auc`` >= ``min_validation_auc``.
``min_profit_factor``, ``min_trades_per_day``
    the backtest's ``profit_factor`` / ``trades_per_day`` at or above the threshold.
``max_worst_day_loss_usd``
    the loss of the backtest's worst day, ``max(0, -worst_day_usd)``, at or below the threshold
    (a worst day that still made money is a loss of 0).
``min_deflated_sharpe_prob``
    the backtest's deflated Sharpe probability, recomputed now from the trial ledger (N = every
    evaluation counted on that market's validation window) and V = the candidate study's
    ``trial_sharpe_variance`` (the variance of its trials' daily Sharpes), at or above the threshold.
``max_pbo``, ``max_spa_pvalue``
    the candidate study's probability of backtest overfitting (CSCV on its trials' daily P&L
    Sharpe) and Hansen's SPA p-value of its trials' daily P&L against 0 (metrics ``pbo`` and
    ``spa_pvalue`` of the tune run), at or below the threshold; each note names its inputs (T
    sessions, trials, S blocks; bootstrap replications and mean block length). A study whose
    trials earned one and the same daily P&L (all one model, or no trades) fails ``max_pbo``
    with the sentence of :func:`registry.deflated.one_strategy_sentence`. See
    :mod:`registry.deflated` for what each is computed on.

When a backtest is neither required nor found, its four gates are not evaluated. A statistic
gate whose threshold is trivial (``min_deflated_sharpe_prob = 0``, ``max_pbo = 1``,
``max_spa_pvalue = 1``) is off: it passes and says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from lab.config import PromotionConfig
from lab.stats.requirements import study_statistics_cause
from registry.deflated import LedgerFacts, backtest_dsr, one_strategy_sentence
from lab import tags as tag

__all__ = ["RunFacts", "Evidence", "GateResult", "evaluate_gates", "statistic_gates", "format_gate_table",
           "gates_to_json_ready"]


@dataclass(frozen=True)
class RunFacts:
    """What the gate needs to know about one MLflow run, as plain values.

    Parameters
    ----------
    run_id : str
    status : str
        MLflow run status: ``FINISHED``, ``FAILED``, ``RUNNING`` ...
    tags, params : mapping of str to str
    metrics : mapping of str to float
        Latest value of each metric.
    start_time_ms : int, default 0
        Run start, milliseconds since the epoch (newest evidence wins).
    """

    run_id: str
    status: str = "FINISHED"
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    start_time_ms: int = 0

    @property
    def stage(self) -> str:
        """The ``lab.stage`` tag (empty when missing)."""
        return self.tags.get(tag.STAGE, "")

    @property
    def dataset_digest(self) -> str:
        """The ``lab.dataset_digest`` tag (empty when missing)."""
        return self.tags.get(tag.DATASET_DIGEST, "")

    @property
    def target(self) -> str:
        """The ``target`` parameter (empty when missing)."""
        return self.params.get("target", "")


@dataclass(frozen=True)
class Evidence:
    """The evidence run found for one stage, or ``None`` and why not.

    Parameters
    ----------
    stage : str
        ``walk-forward`` or ``backtest``.
    run : RunFacts or None
        The newest matching FINISHED run.
    note : str
        Why nothing matched (e.g. "run abc is on dataset X, not Y"); empty when found.
    """

    stage: str
    run: RunFacts | None = None
    note: str = ""


@dataclass(frozen=True)
class GateResult:
    """One gate: its name, whether it passed, the value measured and the threshold.

    Parameters
    ----------
    name : str
        e.g. ``min_profit_factor``.
    passed : bool
    measured : float, str or None
        The value found (a number, an evidence run id) or ``None`` when missing.
    threshold : float, str or None
        The configured limit (``[promotion]`` value) or what the evidence must satisfy.
    rule : str
        How measured is compared with threshold: ``>=``, ``<=`` or ``found``.
    note : str
        Why a gate failed or was waived, in words.
    """

    name: str
    passed: bool
    measured: float | str | None
    threshold: float | str | None
    rule: str = ">="
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``lab.gates`` on the model version holds)."""
        return asdict(self)


def evaluate_gates(
    policy: PromotionConfig,
    candidate: RunFacts,
    walk_forward: Evidence | None,
    backtest: Evidence | None,
    ledger: LedgerFacts | None = None,
) -> list[GateResult]:
    """Apply the ``[promotion]`` policy to a candidate and its evidence.

    Parameters
    ----------
    policy : PromotionConfig
        Requirements and thresholds from ``lab.toml``.
    candidate : RunFacts
        The run holding the model (a tune run); its ``val_auc`` metric is checked.
    walk_forward, backtest : Evidence or None
        What :func:`registry.evidence.find_evidence` found (``None``: not searched).
    ledger : LedgerFacts, optional
        The trial ledger of the backtest's market and validation window
        (:func:`registry.deflated.ledger_facts_of_run`); ``None``: not read (the deflated Sharpe fails).

    Returns
    -------
    list of GateResult
        In a fixed order; the candidate passes when every ``passed`` is true.
    """
    gates: list[GateResult] = []
    wf = walk_forward or Evidence("walk-forward", None, "not searched")
    bt = backtest or Evidence("backtest", None, "not searched")
    for evidence, required, name in (
        (wf, policy.require_walk_forward, "walk_forward_evidence"),
        (bt, policy.require_backtest, "backtest_evidence"),
    ):
        wanted = "FINISHED, same dataset" if candidate.dataset_digest else "FINISHED, dataset (none)"
        if evidence.run is not None:
            gates.append(GateResult(name, True, evidence.run.run_id, wanted, "found"))
        elif required:
            gates.append(GateResult(name, False, None, wanted, "found", evidence.note))
        else:
            key = "require_walk_forward" if evidence.stage == "walk-forward" else "require_backtest"
            gates.append(GateResult(name, True, None, "not required", "found",
                                    f"[promotion] {key} = false; {evidence.note}".rstrip("; ")))

    gates.append(_threshold_gate("min_validation_auc", candidate.metrics.get("val_auc"), policy.min_validation_auc,
                                 ">=", f"run {candidate.run_id} has no val_auc metric"))
    if candidate.metrics.get("val_prediction_spread") == 0.0 and not gates[-1].passed:
        last = gates[-1]  # the true cause, not just a low number
        gates[-1] = GateResult(last.name, False, last.measured, last.threshold, last.rule,
                               f"{last.note}: the model predicts one value for every validation row (a constant "
                               "model learned nothing)".lstrip(": "))
    if wf.run is not None or policy.require_walk_forward:
        # The honest one: validation AUC chose the model and stopped its training; walk-forward
        # folds early-stop inside their training months and score months no choice has seen.
        wf_auc = wf.run.metrics.get("wf_auc_mean") if wf.run is not None else None
        gates.append(_threshold_gate("min_walk_forward_auc", wf_auc, policy.min_walk_forward_auc, ">=",
                                     "no walk-forward evidence" if wf.run is None
                                     else f"walk-forward run {wf.run.run_id} has no wf_auc_mean metric"))
    if bt.run is not None or policy.require_backtest:
        metrics = bt.run.metrics if bt.run is not None else {}
        missing = "no backtest evidence" if bt.run is None else f"backtest run {bt.run.run_id} has no {{}} metric"
        gates.append(_threshold_gate("min_profit_factor", metrics.get("profit_factor"), policy.min_profit_factor,
                                     ">=", missing.format("profit_factor")))
        gates.append(_threshold_gate("min_trades_per_day", metrics.get("trades_per_day"), policy.min_trades_per_day,
                                     ">=", missing.format("trades_per_day")))
        worst = metrics.get("worst_day_usd")
        loss = None if worst is None else max(0.0, -float(worst))
        gates.append(_threshold_gate("max_worst_day_loss_usd", loss, policy.max_worst_day_loss_usd,
                                     "<=", missing.format("worst_day_usd")))
        if bt.run is None:
            dsr, dsr_note = None, "no backtest evidence"
        elif ledger is None:
            dsr, dsr_note = None, "the trial ledger was not read"
        else:
            dsr, dsr_note = backtest_dsr(bt.run.metrics, ledger, candidate.metrics.get("trial_sharpe_variance"))
            dsr_note = f"backtest {bt.run.run_id}: {dsr_note}"
        gates.extend(statistic_gates(policy, deflated_sharpe_prob=dsr, notes={"min_deflated_sharpe_prob": dsr_note},
                                     only=("min_deflated_sharpe_prob",)))
    pbo, spa = candidate.metrics.get("pbo"), candidate.metrics.get("spa_pvalue")
    study_gates = statistic_gates(policy, pbo=pbo, spa_pvalue=spa, only=("max_pbo", "max_spa_pvalue"), notes={
        "max_pbo": (_study_statistic_note(candidate, "pbo", "max_pbo = 1") or _study_inputs(candidate.metrics, "pbo")),
        "max_spa_pvalue": (_study_statistic_note(candidate, "spa_pvalue", "max_spa_pvalue = 1")
                           or _study_inputs(candidate.metrics, "spa"))})
    sentence = one_strategy_sentence(candidate.metrics)
    if sentence and policy.max_pbo != 1.0:  # one strategy measures nothing: it cannot pass, whatever PBO says
        first = study_gates[0]
        study_gates[0] = GateResult(first.name, False, first.measured, first.threshold, first.rule,
                                    f"the study cannot pass: {sentence}")
    gates.extend(study_gates)
    return gates


def _study_inputs(metrics: Mapping[str, float], statistic: str) -> str:
    """The inputs of a study statistic, from the tune run's metrics ("" when it logged none: an older run)."""
    def number(key: str) -> str:
        value = metrics.get(key)
        return "?" if value is None or not math.isfinite(float(value)) else f"{float(value):g}"

    if "study_sessions" not in metrics:
        return ""
    if statistic == "pbo":
        return (f"CSCV on the daily P&L Sharpe of {number('study_trials')} trials, T={number('study_sessions')} "
                f"sessions ({number('pbo_sessions_used')} used), S={number('pbo_blocks')} blocks")
    return (f"Hansen's SPA of {number('study_trials')} trials' daily P&L against 0, T={number('study_sessions')} "
            f"sessions, {number('spa_reps')} stationary-bootstrap reps, mean block {float(metrics.get('spa_block_length', math.nan)):.1f} sessions")


def _study_statistic_note(candidate: Any, name: str, off: str) -> str:
    """Why a tune run's study statistic is missing or NaN: the true cause (too few sessions or trials,
    from its ``study_sessions``/``study_trials``), or, for a run that never logged those, that it was
    tuned before the lab measured its study. Empty when the value is there."""
    value = candidate.metrics.get(name)
    if value is not None and math.isfinite(float(value)):
        return ""
    cause = study_statistics_cause(name, candidate.metrics.get("study_sessions"), candidate.metrics.get("study_trials"))
    if cause is not None:
        return f"{cause}; or set [promotion] {off} to turn the gate off"
    return (f"run {candidate.run_id} has no {name} metric (tuned before the lab measured its study); "
            f"re-run tune, or set [promotion] {off} to turn the gate off")


def statistic_gates(
    policy: PromotionConfig,
    *,
    deflated_sharpe_prob: float | None = None,
    pbo: float | None = None,
    spa_pvalue: float | None = None,
    notes: dict[str, str] | None = None,
    only: tuple[str, ...] = ("min_deflated_sharpe_prob", "max_pbo", "max_spa_pvalue"),
) -> list[GateResult]:
    """The three gates on the study-level statistics, as :func:`evaluate_gates` applies them.

    Parameters
    ----------
    policy : PromotionConfig
        ``min_deflated_sharpe_prob``, ``max_pbo``, ``max_spa_pvalue``.
    deflated_sharpe_prob, pbo, spa_pvalue : float or None
        The measured values (probabilities); ``None`` or NaN: not measured, the gate fails.
    notes : dict, optional
        Per gate name: why a value is missing, or how it was measured (shown with the result).
    only : tuple of str
        Which of the three gates to return, in this order.

    Returns
    -------
    list of GateResult
        A gate whose threshold is trivial (0 for the minimum, 1 for a maximum) passes as "off".
    """
    notes = notes or {}
    specs = {"min_deflated_sharpe_prob": (deflated_sharpe_prob, policy.min_deflated_sharpe_prob, ">=", 0.0),
             "max_pbo": (pbo, policy.max_pbo, "<=", 1.0),
             "max_spa_pvalue": (spa_pvalue, policy.max_spa_pvalue, "<=", 1.0)}
    out = []
    for name in only:
        measured, threshold, rule, trivial = specs[name]
        value = None if measured is None or not math.isfinite(float(measured)) else float(measured)
        note = notes.get(name, "")
        if threshold == trivial:
            out.append(GateResult(name, True, value, threshold, rule, f"off ([promotion] {name} = {threshold:g})"))
            continue
        gate = _threshold_gate(name, value, threshold, rule, note or f"{name.split('_', 1)[1]} not measured")
        if gate.passed and note:
            gate = GateResult(gate.name, True, gate.measured, gate.threshold, gate.rule, note)
        elif not gate.passed and value is not None and note:
            gate = GateResult(gate.name, False, gate.measured, gate.threshold, gate.rule, f"{gate.note}; {note}")
        out.append(gate)
    return out


def _threshold_gate(name: str, measured: float | None, threshold: float, rule: str, missing_note: str) -> GateResult:
    if measured is None or not math.isfinite(float(measured)):
        return GateResult(name, False, None, threshold, rule, missing_note)
    value = float(measured)
    passed = value >= threshold if rule == ">=" else value <= threshold
    note = "" if passed else f"{value:g} is not {rule} {threshold:g}"
    return GateResult(name, passed, value, threshold, rule, note)


def gates_to_json_ready(gates: list[GateResult]) -> list[dict[str, Any]]:
    """The gates as a list of dicts, for the ``lab.gates`` version tag."""
    return [gate.as_dict() for gate in gates]


def format_gate_table(gates: list[GateResult]) -> str:
    """The gates as a fixed-width text table: gate, PASS/FAIL, measured, threshold, note.

    Examples
    --------
    >>> print(format_gate_table([GateResult("min_profit_factor", False, 1.05, 1.2, ">=", "1.05 is not >= 1.2")]))
    gate               result  measured  threshold  note
    min_profit_factor  FAIL    1.05      >= 1.2     1.05 is not >= 1.2
    """
    rows = [("gate", "result", "measured", "threshold", "note")]
    for gate in gates:
        threshold = gate.threshold if gate.rule == "found" else f"{gate.rule} {_show(gate.threshold)}"
        rows.append((gate.name, "PASS" if gate.passed else "FAIL", _show(gate.measured), str(threshold), gate.note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _show(value: float | str | None) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)
