"""The champion monitor (entry point ``monitor``; ``lab monitor``; weekly in ``jobs/schedule.toml``).

What "recent" means comes from the records: the champion's newest finished paper run (``lab
paper``), its window and its trades. Its window's featurized rows are the recent data: from the
validation table, or for later dates read from the data file (never a sealed range); without a
paper run, the newest ``--recent-days`` of the validation window are. ``--trades-run`` names another run whose
``trades.csv`` to judge. Compared with the champion's training rows: PSI per model feature; ECE
of its probabilities on the recent labelled rows against the ECE on the rest of the validation
window; the trades' P&L against Monte Carlo bands of the validation backtest's trades. Logs one
run (``lab.stage = monitor``) with ``psi.csv``, the metrics and what it compared (params
``recent_window``, ``recent_from``, ``trades_from``); on PSI > 0.25 or ECE > 2x validation the run
is tagged ``lab.alert`` and so is the champion's version (``lab status`` shows it; the next clean
run clears it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from typing import Callable

import numpy as np
import pandas as pd

from jobs.common import base_parser, config_from_args, job_main, load_run_model, prepare, refuse
from jobs.context import DataIdentity, open_job
from jobs.lineage import config_for
from lab import tags as tag
from lab import tracking
from lab.config import LabConfig
from lab.config.parsing import parse_number_param
from lab.data.readers import read_minutes
from lab.dataset.build import TEST_WARMUP_DAYS, build_window_table
from lab.errors import LabError
from lab.live.monitor import monitor_alerts, pnl_bands, psi_table
from lab.models.evaluation import expected_calibration_error
from registry.champion import gate_version

__all__ = ["run_monitor", "main"]


def _champion(config: LabConfig):
    """The champion to monitor, when the gate put it there (:func:`registry.champion.gate_version`)."""
    return gate_version(config.promotion.model_name, "champion")


def _trades_pnl(run_id: str | None) -> np.ndarray:
    """``pnl_usd`` of a run's ``trades.csv`` (empty when there is no such run or file)."""
    if not run_id:
        return np.empty(0)
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = tracking.download_artifact(run_id, "trades.csv", folder)
        except (tracking.MlflowException, OSError) as exc:
            raise LabError(f"run {run_id} has no trades.csv to compare ({exc}); pass a backtest or paper run") from None
        return pd.read_csv(path)["pnl_usd"].to_numpy(np.float64)


def _ece(table: pd.DataFrame, model, target: str) -> float:
    rows = table[target].notna()
    if rows.sum() == 0 or table.loc[rows, target].nunique() < 1:
        return float("nan")
    return expected_calibration_error(table.loc[rows, target].to_numpy(), model.predict(table.loc[rows]))


def newest_paper_run(model_name: str, version: str):
    """The newest FINISHED paper run of ``model_name`` version ``version`` (``None`` when there is none)."""
    runs = tracking.find_runs(f"tags.`{tag.STAGE}` = 'paper' and tags.`{tag.MODEL_NAME}` = '{model_name}' and "
                              f"tags.`{tag.MODEL_VERSION}` = '{version}' and attributes.status = 'FINISHED'",
                              include_deleted=False)
    return max(runs, key=lambda r: r.info.start_time, default=None)


def recent_rows(validation: pd.DataFrame, paper_run, recent_days: int,
                read_window: Callable[[dt.date, dt.date], pd.DataFrame] | None = None
                ) -> tuple[pd.DataFrame, str, str]:
    """The recent rows, their window (``YYYY-MM-DD..YYYY-MM-DD``) and where that choice came from.

    The paper run's window: its rows of ``validation`` when it lies there, else (a paper run on
    later dates) ``read_window(first, last)``, the featurized rows read from the data file; without
    a paper run or rows, the last ``recent_days`` calendar days of ``validation``.
    """
    if paper_run is not None and ".." in paper_run.data.params.get("window", ""):
        first, last = (dt.date.fromisoformat(d) for d in paper_run.data.params["window"].split(".."))
        rows = validation.loc[str(first):str(last)]
        source = f"paper run {paper_run.info.run_id}"
        if rows.empty and read_window is not None:
            rows, source = read_window(first, last), source + " (its dates read from the data file)"
        if not rows.empty:
            return rows, f"{rows.index[0].date()}..{rows.index[-1].date()}", source
    cutoff = validation.index[-1] - pd.Timedelta(days=recent_days)
    rows = validation.loc[validation.index > cutoff]
    return rows, f"{rows.index[0].date()}..{rows.index[-1].date()}", f"last {recent_days} days of the validation window"


