"""A warm interpreter that forks entry points for processes that cannot fork themselves.

:mod:`lab.tracking.forked` runs an entry point in a fork of the calling process, which saves the
new interpreter's 2.5 to 3 s of imports (pandas, MLflow and its SQL store, LightGBM, numba...).
A process with threads (the scheduler; a test worker) or with a boosting library's OpenMP pool
cannot be forked safely, so it used to start a new interpreter for every stage. A fork server is
an interpreter started once, from nothing, that imports those libraries (no project module, no
store, no thread of its own) and then forks one child per request: the child is the new
interpreter the command would start, already warm.

Start one with :meth:`ForkServer.start` (it is a process: close it, or use it as a context
manager) and name its address in ``LAB_FORK_SERVER``; :func:`lab.tracking.run_entry_point` then
asks it to run the command when it cannot fork itself, and starts a process as before when the
server refuses or is gone. A request carries the command, its folder, its environment and the
caller's standard input, output and error (their file descriptors, passed over the Unix
socket); the child runs the command exactly as :mod:`lab.tracking.forked` does (a session of
its own, ``__main__``, the command's ``sys.argv``, an interpreter's ending) and the server sends
back its pid, then its exit code. The caller stops it as it stops any command, by its process
group. The child ends with the server (``PR_SET_PDEATHSIG``) and, like any entry point the lab
starts, with the process that asked for it (``LAB_PARENT_PROCESS``, :func:`jobs.common.job_main`).

The server refuses a command its interpreter is not: another ``python``, a ``PYTHONPATH`` without
an entry the server started with, or a folder (the project's, a ``PYTHONPATH`` entry the server
lacks, which the child puts on its path) holding another copy of a module it imported. The libraries
it imported stay as they were when it started (a library upgraded afterwards needs a new server);
the project's own code is imported by each child afresh.

This file is run by path (``python forkserver.py ADDRESS``) and imports nothing of the lab at
module level, so the server holds no project module; it loads :mod:`lab.tracking.forked` by path
as a private module to run the command in the child the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["ForkServer", "ServedProcess", "FORK_SERVER_ENV", "PRELOAD", "from_environment"]

#: The environment variable naming a running fork server's address (a Unix socket's path).
FORK_SERVER_ENV = "LAB_FORK_SERVER"

#: What the server imports before it serves: the libraries every stage's interpreter loads (about
#: 2.6 s on the lab's 2-core machines). Import-time only; none starts a thread or opens a store.
PRELOAD = ("numpy", "pandas", "pyarrow.parquet", "scipy.stats", "mlflow", "mlflow.store.tracking.sqlalchemy_store",
           "mlflow.store.model_registry.sqlalchemy_store", "lightgbm", "numba", "optuna", "matplotlib.figure",
           "exchange_calendars")

_MESSAGE_BYTES = 1 << 20  # one request: the command and its environment (a few KB)


class ServedProcess:
    """A child of the fork server, as :class:`subprocess.Popen` shows a process: ``pid``, ``poll()``,
    ``wait(timeout)``, ``returncode`` (``-N`` when signal N ended it)."""

    def __init__(self, pid: int, connection: socket.socket, args: str) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._connection = connection

    def poll(self) -> int | None:
        return self._receive(0.0)

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code; :class:`subprocess.TimeoutExpired` when it still runs after ``timeout`` seconds."""
        code = self._receive(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return code

    def _receive(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        ready, _, _ = select.select([self._connection], [], [], timeout)
        if not ready:
            return None
        message = self._connection.recv(_MESSAGE_BYTES)
        self._connection.close()
        if message:
            self.returncode = int(json.loads(message)["exit"])
        else:  # the server died before the child: the child got SIGTERM (PR_SET_PDEATHSIG)
            _wait_gone(self.pid)
            self.returncode = -signal.SIGTERM
        return self.returncode


class ForkServer:
    """A running fork server: :meth:`start` one, :meth:`run` commands in it, :meth:`close` it."""

    def __init__(self, address: str, process: subprocess.Popen | None = None, folder: str | None = None) -> None:
        self.address = address
        self._process = process
        self._folder = folder

    @classmethod
    def start(cls, preload: Sequence[str] = PRELOAD, *, wait: bool = True, timeout_s: float = 120.0) -> "ForkServer":
        """Start a server with this interpreter and environment. With ``wait`` (the default) return once it
        has imported ``preload`` and listens; without, at once (its socket appears when it is ready, and
        until then :func:`from_environment` finds no server).

        Raises
        ------
        RuntimeError
            ``wait`` and the server did not say it was ready within ``timeout_s`` seconds (its error is on
            stderr).
        """
        folder = tempfile.mkdtemp(prefix="lab-forkserver-")
        address = os.path.join(folder, "socket")
        process = subprocess.Popen([sys.executable, __file__, address, *preload], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE if wait else subprocess.DEVNULL, cwd=folder)
        server = cls(address, process, folder)
        if wait:
            ready, _, _ = select.select([process.stdout], [], [], timeout_s)
            line = process.stdout.readline() if ready else b""
            process.stdout.close()
            if line.strip() != b"ready":
                server.close()
                raise RuntimeError(f"the fork server ({__file__}) did not start within {timeout_s:g} s; its error is above")
        return server

    def run(self, command, env: Mapping[str, str], *, text: str = "") -> ServedProcess | None:
        """Run ``command`` (a :class:`lab.tracking.forked.PythonCommand`) in a child of the server, with
        this process's standard streams; ``None`` when the server refuses it or cannot be reached (start
        a process instead)."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = {"python": os.path.realpath(sys.executable), "module": command.module, "script": command.script,
                   "args": list(command.args), "work_dir": command.work_dir, "env": dict(env)}
        try:
            connection.connect(self.address)
            for stream in (sys.stdout, sys.stderr):  # what is buffered here is not written after the child's
                with contextlib.suppress(Exception):
                    stream.flush()
            socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
            reply = json.loads(connection.recv(_MESSAGE_BYTES) or b"{}")
        except (OSError, ValueError):
            connection.close()
            return None
        if "pid" not in reply:  # refused (reply["refused"] says why) or the server died
            connection.close()
            return None
        return ServedProcess(int(reply["pid"]), connection, text)

    def close(self) -> None:
        """Stop the server (children it still runs get SIGTERM) and remove its socket."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._folder is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.address)
                os.rmdir(self._folder)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def from_environment() -> ForkServer | None:
    """The server ``LAB_FORK_SERVER`` names, when its socket exists; else None."""
    address = os.environ.get(FORK_SERVER_ENV, "")
    return ForkServer(address) if address and os.path.exists(address) else None


def _wait_gone(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


# -- the server (runs in its own interpreter) ----------------------------------------------------


def _load_forked():
    """:mod:`lab.tracking.forked` loaded by path as a private module (the server imports no package of the lab)."""
    spec = importlib.util.spec_from_file_location("_lab_forked", Path(__file__).with_name("forked.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _serve(address: str, preload: Sequence[str]) -> None:  # pragma: no cover - the server's own process
    owner = os.getppid()
    forked = _load_forked()
    for name in preload:
        with contextlib.suppress(ImportError):  # an optional library that is not installed
            importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(address)
    listener.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # the caller closed its end of the pipe; children get the callers' streams
    os.close(devnull)
    waiting: dict[int, socket.socket] = {}
    while os.getppid() == owner:
        ready, _, _ = select.select([listener], [], [], 0.05)
        if ready:
            connection, _ = listener.accept()
            pid = _fork_request(connection, listener, waiting, forked)
            if pid is None:
                connection.close()
            else:
                waiting[pid] = connection
        _reap(waiting)


def _fork_request(connection: socket.socket, listener: socket.socket, waiting: dict, forked) -> int | None:  # pragma: no cover
    """Read one request, fork its child; the child's pid (sent to the caller), or None when refused."""
    try:
        message, fds, _, _ = socket.recv_fds(connection, _MESSAGE_BYTES, 3)
        request = json.loads(message)
    except (OSError, ValueError):
        return None
    command = forked.PythonCommand(request["module"], request["script"], tuple(request["args"]), request["work_dir"])
    env = request["env"]
    reason = _refusal(request, command, env, forked)
    if reason is not None or len(fds) != 3:
        with contextlib.suppress(OSError):
            connection.send(json.dumps({"refused": reason or "no standard streams"}).encode())
        for fd in fds:
            os.close(fd)
        return None
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            listener.close()
            for other in waiting.values():
                other.close()
            connection.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            for fd in fds:
                if fd > 2:
                    os.close(fd)
            _fresh_standard_streams()
            sys.path[0:0] = _added_path(env)  # where a new interpreter puts them: after the command's folder
            os.setsid()
            _die_with_server()
            code = forked._run_as_main(command, env, _end_active_run)
        except BaseException:
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    try:
        connection.send(json.dumps({"pid": pid}).encode())
    except OSError:  # the caller is gone: its child still runs (it watches the caller itself)
        pass
    return pid


def _refusal(request: dict, command, env: Mapping[str, str], forked) -> str | None:  # pragma: no cover
    """Why this server is not the interpreter the command would start (None: it is)."""
    if request.get("python") != os.path.realpath(sys.executable):
        return f"another python ({request.get('python')})"
    own, theirs = _python_path(os.environ), _python_path(env)
    if missing := [entry for entry in own if entry not in theirs]:
        return f"the server's PYTHONPATH has {missing[0]}, which the command's lacks"
    for folder in [command.path_entry, *_added_path(env)]:
        if shadowed := forked.shadowed_modules(folder):
            return f"{folder} holds other copies of {', '.join(shadowed)}"
    return None


def _python_path(env: Mapping[str, str]) -> list[str]:
    return [os.path.realpath(entry) for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]


def _added_path(env: Mapping[str, str]) -> list[str]:
    """The command's ``PYTHONPATH`` entries the server's path lacks, in their order."""
    here = {os.path.realpath(entry or ".") for entry in sys.path}
    return [entry for entry in _python_path(env) if entry not in here]


def _fresh_standard_streams() -> None:  # pragma: no cover - in the child
    """sys.stdin/stdout/stderr on the caller's descriptors, buffered as a new interpreter buffers them."""
    encoding = sys.__stdout__.encoding if sys.__stdout__ is not None else "utf-8"
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.open(0, "rb", closefd=False), encoding=encoding)
    for fd, name, errors in ((1, "stdout", "strict"), (2, "stderr", "backslashreplace")):
        tty = os.isatty(fd)
        binary = io.open(fd, "wb", closefd=False, buffering=-1)
        stream = io.TextIOWrapper(binary, encoding=encoding, errors=errors, line_buffering=tty or fd == 2,
                                  write_through=fd == 2)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _die_with_server() -> None:  # pragma: no cover - in the child
    """SIGTERM when the server dies (``prctl(PR_SET_PDEATHSIG)``)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def _end_active_run() -> None:  # pragma: no cover - in the child
    """End the run the job left active, as MLflow's exit hook does in a job's own interpreter."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None and mlflow.active_run() is not None:
        mlflow.end_run()


def _reap(waiting: dict[int, socket.socket]) -> None:  # pragma: no cover - the server's own process
    """Send each ended child's exit code to its caller."""
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = waiting.pop(pid, None)
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
            connection.close()


if __name__ == "__main__":  # pragma: no cover - python forkserver.py ADDRESS [MODULE ...]
    sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or ".") != os.path.realpath(Path(__file__).parent)]
    _serve(sys.argv[1], sys.argv[2:])
