"""The demo chain behind `lab demo`: every stage of the lab once, on the configured data.

featurize -> tune -> walk-forward -> backtest -> promote -> final-eval, each an MLflow run of the
MLproject (run here with ``env_manager="local"``). On the synthetic default the honest gates fail
(direction is unpredictable by construction), so the demo promotes with ``--force`` and says so.
"""

from __future__ import annotations

from typing import Callable

from lab.config import load_config

__all__ = ["run_demo"]

DEMO_TARGET = "target_6bar"


def _entry(entry: str, params: dict[str, str], experiment: str, echo: Callable[[str], None]) -> str:
    from lab.tracking import run_entry_point

    echo(f"\n=== {entry} ===")
    return run_entry_point(entry, params, experiment_name=experiment).raise_for_status().run_id


def run_demo(config_path: str, experiment: str, echo: Callable[[str], None] = print) -> dict[str, str]:
    """Run the chain; returns the run id of each stage (and the registered version)."""
    from lab.tracking import EntryPointFailed, configure
    from registry.gate import format_gate_table
    from registry.promote import check_candidate, promote

    configure()
    config = load_config(config_path)
    common = {"config": config_path}
    runs = {"featurize": _entry("featurize", common, experiment, echo)}
    runs["tune"] = _entry("tune", {**common, "target": DEMO_TARGET}, experiment, echo)
    runs["walk-forward"] = _entry("walk-forward", {**common, "target": DEMO_TARGET, "params_from": runs["tune"]},
                                  experiment, echo)
    runs["backtest"] = _entry("backtest", {**common, "run_id": runs["tune"]}, experiment, echo)

    echo("\n=== promote ===")
    candidate = check_candidate(runs["tune"], config.promotion)
    echo(format_gate_table(candidate.gates))
    if candidate.passed:
        promotion = promote(runs["tune"], config.promotion, candidate=candidate)
    else:
        reason = ("demo on synthetic data: the honest gates failed as they should (5-minute direction is "
                  "unpredictable by construction); forced so the rest of the chain can be shown")
        echo(f"The gates failed; the demo promotes anyway with --force --reason {reason!r}")
        promotion = promote(runs["tune"], config.promotion, force=True, reason=reason, candidate=candidate)
    runs["model_version"] = promotion.version
    echo(f"registered {promotion.model_name} version {promotion.version} as {promotion.alias}")

    try:
        runs["final-eval"] = _entry("final-eval", common, experiment, echo)
    except EntryPointFailed:
        echo(f"final-eval refused or failed: the test window {config.windows.test} of {config.promotion.model_name} "
             "may already be spent (it is looked at once); see `lab status --config " + config_path + "`")
    echo("\nDone. Browse every run, metric, equity curve and feature importance with:\n"
         "    mlflow ui --workers 1\nthen open http://127.0.0.1:5000 (experiment "
         f"{experiment!r}); `lab status --config {config_path}` shows the champion and the test window.")
    return runs
