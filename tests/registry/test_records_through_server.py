"""Seals and the one-time ticket through `mlflow server` (on PostgreSQL), with several clients at once.

The server runs on a free loopback port for this module; clients are separate processes talking
HTTP to it, as workers on other machines would.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

CLIENT = """
import sys
from lab.config import load_config
from registry.errors import SealedRangeError, TicketSpentError
from registry.seals import enforce_seals
from registry.ticket import take_ticket

action = sys.argv[1]
config = load_config(None, {"windows.test": ["2024-01-01", "2024-06-28"]})
try:
    if action == "seal":
        sealed = enforce_seals(config, "ES", stage="featurize")
        print("sealed", len(sealed))
    elif action == "peek":
        peek = load_config(None, {"windows.validation": ["2024-01-01", "2024-03-29"],
                                  "windows.test": ["2024-07-01", "2024-12-31"]})
        enforce_seals(peek, "ES", stage="backtest")
        print("read")
    else:
        take_ticket("ES", config.windows.test, model_name=action, run_id="r-" + action)
        print("won")
except (SealedRangeError, TicketSpentError) as exc:
    print("refused", type(exc).__name__)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import loopback_server, throwaway_postgres

    folder = tmp_path_factory.mktemp("server")
    with throwaway_postgres() as uri:
        with loopback_server(["mlflow", "server", "--backend-store-uri", uri, "--default-artifact-root",
                              (folder / "artifacts").as_uri(), "--workers", "1"], "/health", folder / "server.log") as url:
            yield url


def _clients(url: str, actions: list[str]) -> list[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "MLFLOW_DISABLE_TELEMETRY": "true"}
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT, action], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for action in actions]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        outs.append(out.strip().splitlines()[-1])
    return outs


def test_seals_and_ticket_hold_through_mlflow_server_with_clients_at_once(server):
    # three clients seal the same test window at once: all proceed, one seal exists
    assert _clients(server, ["seal", "seal", "seal"]) == ["sealed 1"] * 3
    # a client whose validation window is the sealed range is refused, whatever its config says
    assert _clients(server, ["peek"]) == ["refused SealedRangeError"]
    # three clients race for the one-time ticket under three model names: exactly one looks
    results = _clients(server, ["model-a", "model-b", "model-c"])
    assert sorted(results) == ["refused TicketSpentError"] * 2 + ["won"]
