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
    submitted = mlflow.projects.run(
        ".", entry_point=entry, parameters={k: v for k, v in params.items() if v is not None},
        env_manager="local", experiment_name=experiment, synchronous=True,
    )
    click.echo(f"{entry}: run {submitted.run_id} {submitted.get_status()}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """MES 5-minute research lab.

    \b
    Typical session:
      lab featurize                 # minutes -> 5-min RTH bars -> features/targets (MLflow run)
      lab data check FILE           # read and validate a minute file, print what it holds
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
@click.option("--tz", default="America/New_York", show_default=True, help="time zone of naive stamps")
@click.option("--on-bad-rows", type=click.Choice(["error", "drop"]), default="error", show_default=True)
def check(path: str, tz: str, on_bad_rows: str) -> None:
    """Read and validate a minute file (FirstRate .txt, CSV with header, Parquet) and summarise it."""
    import time

    from lab.readers import read_minutes

    began = time.perf_counter()
    result = read_minutes(path, tz=tz, on_bad_rows=on_bad_rows)
    minutes = result.minutes
    click.echo(f"{path}: {result.rows_read:,} rows read in {time.perf_counter() - began:.2f} s, {len(minutes):,} valid")
    if result.rows_dropped:
        click.echo("  dropped: " + ", ".join(f"{rule}: {n:,}" for rule, n in result.rows_dropped.items()))
    click.echo(f"  span: {minutes.index[0].isoformat()} .. {minutes.index[-1].isoformat()} ({minutes.index.tz})")
    click.echo(f"  close: min {minutes['close'].min():g}, max {minutes['close'].max():g}; volume total {minutes['volume'].sum():,}")


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
