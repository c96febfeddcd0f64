"""Two `lab promote` at once: the promotions are serialized, so the aliases match what each printed."""

import re
import subprocess
import sys

import pytest

from registry.promote import promotion_lock
from tests.conftest import PROJECT_ROOT

# Imports and connects first, says "ready", then promotes when released (so both start at once).
PROMOTE = ("import sys; from mlflow import MlflowClient; from cli.registry import promote_command; "
           "MlflowClient().search_registered_models(max_results=1); print('ready', flush=True); sys.stdin.readline(); "
           "promote_command.main(sys.argv[1:], prog_name='lab promote')")


@pytest.mark.slow
def test_two_promotes_at_once_leave_the_aliases_each_printed(lab_runs, write_config, tracking_store):
    from mlflow import MlflowClient

    config = write_config(model_name="race-test")
    first, second = lab_runs.candidate(), lab_runs.candidate()
    racers = [subprocess.Popen([sys.executable, "-c", PROMOTE, "--run-id", run, "--config", config, "--force",
                                "--reason", "race"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.PIPE, text=True) for run in (first, second)]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready"
    for racer in racers:
        racer.stdin.write("go\n")
        racer.stdin.flush()
    outputs = [racer.communicate(timeout=300) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    printed = [re.search(r"version (\d+) from .*alias champion -> version \d+ \((previous: (\d+)|first champion)\)",
                         out).groups() for out, _ in outputs]
    firsts = [version for version, _, previous in printed if previous is None]
    seconds = [(version, previous) for version, _, previous in printed if previous is not None]
    assert len(firsts) == 1 and len(seconds) == 1, printed  # one first champion, one that replaced it
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("race-test", "champion").version) == seconds[0][0]
    assert str(client.get_model_version_by_alias("race-test", "previous").version) == firsts[0] == seconds[0][1]


def test_a_lock_left_by_a_dead_process_is_taken_over(tracking_store):
    import json

    from mlflow import MlflowClient

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    client = MlflowClient()
    client.create_registered_model("lab-lock-promote-stale", tags={
        "lab.lock.process": json.dumps({"host": socket.gethostname(), "pid": int(gone.stdout), "started": None}),
        "lab.lock.taken_at": "9999999999", "lab.lock.claim": "old"})
    with promotion_lock("stale", client, wait_s=5):
        held = client.get_registered_model("lab-lock-promote-stale").tags["lab.lock.claim"]
        assert held != "old"
