"""``lab server``: the background fork server that serves ``lab`` and ``mlflow run`` commands
(:mod:`lab.forkserver`): whether one runs for this interpreter, and stopping it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from lab.forkserver import FORK_SERVER_ENV, IDLE_EXIT_S, SUPPORTED, ForkServer, default_address, server_pid

__all__ = ["server_command"]


@click.group("server")
def server_command() -> None:
    """The warm interpreter behind `lab` and `mlflow run` (started by the first lab command).

    \b
    It holds pandas, MLflow and LightGBM imported and forks every command from them, so a command
    starts in about a second; your code is imported afresh each time. It exits after 15 idle
    minutes or when a library changes on disk. LAB_FORK_SERVER=off turns it off.
    """


def _address() -> str | None:
    """The server a command here would use; None (having said why) when none is used."""
    setting = os.environ.get(FORK_SERVER_ENV, "")
    if not SUPPORTED:
        click.echo("no fork server on this system (Linux only): every command starts its own interpreter")
        return None
    if setting == "off":
        click.echo(f"{FORK_SERVER_ENV}=off: every command starts its own interpreter")
        return None
    return setting or default_address()


@server_command.command("status")
def status() -> None:
    """Whether a fork server runs for this interpreter, venv and PYTHONPATH; its socket, pid and log."""
    address = _address()
    if address is None:
        return
    pid = server_pid(address) or "?"
    if ForkServer(address).listening():
        click.echo(f"fork server: running, pid {pid}, socket {address}")
        if Path(f"{address}.log").is_file():
            click.echo(f"  its log: {address}.log; it exits after {IDLE_EXIT_S // 60} idle minutes")
    else:
        click.echo(f"fork server: not running (socket {address}); the next lab command starts one")


@server_command.command("stop")
def stop() -> None:
    """Stop the fork server once the commands it runs have ended (this one included)."""
    address = _address()
    if address is None:
        return
    if ForkServer(address).stop():
        click.echo(f"fork server at {address}: stopping once its running commands end")
    else:
        click.echo(f"fork server: not running (socket {address})")
