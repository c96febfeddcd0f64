"""The ``lab`` command: drive the lab's entry points and inspect data from the shell."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from lab.errors import LabError

__all__ = ["main"]


def _run_entry_point(entry: str, params: dict[str, str], experiment: str | None) -> None:
    """Run an MLproject entry point in this environment (no conda, no virtualenv download)."""
    import mlflow.projects

    from lab.tracking import configure

    configure()
    from lab.paths import code_root

    submitted = mlflow.projects.run(
        str(code_root()), entry_point=entry, parameters={k: v for k, v in params.items() if v is not None},
        env_manager="local", experiment_name=experiment, synchronous=True,
    )
    click.echo(f"{entry}: run {submitted.run_id} {submitted.get_status()}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """MES 5-minute research lab.

    \b
    Typical session:
      lab featurize                 # minutes -> 5-min RTH bars -> features/targets (MLflow run)
      lab run tune -P target=target_vol
      lab run walk-forward -P params_from=<tune run> -P target=target_vol
      lab run backtest -P run_id=<tune run>
      lab promote --run-id <tune run>   # the registry gate
      lab run final-eval            # once per test window
      lab status                    # champion, evidence, test window spent or not
      lab demo                      # all of the above on the synthetic default
      mlflow ui --workers 1         # browse runs
    Every command takes --config (default lab.toml).
    """


@cli.command()
@click.option("--config", default="lab.toml", show_default=True, help="lab configuration file")
@click.option("--data", default="", help="minute file; overrides [data] path (empty: configuration, else synthetic)")
@click.option("--on-bad-rows", type=click.Choice(["", "error", "drop"]), default="", help="overrides [data] on_bad_rows")
@click.option("--experiment", default=None, help="MLflow experiment name (default: MLflow's default experiment)")
def featurize(config: str, data: str, on_bad_rows: str, experiment: str | None) -> None:
    """Run the featurize entry point (same as `mlflow run . -e featurize --env-manager local`)."""
    _run_entry_point("featurize", {"config": config, "data": data, "on_bad_rows": on_bad_rows}, experiment)


@cli.command("run", context_settings={"ignore_unknown_options": False})
@click.argument("entry", type=click.Choice(["featurize", "tune", "walk-forward", "backtest", "final-eval"]))
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
    _run_entry_point(entry, pairs, experiment)


@cli.command()
@click.option("--config", default="demo.toml", show_default=True,
              help="configuration of the demo (lab.toml defaults, its own model name, a reduced grid)")
@click.option("--experiment", default="mes-lab-demo", show_default=True, help="MLflow experiment of the demo's runs")
def demo(config: str, experiment: str) -> None:
    """The whole chain on the configured data (synthetic by default): featurize, tune, walk-forward,
    backtest, promote (forced, saying so, when the honest gates fail) and the one final-eval."""
    from jobs.demo import run_demo

    run_demo(config, experiment, echo=click.echo)


@cli.group()
def data() -> None:
    """Minute files: generate the synthetic default, check a file."""


@data.command("synth")
@click.option("--config", default="lab.toml", show_default=True, help="lab configuration file")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="first date (default: [data] synthetic_start)")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last date (default: [data] synthetic_end)")
@click.option("--seed", type=int, default=None, help="random seed (default: [data] synthetic_seed)")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="output .txt (FirstRate layout); default data/raw/")
def synth(config: str, start: dt.datetime | None, end: dt.datetime | None, seed: int | None, out: str | None) -> None:
    """Generate seeded synthetic 1-minute bars (Globex hours, holidays absent) in FirstRate layout."""
    import time

    from lab import paths
    from lab.config import load_config
    from lab.readers import write_firstrate
    from lab.synth import generate_minutes

    cfg = load_config(config if Path(config).exists() or config != "lab.toml" else None)
    first = start.date() if start else cfg.data.synthetic_start
    last = end.date() if end else cfg.data.synthetic_end
    seed = cfg.data.synthetic_seed if seed is None else seed
    target = Path(out) if out else paths.synthetic_path(cfg.data.instrument, first, last, seed)
    began = time.perf_counter()
    minutes = generate_minutes(first, last, seed, cfg.instrument, cfg.session.calendar)
    write_firstrate(minutes, target)
    click.echo(f"wrote {len(minutes):,} minutes {minutes.index[0]} .. {minutes.index[-1]} to {target} "
               f"in {time.perf_counter() - began:.1f} s")


@data.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--config", default="lab.toml", show_default=True, help="lab configuration ([windows] test is not read)")
@click.option("--tz", default=None, help="time zone of naive stamps (default: [data] timezone)")
@click.option("--on-bad-rows", type=click.Choice(["error", "drop"]), default="error", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the findings as JSON: a list of {session, kind, detail}")
@click.option("--plots", type=click.Path(file_okay=False), default=None, help="write a PNG per finding kind into this folder")
def check(path: str, config: str, tz: str | None, on_bad_rows: str, as_json: bool, plots: str | None) -> None:
    """Read and check a minute file (FirstRate .txt/.csv, .zip or .gz of one, CSV with header, Parquet;
    a bare name is looked up in data/raw/): statistics, and the data doctor's findings per session.

    Only the rows before the configured test window are read: the held-out window is looked at by
    final-eval alone.
    """
    import json

    from lab.config import load_config
    from lab.data_check import check_file, summary_lines, write_pictures

    cfg = load_config(config if Path(config).exists() or config != "lab.toml" else None)
    result = check_file(path, cfg, tz=tz, on_bad_rows=on_bad_rows)
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
    """Commands that live beside the core: the registry gate and the scheduler."""
    from jobs.scheduler import schedule
    from registry.cli import promote_command, status_command

    cli.add_command(promote_command)
    cli.add_command(status_command)
    cli.add_command(schedule)


_mount()


def main() -> None:
    """Console entry point: user errors print one clear line and exit 2, never a traceback."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        cli(standalone_mode=True)
    except LabError as exc:
        click.echo(f"lab: error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
