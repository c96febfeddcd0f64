"""The registry's commands, mounted into ``lab`` as ``lab promote``, ``lab status`` and ``lab ticket``.

    from cli.registry import promote_command, status_command, ticket_command
    cli.add_command(promote_command)   # lab promote --run-id R [--config lab.toml] [--force --reason "..."]
    cli.add_command(status_command)    # lab status [--config lab.toml]
    cli.add_command(ticket_command)    # lab ticket release --reason "..." [--config lab.toml]

A refused promotion prints the gate table and exits with status 1.
"""

from __future__ import annotations

import click

from jobs.lineage import promotion_config
from lab import tags as tag
from lab.config import load_lab_config  # re-exported: the one "no lab.toml -> defaults" rule
from lab.config.locate import config_origin, locate_config
from lab.dataset.build import data_source
from lab.errors import LabError
from lab.market.identity import market_id
from registry.errors import RegistryError
from registry.evidence import get_client
from registry.gate import format_gate_table
from registry.promote import ALIASES, already_promoted, check_candidate, promote
from registry.status import format_status, lab_status
from registry.ticket import release_ticket

__all__ = ["promote_command", "status_command", "ticket_command", "load_lab_config"]


@click.command("promote")
@click.option("--run-id", required=True, help="the tune run whose logged model is to be promoted")
@click.option("--config", default="", help="lab configuration ([promotion] policy); default: the run's own "
              "configuration (a file giving another dataset than the run's is refused)")
@click.option("--force", is_flag=True, help="register even though gates failed (needs --reason)")
@click.option("--reason", default="", help="why the override is justified; stored on the model version")
@click.option("--alias", type=click.Choice(ALIASES), default="champion", show_default=True,
              help="alias moved to the new version")
def promote_command(run_id: str, config: str, force: bool, reason: str, alias: str) -> None:
    """Check a run's evidence against [promotion] and register its model as the champion.

    \b
    Gates: a FINISHED walk-forward and a validation backtest of the run on the same dataset
    digest, then min_validation_auc, min_profit_factor, min_trades_per_day and
    max_worst_day_loss_usd. Exit status 1 when refused.
    """
    if force and not reason.strip():
        raise click.UsageError('--force needs --reason "...": say why this model should be promoted anyway')
    if reason.strip() and not force:
        raise click.UsageError("--reason is only used with --force; drop it or add --force")

    try:
        cfg = promotion_config(run_id, config)  # lineage: the run's own configuration, or one agreeing with it
    except LabError as exc:
        click.echo(f"lab promote: refused: {exc}", err=True)
        raise SystemExit(1) from None
    policy = cfg.promotion
    current = already_promoted(run_id.strip(), policy.model_name, alias, get_client())
    if current is not None:
        verdict = current.tags.get(tag.FINAL_EVAL_VERDICT, "not yet evaluated on the test window")
        click.echo(f"run {run_id} already is the {alias} of {policy.model_name} (version {current.version}, "
                   f"promoted {current.tags.get(tag.PROMOTED_AT, '?')}; final-eval: {verdict}): nothing changed")
        return
    try:
        candidate = check_candidate(run_id, policy)
    except RegistryError as exc:
        click.echo(f"lab promote: refused: {exc}", err=True)
        raise SystemExit(1) from None
    run = candidate.run
    click.echo(f"candidate run {run.run_id}  stage {run.stage or '?'}  target {run.target or '?'}  "
               f"engine {run.params.get('model.engine', '?')}  dataset {run.dataset_digest or '?'}")
    click.echo(f"model {candidate.model.model_id} ({candidate.model.model_uri}) -> {policy.model_name}@{alias}")
    click.echo(format_gate_table(candidate.gates))
    if not candidate.passed and not force:
        names = ", ".join(gate.name for gate in candidate.failed)
        click.echo(f"lab promote: refused: {len(candidate.failed)} gate(s) failed: {names}.\n"
                   "  Fix the model or its evidence, or override (recorded on the version) with:\n"
                   f"  lab promote --run-id {run.run_id} --force --reason \"why it should be promoted anyway\"",
                   err=True)
        raise SystemExit(1)
    if force and candidate.passed:
        click.echo("--force not needed: every gate passed (no override recorded)")
    try:
        result = promote(run_id, policy, force=force, reason=reason, alias=alias, candidate=candidate)
    except RegistryError as exc:
        click.echo(f"lab promote: refused: {exc}", err=True)
        raise SystemExit(1) from None
    moved = f"alias {result.alias} -> version {result.version}"
    if result.alias == "champion":
        moved += f" (previous: {result.previous_version})" if result.previous_version else " (first champion)"
    forced = f"  FORCED: {result.reason}" if result.forced else ""
    click.echo(f"registered {result.model_name} version {result.version} from {candidate.model.model_uri}; {moved}{forced}")


@click.command("status")
@click.option("--config", default="", help="lab configuration (model name, test window); default: ./lab.toml here, "
              "else the project's")
def status_command(config: str) -> None:
    """Show the champion (version, run, evidence, gates) and whether the test window is spent."""
    path = locate_config(config)
    click.echo(config_origin(path))
    click.echo(format_status(lab_status(load_lab_config(path))))


@click.group("ticket")
def ticket_command() -> None:
    """The one-time tickets of sealed test ranges (see `lab status`)."""


@ticket_command.command("release")
@click.option("--reason", required=True, help="why the window may be opened again (kept on record)")
@click.option("--config", default="",
              help="lab configuration: its data file gives the market, its [windows] test the dates "
                   "(default: ./lab.toml here, else the project's)")
@click.option("--market", default="", help="market key as `lab status` shows it (default: from --config's data)")
@click.option("--window", default="", help="START..END as `lab status` shows it (default: --config's [windows] test)")
def release_command(reason: str, config: str, market: str, window: str) -> None:
    """Free the ticket of a final-eval that died before making any prediction.

    \b
    Refused when the model made predictions on the window (stage predicted or verdict: never
    released), or while the final-eval holding it is alive. The release stays on record and in
    `lab status`. Exit status 1 when refused.
    """
    if not reason.strip():
        raise click.UsageError('--reason "..." must say why the window may be opened again')
    path = locate_config(config)
    click.echo(config_origin(path), err=True)
    cfg = load_lab_config(path)
    if not market:
        market = market_id(cfg.data.instrument, data_source(cfg))
    try:
        released = release_ticket(market, window or cfg.windows.test, reason)
    except RegistryError as exc:
        click.echo(f"lab ticket release: refused: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"released the ticket of {market} {released.window} (now {released.name}): {released.describe()}")
