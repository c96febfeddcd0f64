"""The `lab` console script served by a fork server: the same output and exit code as run here, signals
passed on, a background server started when there is none, and nothing served when it is turned off."""

import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from pathlib import Path

from lab.forkserver import FORK_SERVER_ENV, ForkServer, default_address
from tests.conftest import PROJECT_ROOT, wait_until

#: The console script `pip install` writes for `lab = "cli.launch:main"`.
CONSOLE_SCRIPT = "import re, sys\nfrom cli.launch import main\nif __name__ == '__main__':\n    sys.exit(main())\n"


@pytest.fixture
def lab_script(tmp_path):
    script = tmp_path / "bin" / "lab"
    script.parent.mkdir()
    script.write_text(CONSOLE_SCRIPT)
    return script


@pytest.fixture
def server(warm_entry_points) -> ForkServer:
    assert wait_until(lambda: os.path.exists(warm_entry_points.address), timeout=120), "the fork server never listened"
    return warm_entry_points


def _lab(script, *args, env, cwd):
    return subprocess.run([sys.executable, str(script), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_a_served_lab_command_prints_and_exits_as_one_run_here(tmp_path, lab_script, server):
    bad = tmp_path / "bad.txt"
    bad.write_text("2024-01-02 09:30:00,1,2,3\n")  # too few fields: `lab data check` refuses with one line
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    _lab(lab_script, "data", "check", str(bad), env={**env, FORK_SERVER_ENV: "off"}, cwd=tmp_path)  # makes the store
    here = _lab(lab_script, "data", "check", str(bad), env={**env, FORK_SERVER_ENV: "off"}, cwd=tmp_path)
    served = _lab(lab_script, "data", "check", str(bad), env={**env, FORK_SERVER_ENV: server.address}, cwd=tmp_path)
    assert here.returncode == served.returncode == 2
    assert served.stdout == here.stdout and served.stderr == here.stderr and "bad.txt" in served.stderr


#: A caller that runs a script through `lab`'s door and exits as the script did.
CALLER = ("import sys\nfrom cli.launch import served_here\nfrom lab.forkserver import exit_as\n"
          "code = served_here(sys.argv[1:])\nprint('not served' if code is None else code, flush=True)\n"
          "exit_as(1 if code is None else code)\n")
WAITER = "import os, pathlib, time\npathlib.Path('child.pid').write_text(str(os.getpid()))\ntime.sleep(60)\n"


def _start_caller(tmp_path, env) -> subprocess.Popen:
    (tmp_path / "wait.py").write_text(WAITER)
    caller = subprocess.Popen([sys.executable, "-c", CALLER, str(tmp_path / "wait.py")], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, text=True)
    assert wait_until(lambda: (tmp_path / "child.pid").exists() or caller.poll() is not None, timeout=60)
    assert (tmp_path / "child.pid").exists(), caller.communicate()
    return caller


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow  # processes killed and watched, or a server of its own: seconds each
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_of_the_caller_reaches_the_served_command_and_the_caller_dies_of_it(tmp_path, server, signum):
    caller = _start_caller(tmp_path, {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), FORK_SERVER_ENV: server.address})
    child = int((tmp_path / "child.pid").read_text())
    assert child != caller.pid  # the script runs in the server's child, not in the caller
    caller.send_signal(signum)
    # the child died of it (Ctrl-C: KeyboardInterrupt, then SIGINT as an interpreter ends), and so does the caller
    assert caller.wait(timeout=30) == -signum
    assert wait_until(lambda: _gone(child), timeout=10)


@pytest.mark.slow  # processes killed and watched, or a server of its own: seconds each
def test_a_caller_killed_without_a_word_takes_its_served_command_with_it(tmp_path, server):
    caller = _start_caller(tmp_path, {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), FORK_SERVER_ENV: server.address})
    child = int((tmp_path / "child.pid").read_text())
    caller.kill()  # SIGKILL: it forwards nothing; the server sees its end of the socket close
    caller.wait(timeout=30)
    assert wait_until(lambda: _gone(child), timeout=10)


@pytest.mark.slow  # processes killed and watched, or a server of its own: seconds each
def test_without_a_server_lab_runs_here_and_starts_one_for_the_next_command(tmp_path, lab_script, monkeypatch):
    folder = tempfile.mkdtemp(prefix="lab-test-", dir="/tmp")  # short: a socket's address holds 107 bytes
    monkeypatch.setenv("TMPDIR", folder)  # the background server's socket under this test's own folder
    monkeypatch.delenv(FORK_SERVER_ENV, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    address = subprocess.run([sys.executable, "-c", "from lab.forkserver import default_address; "
                              "print(default_address())"], capture_output=True, text=True, check=True).stdout.strip()
    assert address.startswith(folder) and address != default_address()
    (tmp_path / "wait.py").write_text("print('ran')\n")
    try:
        first = subprocess.run([sys.executable, "-c", CALLER, str(tmp_path / "wait.py")], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert first.stdout.splitlines() == ["not served"]  # no server yet: the caller runs the command itself
        assert wait_until(lambda: os.path.exists(address), timeout=60), (
            "no background server was started: " + (Path(address + ".log").read_text() if Path(address + ".log").exists() else ""))
        second = subprocess.run([sys.executable, "-c", CALLER, str(tmp_path / "wait.py")], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert second.stdout.splitlines() == ["ran", "0"]  # served: the script's output, then its exit code
        assert Path(address + ".pid").read_text().strip().isdigit()  # what `lab server status` shows
        own = subprocess.run([sys.executable, "-c", CALLER, str(tmp_path / "wait.py"), "server", "status"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert own.stdout.splitlines() == ["not served"]  # `lab server ...` is never served
        off = subprocess.run([sys.executable, "-c", CALLER, str(tmp_path / "wait.py")], cwd=tmp_path,
                             env={**os.environ, FORK_SERVER_ENV: "off"}, capture_output=True, text=True, timeout=60)
        assert off.stdout.splitlines() == ["not served"]
    finally:
        assert ForkServer(address).stop() or not os.path.exists(address)
    assert wait_until(lambda: not os.path.exists(address), timeout=10)  # a stopped server removes its socket
    assert wait_until(lambda: not os.path.exists(address + ".pid"), timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_server_refuses_a_load_time_setting_it_did_not_start_with(tmp_path, server):
    from lab.tracking.forked import parse_python_command

    (tmp_path / "job.py").write_text("print('never')\n")
    env = {**os.environ, "OMP_NUM_THREADS": "7" if os.environ.get("OMP_NUM_THREADS") != "7" else "3"}
    command = parse_python_command("python job.py", tmp_path, env)
    assert server.run(command, env) is None  # OpenMP read it when LightGBM loaded in the server


@pytest.mark.slow  # processes killed and watched, or a server of its own: seconds each
def test_a_server_whose_library_changed_on_disk_refuses_and_exits(tmp_path, monkeypatch):
    from lab.tracking.forked import parse_python_command

    library = tmp_path / "libs"
    library.mkdir()
    (library / "steady.py").write_text("VALUE = 1\n")
    monkeypatch.setenv("PYTHONPATH", str(library))
    (tmp_path / "job.py").write_text("import steady\n")
    with ForkServer.start(["steady"]) as server:
        command = parse_python_command("python job.py", tmp_path, dict(os.environ))
        first = server.run(command, dict(os.environ))
        assert first is not None and first.wait(timeout=30) == 0
        time.sleep(0.01)
        (library / "steady.py").write_text("VALUE = 2\n")  # an upgrade: the server's copy is stale now
        assert server.run(command, dict(os.environ)) is None
        assert server._process.wait(timeout=10) == 0
