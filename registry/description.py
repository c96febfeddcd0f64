"""The description of a promoted version: what the MLflow UI shows in full on the version's page.

Tags hold the same facts for machines (``lab.gates``, ``lab.forced`` ...), but the UI shows a few
tags at a time; the description is Markdown a person reads: the verdict of the final evaluation
(once there is one), whether the promotion was forced and why, the gate table, and links to the
evidence runs. Pure: text in, text out.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["version_description", "with_verdict"]

_VERDICT_HEADING = "### Final evaluation"


def _cell(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value).replace("|", "\\|").replace("\n", " ")


def version_description(
    *,
    model_name: str,
    run_id: str,
    experiment_id: str,
    target: str,
    dataset_digest: str,
    gates: Sequence[Mapping[str, Any]],
    evidence_runs: Mapping[str, str],
    forced: bool,
    reason: str,
    promoted_by: str,
    promoted_at: str,
    strategy: str = "",
) -> str:
    """Markdown for a new version: provenance, the forced flag and reason, the gates, the evidence.

    Parameters
    ----------
    gates : sequence of mapping
        :func:`registry.gate.gates_to_json_ready` rows: ``name``, ``passed``, ``measured``,
        ``threshold``, ``rule``, ``note``.
    evidence_runs : mapping of str to str
        Role (``tune``, ``walk-forward``, ``backtest``) -> run id; linked in the UI.
    strategy : str, optional
        The strategy its validation backtest ran, which final-eval, paper trading and serving trade.
    """
    def link(run: str) -> str:
        return f"[{run}](#/experiments/{experiment_id}/runs/{run})" if run else "none"

    passed = sum(1 for gate in gates if gate.get("passed"))
    lines = [f"**{model_name}**, `{target}`, tune run {link(run_id)}, dataset `{dataset_digest}`"
             + (f"; trades the **{strategy}** strategy of its validation backtest." if strategy else "."), ""]
    if forced:
        lines += [f"**FORCED**: promoted with `--force` although {len(gates) - passed} of {len(gates)} gates failed. "
                  f"Reason given: *{_cell(reason)}*", ""]
    else:
        lines += [f"Promoted by the gate: {passed} of {len(gates)} gates passed.", ""]
    lines += ["| gate | result | measured | threshold | note |", "|---|---|---|---|---|"]
    for gate in gates:
        rule = gate.get("rule", "")
        threshold = _cell(gate.get("threshold")) if rule == "found" else f"{rule} {_cell(gate.get('threshold'))}"
        lines.append(f"| {gate.get('name', '')} | {'PASS' if gate.get('passed') else '**FAIL**'} | "
                     f"{_cell(gate.get('measured'))} | {threshold} | {_cell(gate.get('note', ''))} |")
    lines += ["", "Evidence: " + ", ".join(f"{role} {link(run)}" for role, run in evidence_runs.items()) + ".",
              f"Promoted by {promoted_by} at {promoted_at}.", "", _VERDICT_HEADING, "", "Not yet evaluated on the test window."]
    return "\n".join(lines)


def with_verdict(description: str, *, verdict: str, run_id: str, experiment_id: str, window: str, ticket: str) -> str:
    """``description`` with its final-evaluation section replaced by the verdict and its run."""
    head = description.split(_VERDICT_HEADING)[0].rstrip()
    return (f"{head}\n\n{_VERDICT_HEADING}\n\n**{verdict}** on the test window {window}: run "
            f"[{run_id}](#/experiments/{experiment_id}/runs/{run_id}), ticket `{ticket}`.")