def window_reader(config: LabConfig, data: DataIdentity) -> Callable[[dt.date, dt.date], pd.DataFrame]:
    """``read(first, last)``: the featurized bars of ``first..last`` from the job's data file, the
    indicators formed on the days before; empty when the dates touch a sealed range of the market
    (never read) or the file holds none of them."""
    def read(first: dt.date, last: dt.date) -> pd.DataFrame:
        sealed = data.sealed
        if any(first <= r.end and r.start <= last for r in sealed):
            return pd.DataFrame()
        minutes = read_minutes(data.path, tz=config.data.timezone, on_bad_rows=config.data.on_bad_rows,
                               max_bad_share=config.data.max_bad_share,
                               since=first - dt.timedelta(days=TEST_WARMUP_DAYS), until=last + dt.timedelta(days=1),
                               exclude=[(r.start, r.end) for r in sealed]).minutes
        try:
            return build_window_table(minutes, config, first, last)[0]
        except LabError:
            return pd.DataFrame()

    return read


def run_monitor(config: LabConfig, recent_days: int = 30, trades_run: str = "") -> list[str]:
    """Run the monitor once; returns the alert reasons (empty: no alert).

    ``trades_run`` empty: the champion's newest paper run (none: no P&L comparison).
    """
    version = _champion(config)
    model = load_run_model(version.run_id, version.source)
    name = f"{config.promotion.model_name}/{version.version}"
    paper_run = newest_paper_run(config.promotion.model_name, str(version.version))
    if not trades_run and paper_run is not None:
        trades_run = paper_run.info.run_id
    # ``trades_run`` is an MLproject parameter (logged by mlflow run as given): the run used is ``trades_from``.
    with open_job("monitor", config, target=model.target, params={"trades_from": trades_run or "none"},
                  tags={tag.CHAMPION_VERSION: name}, builds_on=[version.run_id]) as job:
        dataset = prepare(job)
        train, validation = dataset.tables["train"], dataset.tables["validation"]
        recent, window, source = recent_rows(validation, paper_run, recent_days, window_reader(config, job.data))
        earlier = validation.drop(recent.index.intersection(validation.index))
        if earlier.empty:  # the recent window is the whole validation window: compare with itself, and say so
            earlier = validation
            source += " (the whole validation window: ECE compared with itself)"
        tracking.log_params({"recent_window": window, "recent_from": source})
        features = list(model.features)
        psi = psi_table(train, recent, features)
        recent_ece, validation_ece = _ece(recent, model, model.target), _ece(earlier, model, model.target)
        backtest_run = json.loads(version.tags.get(tag.EVIDENCE_RUNS, "{}")).get("backtest")
        bands = pnl_bands(_trades_pnl(backtest_run), _trades_pnl(trades_run))
        metrics = {f"psi.{row.feature}": row.psi for row in psi.itertuples()}
        metrics.update({"psi_max": float(psi["psi"].max()), "ece_recent": recent_ece, "ece_validation": validation_ece,
                        "recent_rows": float(len(recent)), **{f"pnl.{k}": v for k, v in bands.items()}})
        tracking.log_metrics(metrics)
        tracking.log_table(psi, "psi.csv")
        alerts = monitor_alerts(psi, recent_ece, validation_ece)
        run_id = job.run_id
        model_name = config.promotion.model_name
        if alerts:
            text = "; ".join(alerts)[:5000]
            tracking.set_tags({tag.ALERT: text})
            tracking.set_version_tags(model_name, version.version, {tag.ALERT: text})
        elif tag.ALERT in version.tags:  # a clean run clears the champion's alert
            tracking.delete_version_tag(model_name, version.version, tag.ALERT)
        tracking.set_version_tags(model_name, version.version, {tag.MONITOR_RUN: run_id})
    return alerts


@job_main("monitor")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser("Champion monitor: feature drift (PSI), calibration (ECE), P&L against its bands")
    parser.add_argument("--recent-days", default="30", help="without a paper run of the champion: calendar days at "
                        "the end of the validation window compared (default 30)")
    parser.add_argument("--trades-run", default="", help="run whose trades.csv is compared with the validation bands "
                        "(default: the champion's newest paper run)")
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)  # chooses the registered model; its champion's run gives the rest
        version = _champion(config)
        # Everything else is the champion's own (its tune run's data and settings): --config only names the model.
        own = argparse.Namespace(config="", data=args.data)
        config = config_for(own, version.run_id, "monitor", **{"promotion.model_name": config.promotion.model_name})
        alerts = run_monitor(config, recent_days_param(args.recent_days), args.trades_run)
    except LabError as exc:
        return refuse("monitor", exc)
    print("monitor: " + ("ALERT: " + "; ".join(alerts) if alerts else "no alert"))
    return 0


def recent_days_param(text: str) -> int:
    """``-P recent_days`` as a whole number of calendar days >= 1 (default 30), refused naming the parameter."""
    if not text:
        return 30
    days = parse_number_param("-P recent_days", text, "30")
    if days < 1 or days != int(days):
        raise LabError(f"-P recent_days = {text!r} must be a whole number of days >= 1; write e.g. 30")
    return int(days)


if __name__ == "__main__":
    sys.exit(main())
