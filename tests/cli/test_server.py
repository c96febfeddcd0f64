"""`lab server status` and `lab server stop`: the background fork server a user can see and stop."""

import os

from click.testing import CliRunner

from lab.forkserver import FORK_SERVER_ENV, ForkServer
from tests.conftest import wait_until


def _lab(*args: str) -> str:
    from cli.main import cli

    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_server_status_says_off_when_turned_off(monkeypatch):
    monkeypatch.setenv(FORK_SERVER_ENV, "off")
    assert "LAB_FORK_SERVER=off: every command starts its own interpreter" in _lab("server", "status")


def test_server_stop_stops_the_server_and_status_says_so(monkeypatch):
    with ForkServer.start(["json"]) as server:
        monkeypatch.setenv(FORK_SERVER_ENV, server.address)
        assert f"fork server: running, pid ?, socket {server.address}" in _lab("server", "status")
        assert "stopping once its running commands end" in _lab("server", "stop")
        assert server._process.wait(timeout=10) == 0
        assert wait_until(lambda: not server.listening(), timeout=5)
        assert "fork server: not running" in _lab("server", "status")
        assert "fork server: not running" in _lab("server", "stop")
    assert not os.path.exists(server.address)
