"""A warm interpreter that forks the lab's commands and entry points instead of starting new ones.

Every ``lab`` command and every stage used to start an interpreter and import pandas, MLflow and
its SQL store, LightGBM, numba... again: 2.5 to 3 s on the lab's 2-core machines, for stages whose
own work is a tenth of that. A fork server is an interpreter started once, from nothing, that
imports those libraries (:data:`PRELOAD`: no project module, no store, no thread of its own) and
then forks one child per request: the child is the new interpreter the command would start,
already warm. The project's own code is imported by each child afresh, so an edit is seen at once.

Where one serves:

* **The ``lab`` command** (:mod:`cli.launch`). ``lab`` asks the server of this user, interpreter
  and ``PYTHONPATH`` (:func:`default_address`) to run the whole command; when there is none it
  starts one in the background and runs this command itself, so the next ``lab`` is served. A
  server with no request for :data:`IDLE_EXIT_S` seconds exits. ``LAB_FORK_SERVER=off`` turns
  this off; ``LAB_FORK_SERVER=<socket>`` names a server to use instead (the test session's).
* **The runner** (:func:`lab.tracking.run_entry_point`) when it cannot fork itself (it has threads,
  or LightGBM's OpenMP runtime is loaded): it asks the server ``LAB_FORK_SERVER`` names, which
  ``lab schedule run`` starts before its first thread and the test session starts per worker.

A request carries the command (module or script, arguments, folder), its environment and the
caller's standard input, output and error (their file descriptors, passed over the Unix socket).
The child runs it exactly as :mod:`lab.tracking.forked` runs a forked command (a session of its
own, ``__main__``, the command's ``sys.argv``, an interpreter's ending); the server sends back its
pid, then its exit code. The caller stops it by its process group. A child ends with the server
(``PR_SET_PDEATHSIG``) and with its caller: when the caller's end of the socket closes (it died,
even by SIGKILL), the server sends the child's process group SIGTERM.

The server refuses what its interpreter is not, and the caller then starts a process as before:
another ``python``; a ``PYTHONPATH`` without an entry the server started with; a folder (the
command's, or a ``PYTHONPATH`` entry the server lacks, which the child puts on its path) holding
another copy of a module it imported; a setting read when a library loads (:data:`LOAD_TIME_ENV`:
OpenMP, BLAS and numba threads, locale, time zone, ...) that differs from the server's; or a
preloaded library, or the server's own code, changed on disk since it started (the server then
exits; the next ``lab`` starts a new one).

This file imports nothing of the lab at module level (``lab`` imports it before anything heavy),
and the server runs it by path, so it holds no project module; it loads
:mod:`lab.tracking.forked` by path, as a private module, to run the command in the child the way
a fork of the runner runs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["ForkServer", "ServedProcess", "FORK_SERVER_ENV", "SERVED_ENV", "SUPPORTED", "PRELOAD", "WARM_UP", "IDLE_EXIT_S",
           "LOAD_TIME_ENV",
           "default_address", "exit_as", "from_environment", "run_served", "server_pid", "serving"]

#: The environment variable naming the fork server to use (a Unix socket's path), or ``off``.
FORK_SERVER_ENV = "LAB_FORK_SERVER"

#: What the server imports before it serves: the libraries every stage's interpreter loads (about
#: 2.9 s on the lab's 2-core machines; GitPython runs ``git version`` once). None starts a thread or
#: opens a store.
PRELOAD = ("numpy", "pandas", "pyarrow.parquet", "pyarrow.csv", "pyarrow.dataset", "pyarrow.pandas_compat", "scipy.stats",
           "mlflow", "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store",
           "mlflow.store.tracking.sqlalchemy_workspace_store", "mlflow.store.model_registry.sqlalchemy_workspace_store",
           "mlflow.utils.search_logged_model_utils", "sqlalchemy.dialects.sqlite", "alembic.command", "alembic.config",
           "git", "lightgbm", "numba", "optuna", "matplotlib.figure", "exchange_calendars", "click")

#: What the server calls once after :data:`PRELOAD` (``module:function``): a preloaded library's per-process
#: cache that every child would otherwise build on its first use. MLflow's map of the installed packages'
#: modules (``importlib.metadata.packages_distributions()``, about 0.6 s here), which each model it logs
#: checks its pip requirements against. A library that upgrades is seen (the server then exits); an MLflow
#: without that private name only costs its children the scan.
WARM_UP = ("mlflow.utils.requirements_utils:_init_modules_to_packages_map",)

#: Where a fork server runs: Linux (Unix sockets of sequenced packets, ``prctl`` death signals); elsewhere
#: every command starts its own interpreter.
SUPPORTED = sys.platform.startswith("linux")

#: Seconds without a request or a running child after which a background server (``lab``'s) exits.
IDLE_EXIT_S = 900

#: Environment variables a library or the interpreter reads once, when it loads (prefixes of their
#: names): a request whose values differ from the server's is refused.
LOAD_TIME_ENV = ("OMP_", "KMP_", "GOMP_", "MKL_", "OPENBLAS_", "BLIS_", "NUMBA_", "NUMEXPR_", "MPLBACKEND", "MPLCONFIGDIR",
                 "PYTHON", "LD_", "TZ", "LANG", "LC_", "ARROW_")

_MESSAGE_BYTES = 1 << 20  # one request: the command and its environment (a few KB)
_STOP = -1  # what _fork_request returns for a request to stop the server
_STARTED_WITH: dict[str, str] = {}  # the server's environment before it imported anything


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
    """A fork server: :meth:`start` one (or name a running one by its address), :meth:`run` commands
    in it, :meth:`close` the one you started."""

    def __init__(self, address: str, process: subprocess.Popen | None = None, folder: str | None = None) -> None:
        self.address = address
        self._process = process
        self._folder = folder

    @property
    def pid(self) -> int | None:
        """The server's pid when this process started it."""
        return self._process.pid if self._process is not None else None

    @classmethod
    def start(cls, preload: Sequence[str] = PRELOAD, *, wait: bool = True, timeout_s: float = 120.0) -> "ForkServer":
        """Start a server with this interpreter and environment, ending with this process. With ``wait``
        (the default) return once it has imported ``preload`` and listens; without, at once (its socket
        appears when it is ready, and until then :func:`from_environment` finds no server).

        Raises
        ------
        RuntimeError
            ``wait`` and the server did not say it was ready within ``timeout_s`` seconds (its error is on
            stderr).
        """
        folder = tempfile.mkdtemp(prefix="lab-forkserver-", dir=_socket_folder(tempfile.gettempdir()))
        address = os.path.join(folder, "socket")
        process = subprocess.Popen([sys.executable, __file__, "--owner", str(os.getpid()), address, *preload],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if wait else subprocess.DEVNULL,
                                   cwd=folder)
        server = cls(address, process, folder)
        if wait:
            ready, _, _ = select.select([process.stdout], [], [], timeout_s)
            line = process.stdout.readline() if ready else b""
            process.stdout.close()
            if line.strip() != b"ready":
                server.close()
                raise RuntimeError(f"the fork server ({__file__}) did not start within {timeout_s:g} s; its error is above")
        return server

    @staticmethod
    def start_in_background(address: str) -> None:
        """Start a server at ``address`` that outlives this process and exits after :data:`IDLE_EXIT_S`
        idle seconds (its output goes to ``<address>.log``); returns at once. Nothing happens when
        another process is starting one there."""
        folder = Path(address).parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(str(folder)):
            return
        try:  # one starter at a time: the lock file is removed by the server once it listens
            descriptor = os.open(f"{address}.starting", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            if time.time() - _mtime(f"{address}.starting") < 120:
                return
            with contextlib.suppress(OSError):  # a starter that died: clear its lock for the next command
                os.unlink(f"{address}.starting")
            return
        os.close(descriptor)
        with open(f"{address}.log", "ab") as log:
            subprocess.Popen([sys.executable, __file__, "--idle-exit", str(IDLE_EXIT_S), address, *PRELOAD],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, cwd=folder,
                             start_new_session=True)

    def run(self, command: Any, env: Mapping[str, str], *, text: str = "") -> ServedProcess | None:
        """Run ``command`` (a :class:`lab.tracking.forked.PythonCommand`, or anything with its ``module``,
        ``script``, ``args`` and ``work_dir``) in a child of the server, with this process's standard
        streams; ``None`` when the server refuses it or cannot be reached (start a process instead)."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = {"python": _interpreter(), "module": command.module, "script": command.script,
                   "args": list(command.args), "work_dir": str(command.work_dir), "env": dict(env)}
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

    def listening(self) -> bool:
        """Whether a server accepts connections at this address."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(self.address)
            return True
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> bool:
        """Ask the server at this address to exit once its running children end (a background one
        included); whether it was there to ask."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(self.address)
            socket.send_fds(connection, [json.dumps({"stop": True}).encode()], [])
            connection.recv(_MESSAGE_BYTES)
            return True
        except OSError:
            return False
        finally:
            connection.close()

    def close(self) -> None:
        """Stop the server this process started (children it still runs get SIGTERM) and remove its socket."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._folder is not None:  # the socket, if the server got as far as listening, and its folder
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def serving():
    """A server owned by this process (:meth:`ForkServer.start` without waiting), named in
    ``LAB_FORK_SERVER`` for the block: the entry points the lab's runner starts inside run in its
    children. For a process that will have threads (the scheduler) or an OpenMP runtime (a test
    worker) and so cannot fork itself: start it before either. The earlier value comes back after."""
    earlier = os.environ.get(FORK_SERVER_ENV)
    with ForkServer.start(wait=False) as server:
        os.environ[FORK_SERVER_ENV] = server.address
        try:
            yield server
        finally:
            if earlier is None:
                os.environ.pop(FORK_SERVER_ENV, None)
            else:
                os.environ[FORK_SERVER_ENV] = earlier


def server_pid(address: str) -> int | None:
    """The pid a background server at ``address`` wrote beside its socket (``<address>.pid``); None without one."""
    try:
        return int(Path(f"{address}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def from_environment(env: Mapping[str, str] = os.environ) -> ForkServer | None:
    """The server ``LAB_FORK_SERVER`` (of ``env``) names, else this user's background server
    (:func:`default_address`), when its socket exists; None when there is none or ``LAB_FORK_SERVER=off``."""
    address = env.get(FORK_SERVER_ENV, "")
    if address == "off" or not SUPPORTED:
        return None
    if not address:
        address = default_address()
        if not _private(os.path.dirname(address)):  # another user's folder in the shared temp: not ours to use
            return None
    return ForkServer(address) if os.path.exists(address) else None


def _private(folder: str) -> bool:
    """Whether ``folder`` is this user's and closed to others (the background server's socket folder)."""
    try:
        info = os.stat(folder)
    except OSError:
        return True  # not there yet: it is made private
    return info.st_uid == os.getuid() and not info.st_mode & 0o077


#: Set in a served command's environment (and removed there at once by the door that asked): run the
#: command, do not ask the server again.
SERVED_ENV = "LAB_SERVED"

#: The signals a door passes on to the command it had served (:func:`run_served`).
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def run_served(command: Any, env: Mapping[str, str]) -> int | None:
    """A door's way in (``lab``, ``python -m jobs``): run ``command`` in the fork server and wait for it;
    its exit code (``-N`` when signal N ended it), or None when no server takes it (then, unless
    ``LAB_FORK_SERVER`` names one or is ``off``, a background server is started for the next command).

    While it waits, Ctrl-C, SIGTERM, SIGHUP and SIGQUIT of this process go to the command's process
    group; should this process die without a word, the server stops the command (SIGTERM).
    """
    server = from_environment(env)
    if server is None:
        if not env.get(FORK_SERVER_ENV) and SUPPORTED:  # not named, not off: this user's background server
            with contextlib.suppress(OSError):  # no server now; the next command may have one
                ForkServer.start_in_background(default_address())
        return None
    process = server.run(command, {**env, SERVED_ENV: "1"}, text=str(command))
    if process is None:
        return None

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    return process.wait()


def exit_as(code: int) -> None:
    """Exit as a served command did: with its code, or by its signal (``-N``)."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


def default_address() -> str:
    """The socket of this user's background server for this interpreter, environment (venv) and ``PYTHONPATH``:
    ``<temp>/lab-forkserver-<uid>/<key>.sock``."""
    key = hashlib.sha256(json.dumps([_interpreter(), _python_path(os.environ)]).encode()).hexdigest()
    return os.path.join(_socket_folder(tempfile.gettempdir()), f"lab-forkserver-{os.getuid()}", f"{key[:16]}.sock")


def _socket_folder(preferred: str) -> str:
    """``preferred``, or ``/tmp`` when a socket path under it could pass the 107 bytes a Unix socket's
    address holds."""
    return preferred if len(preferred.encode()) <= 60 or not os.path.isdir("/tmp") else "/tmp"


def _interpreter() -> str:
    """This interpreter and its environment: two venvs of one Python share the binary, not their packages."""
    return f"{os.path.realpath(sys.executable)} in {os.path.realpath(sys.prefix)}"


def _wait_gone(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _python_path(env: Mapping[str, str]) -> list[str]:
    return [os.path.realpath(entry) for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]


def _load_time_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of :data:`LOAD_TIME_ENV` in ``env`` (``PYTHONPATH`` is judged on its own)."""
    return {k: v for k, v in env.items() if k != "PYTHONPATH" and k.startswith(LOAD_TIME_ENV)}


# -- the server (runs in its own interpreter) ----------------------------------------------------


def _load_forked():
    """:mod:`lab.tracking.forked` loaded by path as a private module (the server imports no package of the lab)."""
    spec = importlib.util.spec_from_file_location("_lab_forked", Path(__file__).parent / "tracking" / "forked.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _library_files() -> dict[str, int]:
    """The file of every imported top-level library, and the server's own two files, with their
    modification times (ns)."""
    found = {}
    for own in (Path(__file__), Path(__file__).parent / "tracking" / "forked.py"):
        with contextlib.suppress(OSError):
            found[str(own)] = own.stat().st_mtime_ns
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if "." not in name and origin and not name.startswith("_"):
            with contextlib.suppress(OSError):
                found[origin] = os.stat(origin).st_mtime_ns
    return found


def _warm_caches(calls: Sequence[str] = WARM_UP) -> None:
    """Call each ``module:function`` of :data:`WARM_UP`; one that is missing or fails only costs the
    children the work it would have saved."""
    for call in calls:
        module, _, function = call.partition(":")
        with contextlib.suppress(Exception):
            getattr(importlib.import_module(module), function)()


def _serve(address: str, preload: Sequence[str], owner: int | None, idle_exit_s: float | None) -> None:  # pragma: no cover
    """The server's loop: accept requests, fork children, send their exit codes, watch their callers."""
    forked = _load_forked()
    global _STARTED_WITH
    _STARTED_WITH = dict(os.environ)  # before the libraries load: some set variables (KMP_DUPLICATE_LIB_OK)
    for name in preload:
        with contextlib.suppress(ImportError):  # an optional library that is not installed
            importlib.import_module(name)
    _warm_caches()
    libraries = _library_files()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)  # a server that died without removing it
    listener.bind(address)
    listener.listen(64)
    with contextlib.suppress(OSError):
        os.unlink(f"{address}.starting")
    if owner is None:  # a background server says who it is (`lab server status`)
        Path(f"{address}.pid").write_text(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # the starter closed its end of the pipe; children get their callers' streams
    os.close(devnull)
    waiting: dict[int, socket.socket] = {}
    orphaned: set[int] = set()  # children whose caller is gone, sent SIGTERM once
    last_seen = time.monotonic()
    stopping = False
    try:
        while owner is None or os.getppid() == owner:
            if not waiting and (stopping or (idle_exit_s is not None and time.monotonic() - last_seen > idle_exit_s)):
                return
            ready, _, _ = select.select([listener, *waiting.values()], [], [], 0.05)
            if listener in ready:
                last_seen = time.monotonic()
                connection, _ = listener.accept()
                if (changed := _changed(libraries)) is not None:
                    reason = f"{changed} changed on disk since the server started; it exits"
                    print(f"lab fork server {address}: {reason}", file=sys.stderr, flush=True)
                    with contextlib.suppress(OSError):
                        connection.send(json.dumps({"refused": reason}).encode())
                    connection.close()
                    return
                pid = _fork_request(connection, listener, waiting, forked)
                if pid == _STOP:
                    stopping = True
                    connection.close()
                elif pid is None:
                    connection.close()
                else:
                    waiting[pid] = connection
            for pid, connection in list(waiting.items()):
                if connection in ready and pid not in orphaned:  # a caller writes nothing more: its end closed
                    orphaned.add(pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGTERM)
            _reap(waiting)
            orphaned &= set(waiting)
            if waiting:
                last_seen = time.monotonic()
    finally:
        if owner is None:  # a background server removes its socket; a started one's owner removes the folder
            for path in (address, f"{address}.pid"):
                with contextlib.suppress(OSError):
                    os.unlink(path)
        elif os.getppid() != owner:  # the owner died without closing it (SIGKILL): nobody else will
            shutil.rmtree(Path(address).parent, ignore_errors=True)


def _changed(libraries: dict[str, int]) -> str | None:
    """The first file of ``libraries`` whose modification time moved (or that is gone); None when none did."""
    for origin, mtime in libraries.items():
        try:
            if os.stat(origin).st_mtime_ns != mtime:
                return origin
        except OSError:
            return origin
    return None


def _fork_request(connection: socket.socket, listener: socket.socket, waiting: dict, forked) -> int | None:  # pragma: no cover
    """Read one request, fork its child; the child's pid (sent to the caller), or None when refused."""
    try:
        message, fds, _, _ = socket.recv_fds(connection, _MESSAGE_BYTES, 3)
        request = json.loads(message)
        if request.get("stop"):
            with contextlib.suppress(OSError):
                connection.send(b'{"stopping": true}')
            return _STOP
        command = forked.PythonCommand(request["module"], request["script"], tuple(request["args"]), request["work_dir"])
        env = request["env"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    reason = _refusal(request, command, env, forked)
    if reason is None and len(fds) != 3:
        reason = "no standard streams"
    if reason is not None:
        with contextlib.suppress(OSError):
            connection.send(json.dumps({"refused": reason}).encode())
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
        except BaseException:
            traceback.print_exc()
            os._exit(code)
        forked.become_command(command, env, in_child=forked.die_with_parent, at_exit=forked.end_active_run)
    for fd in fds:
        os.close(fd)
    try:
        connection.send(json.dumps({"pid": pid}).encode())
    except OSError:  # the caller is gone already: the next pass of the loop stops the child
        pass
    return pid


def _refusal(request: dict, command, env: Mapping[str, str], forked) -> str | None:  # pragma: no cover
    """Why this server is not the interpreter the command would start (None: it is)."""
    if request.get("python") != _interpreter():
        return f"another python or environment ({request.get('python')}; the server's: {_interpreter()})"
    if missing := [entry for entry in _python_path(_STARTED_WITH) if entry not in _python_path(env)]:
        return f"the server's PYTHONPATH has {missing[0]}, which the command's lacks"
    ours, theirs = _load_time_settings(_STARTED_WITH), _load_time_settings(env)
    if ours != theirs:
        differing = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        return f"{differing[0]} differs from the server's (read when a library loads)"
    for folder in [command.path_entry, *_added_path(env)]:
        if shadowed := forked.shadowed_modules(folder):
            return f"{folder} holds other copies of {', '.join(shadowed)}"
    return None


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


def _main(argv: list[str]) -> None:  # pragma: no cover - python forkserver.py [--owner PID | --idle-exit S] ADDRESS [MODULE ...]
    sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or ".") != os.path.realpath(Path(__file__).parent)]
    owner = idle = None
    while argv and argv[0].startswith("--"):
        flag, value, argv = argv[0], argv[1], argv[2:]
        if flag == "--owner":
            owner = int(value)
        elif flag == "--idle-exit":
            idle = float(value)
    _serve(argv[0], argv[1:], owner, idle)


if __name__ == "__main__":  # pragma: no cover
    _main(sys.argv[1:])
