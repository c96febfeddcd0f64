"""The demo chain behind `lab demo`: every stage of the lab once, on synthetic data with a planted edge.

featurize -> tune -> walk-forward -> backtest -> promote -> final-eval, each an MLflow run of the
MLproject (run here with ``env_manager="local"``). ``demo.toml`` plants a direction edge in the
synthetic market (``[data] synthetic_edge_auc``) strong enough for the plan's criteria, so the gate
passes on its own and final-eval gives its verdict. With ``no_edge=True`` the same chain runs on the
honest martingale: the gate refuses, as it did for the plan on real data, and the demo stops there
(no forced promotion, no look at the test window).

:func:`demo_home` is where `lab demo` keeps its own tracking store, data and configuration: a rerun
deletes and rebuilds it, and nothing of the user's store, models or sealed windows is touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Callable

from lab import tags as tag
from lab import tracking
from lab.config import load_config
from lab.paths import project_root
from lab.tracking import EntryPointFailed, configure, run_entry_point
from registry.gate import format_gate_table
from registry.promote import check_candidate, promote

__all__ = ["run_demo", "demo_home", "prepare_demo_home"]

DEMO_TARGET = "target_6bar"


def _entry(entry: str, params: dict[str, str], experiment: str, echo: Callable[[str], None]) -> str:
    echo(f"\n=== {entry} ===")
    return run_entry_point(entry, params, experiment_name=experiment).raise_for_status().run_id


def demo_home() -> Path:
    """``demo/`` under the project root: the demo's tracking store (``mlflow.db``, ``mlruns/``) and data."""
    return project_root() / "demo"


def prepare_demo_home(config_path: str, experiment: str, no_edge: bool = False, home: Path | None = None) -> str:
    """Start the demo clean: delete ``home``, point ``LAB_HOME`` and ``MLFLOW_TRACKING_URI`` at it,
    create the experiment, and write the configuration the entry points read. Returns its path.

    With ``no_edge`` the configuration's ``[data] synthetic_edge_auc`` is set to 0 (the honest null).
    """
    home = (home or demo_home()).resolve()
    text = Path(config_path).read_text()
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    if no_edge:
        text, n = re.subn(r"(?m)^synthetic_edge_auc\s*=.*$", "synthetic_edge_auc = 0.0             # --no-edge", text)
        if n == 0:
            text = re.sub(r"(?m)^\[data\]\s*$", "[data]\nsynthetic_edge_auc = 0.0", text, count=1) if "[data]" in text \
                else "[data]\nsynthetic_edge_auc = 0.0\n\n" + text
    config = home / ("demo-no-edge.toml" if no_edge else "demo.toml")
    config.write_text(text)
    load_config(config)  # refuse a broken configuration before any run starts
    uri = f"sqlite:///{home / 'mlflow.db'}"
    os.environ["LAB_HOME"] = str(home)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    tracking.set_tracking_uri(uri)
    with contextlib.chdir(home):  # the store is created here: its Default experiment keeps artifacts in home/mlruns
        tracking.create_experiment(experiment, artifact_location=(home / "mlruns").as_uri())  # the store once, here
    return str(config)


def run_demo(config_path: str, experiment: str, echo: Callable[[str], None] = print,
             force_when_refused: bool = False) -> dict[str, str]:
    """Run the chain in the current tracking store; returns the run id of each stage (and the version).

    When the gate refuses, the chain stops after saying which gates failed, unless
    ``force_when_refused`` (used by the tests of the run contract on data with no edge), which
    promotes with ``--force`` and a reason and goes on to final-eval.
    """
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
    edge = config.data.synthetic_edge_auc if not config.data.path else None
    if candidate.passed:
        echo("The gate PASSED without --force" + (f" (synthetic data, planted edge AUC {edge:g})." if edge else "."))
        promotion = promote(runs["tune"], config.promotion, candidate=candidate)
    elif force_when_refused:
        reason = ("demo on synthetic data: the honest gates failed as they should (5-minute direction is "
                  "unpredictable by construction); forced so the rest of the chain can be shown")
        echo(f"The gates failed; promoting anyway with --force --reason {reason!r}")
        promotion = promote(runs["tune"], config.promotion, force=True, reason=reason, candidate=candidate)
    else:
        failed = ", ".join(g.name for g in candidate.gates if not g.passed)
        echo(f"\nThe gate REFUSED the model (failed: {failed}). "
             + ("This is the honest null: the synthetic market has no planted edge, 5-minute direction is a "
                "martingale, and the lab finds nothing, as the plan found nothing on real data. "
                if edge == 0 else "")
             + "Nothing is promoted and the test window stays unseen. Run `lab demo` (with the planted edge) "
               "to see the whole chain pass.")
        _browse_hint(experiment, config_path, echo)
        return runs
    runs["model_version"] = promotion.version
    echo(f"registered {promotion.model_name} version {promotion.version} as {promotion.alias}")

    try:
        runs["final-eval"] = _entry("final-eval", common, experiment, echo)
        _echo_verdict(runs["final-eval"], echo)
    except EntryPointFailed:
        echo(f"final-eval refused or failed: the test window {config.windows.test} of {config.promotion.model_name} "
             "may already be spent (it is looked at once); see `lab status --config " + config_path + "`")
    _browse_hint(experiment, config_path, echo)
    return runs


def _echo_verdict(run_id: str, echo: Callable[[str], None]) -> None:
    run = tracking.get_run(run_id)
    metrics = run.data.metrics
    shown = ", ".join(f"{key} {metrics[key]:.3f}" for key in ("direction_auc", "win_rate", "profit_factor",
                                                              "trades_per_day", "total_pnl_usd") if key in metrics)
    echo(f"final-eval verdict: {run.data.tags.get(tag.VERDICT, '(none)')}" + (f" ({shown})" if shown else ""))


def _browse_hint(experiment: str, config_path: str, echo: Callable[[str], None]) -> None:
    uri = tracking.tracking_uri()
    echo("\nDone. Browse every run, metric, equity curve and feature importance with:\n"
         f"    mlflow ui --workers 1 --backend-store-uri {uri}\nthen open http://127.0.0.1:5000 (experiment "
         f"{experiment!r}).\nThe demo's runs, models and seals live in its own store; to keep working in it "
         f"(the hints the jobs printed included), first:\n    export MLFLOW_TRACKING_URI={uri}\nand give the "
         f"commands its configuration, for example:\n    lab paper --config {config_path} --from 2023-03-01 --to 2023-03-31")
