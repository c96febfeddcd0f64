"""A fork server's child is the interpreter the command would start, and the runner uses it where it
cannot fork itself."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lab.tracking.forked import parse_python_command
from lab import forkserver
from lab.forkserver import FORK_SERVER_ENV, ForkServer, from_environment
from tests.conftest import PROJECT_ROOT, wait_until
from tests.lab.tracking.test_forked import assert_seen_as_fresh, probe_fresh


@pytest.fixture
def server(warm_entry_points) -> ForkServer:
    """The session's fork server (tests/conftest.py), once it listens."""
    assert wait_until(lambda: os.path.exists(warm_entry_points.address), timeout=120), "the fork server never listened"
    return warm_entry_points


def _command(text: str, folder, env):
    command = parse_python_command(text, folder, env)
    assert command is not None
    return command


def test_a_served_command_sees_what_a_new_interpreter_sees_and_ends_as_one(tmp_path, server, capfd):
    project, env, fresh = probe_fresh(tmp_path)
    capfd.readouterr()
    served = server.run(_command(f"python probe.py {tmp_path / 'served.json'}", project, env), env, text="probe")
    assert served is not None, "the server refused the probe"
    assert served.wait(timeout=60) == 3 == fresh.returncode  # the exit code comes back
    assert_seen_as_fresh(tmp_path, "served", project)
    assert capfd.readouterr().out.splitlines() == ["from a worker thread"]  # on the caller's own stdout


def test_a_served_child_inherits_mlflows_map_of_installed_packages(tmp_path, server):
    """Each model MLflow logs checks its pip requirements against that map (about 0.6 s to build):
    the server builds it once, its children do not."""
    (tmp_path / "map.py").write_text(
        "import sys\nfrom mlflow.utils import requirements_utils as r\n"
        "sys.exit(0 if r._MODULES_TO_PACKAGES and 'lightgbm' in r._MODULES_TO_PACKAGES else 5)\n")
    served = server.run(_command("python map.py", tmp_path, os.environ), dict(os.environ), text="map")
    assert served is not None, "the server refused the command"
    assert served.wait(timeout=60) == 0


def test_a_served_command_stopped_by_its_process_group_ends_killed(tmp_path, server):
    (tmp_path / "wait.py").write_text("import time\ntime.sleep(60)\n")
    served = server.run(_command("python wait.py", tmp_path, os.environ), dict(os.environ), text="wait")
    assert served is not None and served.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        served.wait(timeout=0.1)
    os.killpg(served.pid, signal.SIGTERM)  # a session of its own, as the runner stops any command
    assert served.wait(timeout=30) == -signal.SIGTERM


def test_the_server_refuses_a_folder_shadowing_what_it_imported(tmp_path, server):
    (tmp_path / "job.py").write_text("print('never')\n")
    (tmp_path / "pandas.py").write_text("raise SystemExit('a shadow')\n")
    assert server.run(_command("python job.py", tmp_path, os.environ), dict(os.environ)) is None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "job.py").write_text("print('never')\n")
    shadowing = {**os.environ, "PYTHONPATH": str(tmp_path)}  # the same copy, on the path the command adds
    assert server.run(_command("python job.py", elsewhere, shadowing), shadowing) is None


def test_a_socket_in_a_folder_others_may_write_is_not_used(monkeypatch):
    import shutil
    import tempfile

    short = tempfile.mkdtemp(prefix="lab-test-", dir="/tmp")  # a socket's address holds 107 bytes
    monkeypatch.delenv(FORK_SERVER_ENV, raising=False)
    monkeypatch.setattr("lab.forkserver.default_address", lambda: os.path.join(short, "lab-forkserver", "x.sock"))
    address = Path(forkserver.default_address())
    address.parent.mkdir()
    address.write_text("")  # stands for a socket someone else could have put there
    address.parent.chmod(0o777)
    assert from_environment() is None
    address.parent.chmod(0o700)
    assert from_environment() is not None and from_environment().address == str(address)
    shutil.rmtree(short)


def test_no_server_is_found_without_a_listening_socket(tmp_path, monkeypatch):
    # the user's own background server (a lab command run before the tests) is not this test's
    monkeypatch.setattr("lab.forkserver.default_address", lambda: str(tmp_path / "lab-forkserver" / "x.sock"))
    monkeypatch.setenv(FORK_SERVER_ENV, str(tmp_path / "absent"))
    assert from_environment() is None
    monkeypatch.delenv(FORK_SERVER_ENV)
    assert from_environment() is None


#: An entry point that says who started it and how.
PARENTAGE = """import json, os, sys
from pathlib import Path
Path("parentage.json").write_text(json.dumps({"ppid": os.getppid(), "run": os.environ.get("MLFLOW_RUN_ID")}))
"""


def test_the_runner_in_a_process_with_threads_runs_the_entry_point_in_the_server(tmp_path, tracking_store, server):
    from lab.tracking import run_entry_point

    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("name: parentage\nentry_points:\n  main:\n    command: \"python job.py\"\n")
    (project / "job.py").write_text(PARENTAGE)
    results = []
    caller = threading.Thread(target=lambda: results.append(run_entry_point("main", {}, project_uri=str(project))))
    caller.start()  # from a thread, as the scheduler runs it: a fork of this process is out of the question
    caller.join(timeout=120)
    (result,) = results
    assert result.status == "FINISHED" and result.exit_code == 0
    seen = json.loads((project / "parentage.json").read_text())
    assert seen == {"ppid": server._process.pid, "run": result.run_id}


def test_a_server_closed_before_it_listens_leaves_no_folder_behind():
    server = ForkServer.start(wait=False)  # closed at once: still importing, no socket yet
    folder = os.path.dirname(server.address)
    server.close()
    assert not os.path.exists(folder)


#: A process that starts a fork server, says where, and waits to be killed.
OWNER = ("import sys, time\nfrom lab.forkserver import ForkServer\nserver = ForkServer.start()\n"
         "print(server.address, server.pid, flush=True)\ntime.sleep(60)\n")


def test_a_server_whose_owner_was_killed_exits_and_removes_its_folder():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    address, pid = owner.stdout.readline().split()
    assert os.path.exists(address)
    owner.kill()  # SIGKILL: the owner cannot close it
    owner.wait(timeout=10)
    assert wait_until(lambda: not os.path.exists(os.path.dirname(address)), timeout=10)
    assert wait_until(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2],
                      timeout=10)

