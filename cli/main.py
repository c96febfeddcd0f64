"""The ``lab`` command: drive the lab's entry points and inspect data from the shell."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import click

from cli.registry import promote_command, status_command, ticket_command
from cli.server import server_command
from jobs.common import data_argument
from jobs.demo import prepare_demo_home, run_demo
from jobs.scheduler import schedule
from lab import paths
from lab.config import load_lab_config
from lab.config.locate import config_origin, locate_config
from lab.data.contracts import is_contract_set, stitch_source
from lab.data.profile import config_text, next_commands, plan_windows, profile_minutes
from lab.data.readers import read_minutes
from lab.data.synth import generate_minutes
from lab.dataset.build import read_fingerprints, write_synthetic
from lab.errors import ConfigError, LabError
from lab.paths import code_root, find_minute_file, raw_dir
from lab.reports.data_check import check_file, summary_lines, write_pictures
from lab.tracking import run_entry_point
from lab.tracking.faults import store_fault
from registry.content import refuse_sealed_content
from registry.seals import sealed_ranges

__all__ = ["main"]

CONFIG_HELP = "lab configuration file (default: ./lab.toml here, else the project's)"


def _config_path(config: str) -> str:
    """``--config`` resolved where the user stands, absolute (entry points run in the project folder)."""
    path = locate_config(config)
    return "" if path is None else str(path)


def _data_path(data: str) -> str:
    """``--data`` made absolute when it names a file here (a bare name is looked up in data/raw/ later)."""
    return data_argument(data) if data else ""


def _run_entry_point(entry: str, params: dict[str, str], experiment: str | None) -> None:
    """Run an MLproject entry point in this environment (no conda, no virtualenv download).

    A refusal ends with the entry point's own one line (on stderr) and its exit code.
    """
    result = run_entry_point(entry, params, experiment_name=experiment)
    if not result.ok:
        raise SystemExit(result.exit_code or 1)
    click.echo(f"{entry}: run {result.run_id} {result.status}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """MES 5-minute research lab.

    \b
    Typical session:
      lab init FILE                 # a lab.toml fitted to your minute file
      lab featurize                 # minutes -> 5-min RTH bars -> features/targets (MLflow run)
      lab run tune -P target=target_vol
      lab run walk-forward -P params_from=<tune run> -P target=target_vol
      lab run backtest -P run_id=<tune run>
      lab analyze --run-id <tune run>   # the plan's Phase 4: sweep, robustness, overfitting
      lab promote --run-id <tune run>   # the registry gate
      lab run final-eval            # once per test window
      lab paper                     # the champion minute by minute under the backtest rules
      lab status                    # champion, gates, sealed test ranges, trial ledger, alerts
      lab server status             # the warm interpreter that starts lab commands in about a second
      lab demo                      # all of the above on the synthetic default
      mlflow ui --workers 1         # browse runs
    Every command takes --config: a path relative to where you stand; without it, ./lab.toml of
    this folder when there is one, else the project's lab.toml. The first line says which file.
    """


@cli.command()
@click.option("--config", default="", help=CONFIG_HELP)
@click.option("--data", default="", help="minute file; overrides [data] path (empty: configuration, else synthetic)")
@click.option("--on-bad-rows", type=click.Choice(["", "error", "drop"]), default="", help="overrides [data] on_bad_rows")
@click.option("--max-bad-share", default="", help="overrides [data] max_bad_share: the share of rows drop may drop (0.01)")
@click.option("--experiment", default=None, help="MLflow experiment name (default: MLflow's default experiment)")
def featurize(config: str, data: str, on_bad_rows: str, max_bad_share: str, experiment: str | None) -> None:
    """Run the featurize entry point (same as `mlflow run . -e featurize --env-manager local`)."""
    _run_entry_point("featurize", {"config": _config_path(config), "data": _data_path(data), "on_bad_rows": on_bad_rows,
                                   "max_bad_share": max_bad_share}, experiment)


@cli.command("init")
@click.argument("path", type=click.Path())
@click.option("--force", is_flag=True, help="overwrite an existing lab.toml in this folder")
@click.option("--target", default="target_6bar", show_default=True, help="target of the printed commands")
def init(path: str, force: bool, target: str) -> None:
    """Write a commented lab.toml for a minute file into the current folder (instrument, timezone,
    windows, walk-forward months and model name fitted to the file) and print the five commands
    that take it to a champion. A file too short for the warm-up and three windows is refused."""
    out = Path("lab.toml")
    if out.exists() and not force:
        raise ConfigError(f"{out.resolve()} exists; pass --force to overwrite it (or run `lab init` in another folder)")
    given = find_minute_file(path)
    readable = stitch_source(given, raw_dir())[0] if is_contract_set(given) else given
    minutes = read_minutes(readable, tz="UTC").minutes  # naive stamps as written: the zone is inferred from them
    profile = profile_minutes(given.name, minutes)
    plan = plan_windows(profile)
    text = config_text(profile, plan, str(given.resolve()))  # entry points run in the project folder
    out.write_text(text)
    load_lab_config(str(out))  # the file written must load: a broken one is the lab's bug, said here
    click.echo(f"wrote {out.resolve()} for {given.name}: {profile.instrument} ({profile.instrument_reason}); "
               f"timezone {profile.timezone}; {len(profile.sessions)} sessions {profile.sessions[0]}..{profile.sessions[-1]}")
    click.echo(f"  windows: train {plan.train[0]}..{plan.train[1]} ({plan.sessions['train']} sessions after a "
               f"{plan.sessions['warmup']}-session warm-up), validation {plan.validation[0]}..{plan.validation[1]} "
               f"({plan.sessions['validation']}), test {plan.test[0]}..{plan.test[1]} ({plan.sessions['test']}: "
               "looked at once, by final-eval)")
    click.echo("next, from this folder (each prints the run id the next one takes):")
    for i, command in enumerate(next_commands(target), 1):
        click.echo(f"  {i}. {command}")


@cli.command("run", context_settings={"ignore_unknown_options": False})
@click.argument("entry", type=click.Choice(["featurize", "tune", "walk-forward", "backtest", "analyze", "final-eval", "monitor", "paper"]))
@click.option("-P", "--param", "params", multiple=True, metavar="KEY=VALUE", help="entry point parameter (repeatable)")
@click.option("--experiment", default=None, help="MLflow experiment name")
def run_entry(entry: str, params: tuple[str, ...], experiment: str | None) -> None:
    """Run any entry point: `lab run tune -P target=target_vol` = `mlflow run . -e tune --env-manager local -P ...`."""
    pairs = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="-P")
        pairs[key] = value
    if pairs.get("config"):
        pairs["config"] = _config_path(pairs["config"])
    elif entry in ("featurize", "tune"):  # stages on no run: the configuration where you stand
        pairs["config"] = _config_path("")
    if pairs.get("data"):
        pairs["data"] = _data_path(pairs["data"])
    _run_entry_point(entry, pairs, experiment)


@cli.command()
@click.option("--run-id", required=True, help="tune run whose direction model is analysed")
@click.option("--threshold", default="", help="entry threshold of the robustness tables (default: [rules] entry_threshold)")
@click.option("--config", default="", help="lab configuration file (default: the tune run's own)")
@click.option("--experiment", default=None, help="MLflow experiment name")
def analyze(run_id: str, threshold: str, config: str, experiment: str | None) -> None:
    """The plan's Phase 4 on the validation window (same as `mlflow run . -e analyze -P run_id=...`):
    threshold sweep 0.50..0.75, robustness by month and volatility regime, train vs validation vs
    walk-forward AUC, winners vs losers, feature correlations. Every sweep point counts as a trial."""
    _run_entry_point("analyze", {"run_id": run_id, "threshold": threshold,
                                 "config": _config_path(config) if config else ""}, experiment)


@cli.command()
@click.option("--config", default="demo.toml", show_default=True,
              help="configuration of the demo (lab.toml defaults, its own model name, a reduced grid)")
@click.option("--experiment", default="mes-lab-demo", show_default=True, help="MLflow experiment of the demo's runs")
@click.option("--no-edge", is_flag=True, help="the honest null: no planted edge; the gate refuses, as on real data")
def demo(config: str, experiment: str, no_edge: bool) -> None:
    """The whole chain on synthetic MES data with a planted edge: featurize, tune, walk-forward,
    backtest, promote (the gate passes unforced) and the one final-eval. With --no-edge, the null:
    the gate refuses and the demo stops there. Runs in its own store under demo/ (rebuilt each time)."""
    if not Path(config).exists() and config == "demo.toml":
        config = str(code_root() / "demo.toml")
    run_demo(prepare_demo_home(config, experiment, no_edge=no_edge), experiment, echo=click.echo)


@cli.command()
@click.option("--config", default="", help=CONFIG_HELP)
@click.option("--recent-days", default="30", show_default=True,
              help="without a paper run of the champion: days at the end of the validation window compared")
@click.option("--trades-run", default="", help="run whose trades.csv is compared with the validation bands "
              "(default: the champion's newest paper run, whose window is also the recent data)")
@click.option("--experiment", default=None, help="MLflow experiment name")
def monitor(config: str, recent_days: str, trades_run: str, experiment: str | None) -> None:
    """Champion monitor (jobs/monitor.py): PSI, ECE, P&L bands; tags lab.alert (see `lab status`)."""
    _run_entry_point("monitor", {"config": _config_path(config) if config else "", "recent_days": recent_days, "trades_run": trades_run}, experiment)


@cli.command()
@click.option("--config", default="", help=CONFIG_HELP)
@click.option("--data", default="", help="minute file; overrides [data] path")
@click.option("--from", "start", default="", help="first trading date (default: validation start)")
@click.option("--to", "end", default="", help="last trading date (default: validation end)")
@click.option("--follow", is_flag=True, help="keep reading minutes appended to the file")
@click.option("--idle-seconds", default="0", show_default=True, help="--follow: stop after this long without a minute")
@click.option("--live", is_flag=True, help="send orders to --sink (refused without a PASS final-eval verdict)")
@click.option("--sink", default="", help="--live: JSON-lines order file (default: stdout)")
@click.option("--override-reason", default="", help="--live without a PASS verdict: why (tagged on the run)")
@click.option("--experiment", default=None, help="MLflow experiment name")
def paper(config: str, data: str, start: str, end: str, follow: bool, idle_seconds: str, live: bool, sink: str,
          override_reason: str, experiment: str | None) -> None:
    """Paper trading (jobs/paper.py): the champion minute by minute under the backtest's rules; one run
    (lab.stage = paper) with signals, orders and a backtest's artifacts.

    The champion trades the strategy, rules and costs of its validation backtest (direction for a
    direction model; breakout or mean reversion for a target_vol model), its features computed live
    (custom ones included). Dates in a sealed test range are refused; --follow keeps reading minutes
    appended to a text file until --to is passed or --idle-seconds go by without one."""
    _run_entry_point("paper", {"config": _config_path(config) if config else "", "data": _data_path(data), "from": start, "to": end, "follow": str(follow).lower(),
                               "idle_seconds": idle_seconds, "live": str(live).lower(), "sink": sink,
                               "override_reason": override_reason}, experiment)


@cli.group()
def data() -> None:
    """Minute files: generate the synthetic default, check a file."""


@data.command("synth")
@click.option("--config", default="", help=CONFIG_HELP)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="first date (default: [data] synthetic_start)")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last date (default: [data] synthetic_end)")
@click.option("--seed", type=int, default=None, help="random seed (default: [data] synthetic_seed)")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="output .txt (FirstRate layout); default data/raw/")
@click.option("--edge-auc", type=float, default=None,
              help="planted target_6bar AUC (default: [data] synthetic_edge_auc; 0 = no edge); see lab/synth.py")
def synth(config: str, start: dt.datetime | None, end: dt.datetime | None, seed: int | None, out: str | None,
          edge_auc: float | None) -> None:
    """Generate seeded synthetic 1-minute bars (Globex hours, holidays absent) in FirstRate layout."""
    path = locate_config(config)
    click.echo(config_origin(path), err=True)
    cfg = load_lab_config(path)
    first = start.date() if start else cfg.data.synthetic_start
    last = end.date() if end else cfg.data.synthetic_end
    seed = cfg.data.synthetic_seed if seed is None else seed
    edge = cfg.data.synthetic_edge_auc if edge_auc is None else edge_auc
    target = Path(out) if out else paths.synthetic_path(cfg.data.instrument, first, last, seed, edge)
    began = time.perf_counter()
    minutes = generate_minutes(first, last, seed, cfg.instrument, cfg.session.calendar, edge_auc=edge)
    write_synthetic(minutes, target, cfg.data.instrument, seed, first, last, edge_auc=edge)
    click.echo(f"wrote {len(minutes):,} minutes {minutes.index[0]} .. {minutes.index[-1]} to {target} "
               f"in {time.perf_counter() - began:.1f} s")


@data.command("check")
@click.argument("path", type=click.Path())
@click.option("--config", default="", help=CONFIG_HELP + " ([windows] test is not read)")
@click.option("--tz", default=None, help="time zone of naive stamps (default: [data] timezone)")
@click.option("--on-bad-rows", type=click.Choice(["error", "drop"]), default="error", show_default=True)
@click.option("--max-bad-share", type=click.FloatRange(0.0, 1.0), default=None,
              help="share of rows --on-bad-rows drop may drop (default: [data] max_bad_share, 0.01)")
@click.option("--json", "as_json", is_flag=True, help="print the findings as JSON: a list of {session, kind, detail}")
@click.option("--plots", type=click.Path(file_okay=False), default=None, help="write a PNG per finding kind into this folder")
def check(path: str, config: str, tz: str | None, on_bad_rows: str, max_bad_share: float | None, as_json: bool,
          plots: str | None) -> None:
    """Read and check a minute file (FirstRate .txt/.csv, .zip or .gz of one, CSV with header, Parquet;
    a bare name is looked up in data/raw/; a folder or zip of per-contract files, MESH24.txt ..., is
    stitched first): statistics, and the data doctor's findings per session, contract rolls included.

    Only the rows before the configured test window are read: the held-out window is looked at by
    final-eval alone.
    """
    config_file = locate_config(config)
    click.echo(config_origin(config_file), err=True)
    cfg = load_lab_config(config_file)
    found = find_minute_file(path)
    if is_contract_set(found):  # per-contract files: the stitched series is what featurize reads
        found, _ = stitch_source(found, raw_dir(), tz=tz or cfg.data.timezone, on_bad_rows=on_bad_rows,
                                 rule=cfg.data.roll_rule, calendar=cfg.session.calendar,
                                 tick_size=cfg.instrument.tick_size)
        click.echo(f"stitched the contract files of {path} into {found}", err=True)
    sealed = sealed_ranges(cfg, str(found))
    result = check_file(str(found), cfg, tz=tz, on_bad_rows=on_bad_rows, exclude=sealed, max_bad_share=max_bad_share)
    refuse_sealed_content(read_fingerprints(result.minute_file.minutes, cfg), "lab data check")  # before any figure
    if as_json:
        click.echo(json.dumps(result.report.as_json(), indent=1))
        for warning in result.instrument_warnings:
            click.echo(f"warning: {warning}", err=True)
    else:
        for line in summary_lines(result, cfg):
            click.echo(line)
    if plots:
        for picture in write_pictures(result, plots):
            click.echo(f"wrote {picture}", err=as_json)


def _mount() -> None:
    """Commands that live beside the core: the registry gate, the scheduler and the fork server."""
    cli.add_command(promote_command)
    cli.add_command(status_command)
    cli.add_command(ticket_command)
    cli.add_command(schedule)
    cli.add_command(server_command)


_mount()


def main() -> None:
    """Console entry point: user errors print one clear line and exit 2, never a traceback."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        cli(standalone_mode=True)
    except LabError as exc:  # one wrapping a store fault (the runner's "cannot run entry point") says the fault
        click.echo(f"lab: error: {store_fault(exc) or exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # a full or read-only disk, a damaged mlflow.db: one line
        fault = store_fault(exc)
        if fault is None:
            raise
        click.echo(f"lab: error: {fault}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
