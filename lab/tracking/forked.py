"""An entry point's ``python`` command run in a fork of this process instead of a new interpreter.

A warm stage does 0.1 s of work, but a new interpreter pays again for Python, pandas, MLflow and
its SQL store (1.5 to 3 s on the lab's 2-core machines). When this process already holds what the
command's own interpreter would import, a fork is that interpreter, started: the child changes to
the project folder, takes the command's environment and the process's own standard streams (not a
caller's replacements), puts the project folder first on its import path, runs the module or
script as ``__main__`` with the command's arguments (``sys.argv`` as ``python -m`` or ``python
file.py`` sets it) and ends as an interpreter ends (its non-daemon threads joined, its ``atexit``
functions run, an active MLflow run ended, output flushed). The run it records is the one the
command records.

:func:`python_command` decides when that holds (``None`` otherwise: the caller starts the command
as a process): the command is ``python -m MODULE ARGS`` or ``python FILE.py ARGS`` for this
interpreter, the calling thread is the only one (a fork copies one thread; a scheduler's threads
keep the new process), and nothing this process imported would be another file in the new
interpreter (the project folder, first on its path, holds no other copy of an imported module).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.machinery
import importlib.util
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, NoReturn

__all__ = ["PythonCommand", "ForkedProcess", "become_command", "die_with_parent", "end_active_run", "exec_as_main",
           "python_command", "parse_python_command", "forkable_here", "fork_command", "shadowed_modules"]


@dataclass(frozen=True)
class PythonCommand:
    """A ``python -m MODULE ARGS`` (``module``) or ``python FILE ARGS`` (``script``, absolute) command line."""

    module: str | None
    script: str | None
    args: tuple[str, ...]
    work_dir: str

    @property
    def path_entry(self) -> str:
        """What the new interpreter puts first on ``sys.path``: the working directory (``-m``), else the script's folder."""
        return self.work_dir if self.module else str(Path(self.script).resolve().parent)


def python_command(command: str, work_dir: str | Path, env: Mapping[str, str]) -> PythonCommand | None:
    """The command as a :class:`PythonCommand` when a fork of this process can run it; ``None`` otherwise
    (:func:`parse_python_command`, then :func:`forkable_here`).

    Parameters
    ----------
    command : str
        The shell command line (an MLproject entry point's, parameters substituted).
    work_dir : str or Path
        The folder the command runs in.
    env : mapping
        The command's environment (its ``PATH`` finds ``python``).
    """
    parsed = parse_python_command(command, work_dir, env)
    return parsed if parsed is not None and forkable_here(parsed, env) else None


def parse_python_command(command: str, work_dir: str | Path, env: Mapping[str, str]) -> PythonCommand | None:
    """``python -m MODULE ARGS`` or ``python FILE.py ARGS`` (a file in ``work_dir``) whose ``python``, found
    on the command's ``PATH``, is this interpreter; ``None`` for any other command (interpreter options,
    shell syntax, another program or interpreter).

    >>> parse_python_command("python -m json.tool --sort-keys", "/no/such/folder", {"PATH": ""}) is None  # not this python
    True
    """
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 2 or Path(words[0]).name not in ("python", "python3") or _shell_syntax(words):
        return None
    found = shutil.which(words[0], path=env.get("PATH", ""))
    if found is None or os.path.realpath(found) != os.path.realpath(sys.executable):
        return None
    work_dir = str(Path(work_dir).resolve())
    if words[1] == "-m" and len(words) >= 3:
        return PythonCommand(words[2], None, tuple(words[3:]), work_dir)
    if not words[1].startswith("-") and words[1].endswith(".py") and Path(work_dir, words[1]).is_file():
        return PythonCommand(None, str(Path(work_dir, words[1])), tuple(words[2:]), work_dir)
    return None


def forkable_here(command: PythonCommand, env: Mapping[str, str]) -> bool:
    """Whether this process, forked, is the interpreter ``command`` would start: one thread (the main
    one), the command's ``PYTHONPATH`` already on the path, and no imported module shadowed by
    another file in the folder the new interpreter would import from first."""
    if threading.active_count() > 1 or threading.current_thread() is not threading.main_thread():
        return False
    if _openmp_loaded():  # its thread pool does not survive a fork: the copy hangs in its first parallel loop
        return False
    return _same_python_path(env) and not shadowed_modules(command.path_entry)


#: Shared objects of OpenMP runtimes (GNU, LLVM, Intel): LightGBM and XGBoost load one.
OPENMP_RUNTIMES = ("libgomp", "libomp", "libiomp")


def _openmp_loaded() -> bool:
    """Whether an OpenMP runtime is mapped into this process (Linux ``/proc/self/maps``; False elsewhere).

    A booster trained in this process leaves an OpenMP thread pool behind, which ``threading`` does
    not see and a forked copy does not have: the copy's next parallel loop waits for it forever.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any(runtime in line for line in maps for runtime in OPENMP_RUNTIMES)
    except OSError:
        return False


def _shell_syntax(words: list[str]) -> bool:
    """Whether a word is shell syntax a fork would not honour (a pipe, a redirection, a variable, ``;``)."""
    return any(any(mark in word for mark in "|&;<>$`*?") for word in words)


def _same_python_path(env: Mapping[str, str]) -> bool:
    """Whether the command's ``PYTHONPATH`` is already on this process's path (it is when unchanged)."""
    entries = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    here = {os.path.realpath(entry or ".") for entry in sys.path}
    return all(os.path.realpath(entry) in here for entry in entries)


def shadowed_modules(first: str | Path) -> list[str]:
    """The modules this process imported that ``first`` (the new interpreter's first import folder) holds
    another copy of: with one, the command would import other code than this process holds.

    >>> shadowed_modules(Path(__file__).parents[2])  # the checkout: its packages are the ones imported
    []
    """
    first = Path(first).resolve()
    try:
        entries = set(os.listdir(first))
    except OSError:
        return []
    extensions = {entry.split(".", 1)[0]: entry for entry in entries if entry.endswith(".so")}
    found = []
    for name, module in list(sys.modules.items()):
        if "." in name or module is None:
            continue
        # what an import of `name` would find there: a module, a package, an extension or a namespace
        # folder; a file of that name without a suffix (a console script in a bin folder) is not importable
        candidates = [first / f"{name}.py" if f"{name}.py" in entries else None,
                      first / name / "__init__.py" if name in entries else None,
                      first / extensions[name] if name in extensions else None,
                      first / name if name in entries else None]
        present = next((c for c in candidates if c is not None and (c.is_dir() if c.name == name else c.exists())), None)
        if present is None:
            continue
        origin = getattr(module, "__file__", None)
        locations = {os.path.realpath(p) for p in getattr(module, "__path__", None) or []}
        if (origin and os.path.realpath(origin) == os.path.realpath(present)) or os.path.realpath(present) in locations:
            continue
        found.append(name)
    return sorted(found)


class ForkedProcess:
    """The forked child as :class:`subprocess.Popen` shows a process: ``pid``, ``poll()``, ``wait(timeout)``,
    ``returncode`` (``-N`` when signal N ended it)."""

    def __init__(self, pid: int, args: str) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code; :class:`subprocess.TimeoutExpired` when it still runs after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(delay if left is None else min(delay, left))
            delay = min(delay * 2, 0.02)
        return self.returncode


def fork_command(command: PythonCommand, env: Mapping[str, str], *, before_fork: Callable[[], None] = lambda: None,
                 in_child: Callable[[], None] = lambda: None, at_exit: Callable[[], None] = lambda: None,
                 text: str = "") -> ForkedProcess:
    """Run ``command`` in a forked child of this process, in a session (process group) of its own.

    ``before_fork`` runs here first (close what must not be shared: database connections);
    ``in_child`` runs in the child before the command (``prctl`` death signals); ``at_exit`` runs
    in the child after it, before the ``atexit`` functions (end an active run).
    """
    before_fork()
    for stream in (sys.stdout, sys.stderr):  # what is buffered here is not written twice
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid:
        return ForkedProcess(pid, text)
    become_command(command, env, in_child=in_child, at_exit=at_exit)  # pragma: no cover - the child


def become_command(command: PythonCommand, env: Mapping[str, str], *, in_child: Callable[[], None] = lambda: None,
                   at_exit: Callable[[], None] = lambda: None) -> NoReturn:  # pragma: no cover - in a fresh fork
    """In a fresh fork (of this process or of :mod:`lab.forkserver`): run ``command`` as its own
    interpreter would, in a session (process group) of its own, and exit with its code; never returns.
    ``in_child`` runs first, ``at_exit`` after the command (see :func:`fork_command`)."""
    code = 1
    try:
        os.setsid()
        in_child()
        code = _run_as_main(command, env, at_exit)
    except BaseException:  # the interpreter's last word on an error the job did not catch
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def die_with_parent() -> None:  # pragma: no cover - runs in a child before exec or before its command
    """Have Linux send this process SIGTERM when the thread that started it dies
    (``prctl(PR_SET_PDEATHSIG)``): a child does not outlive the runner or server that forked it."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def end_active_run() -> None:  # pragma: no cover - runs in a forked command at its end
    """What MLflow's exit hook does in a job's own interpreter: end the run the job left active (it
    ends FINISHED). MLflow is not imported for it: a job that never loaded MLflow has no run."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None and mlflow.active_run() is not None:
        mlflow.end_run()


def _run_as_main(command: PythonCommand, env: Mapping[str, str],
                 at_exit: Callable[[], None]) -> int:  # pragma: no cover - runs in the child
    """Become the command's interpreter, run it, end as an interpreter ends; the exit code."""
    atexit._clear()  # the parent's exit functions (its temporary folders, its test session) are not the job's
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM,
                   signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("stdin", "stdout", "stderr"):  # the process's own streams, as a new interpreter has them
        original = getattr(sys, f"__{name}__")
        if original is not None and getattr(sys, name) is not original:
            with contextlib.suppress(Exception):
                getattr(sys, name).flush()
            setattr(sys, name, original)
    os.chdir(command.work_dir)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, command.path_entry)
    sys.argv = ["-m" if command.module else command.script, *command.args]
    # What the new interpreter would import afresh: the job module itself (it runs as __main__; the copy
    # this process imported stays out of the way), with no test session's import hook in between
    # (pytest's assertion rewriter claims the files named on its command line and cannot give their code).
    if command.module:
        sys.modules.pop(command.module, None)
    sys.meta_path[:] = [finder for finder in sys.meta_path if not type(finder).__module__.startswith("_pytest.")]
    interrupted = False
    try:
        exec_as_main(command)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code, interrupted = 130, True
    except BaseException:
        traceback.print_exc()
        code = 1
    _join_threads()
    with contextlib.suppress(Exception):
        at_exit()
    atexit._run_exitfuncs()
    logging.shutdown()
    if interrupted:  # as an interpreter ended by Ctrl-C: killed by SIGINT
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


def exec_as_main(command: PythonCommand) -> None:
    """Run the command's module or script as ``__main__``, as ``python -m``/``python file.py`` would.

    Unlike :func:`runpy.run_module`, the new module also becomes ``__mp_main__``: multiprocessing
    aliased that name to the parent's ``__main__`` when it was imported, and a job that starts
    worker processes (tune) gets back objects of classes its ``__main__`` defines, which the
    parent unpickles by that name (``__mp_main__.BestOfWorker``). The spawned workers import the
    job's module by the name in its ``__spec__`` (``jobs.tune``), as under ``python -m``.
    """
    if command.module:
        spec = importlib.util.find_spec(command.module)
        if spec is not None and spec.submodule_search_locations is not None:  # a package: its __main__
            spec = importlib.util.find_spec(f"{command.module}.__main__")
        if spec is None or spec.loader is None:
            raise ImportError(f"No module named {command.module}")
        code = spec.loader.get_code(spec.name)
    else:
        path = str(Path(command.script).resolve())
        # a console script has no .py suffix: name its loader, as the interpreter runs any file as source
        spec = importlib.util.spec_from_file_location("__main__", path,
                                                      loader=importlib.machinery.SourceFileLoader("__main__", path))
        code = compile(Path(path).read_bytes(), path, "exec")
    module = importlib.util.module_from_spec(spec)
    module.__name__ = "__main__"
    if not command.module:
        module.__spec__ = None  # as for a script run by path
    sys.argv[0] = spec.origin or sys.argv[0]
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module
    exec(code, module.__dict__)


def _join_threads() -> None:  # pragma: no cover - runs in the child
    """What the interpreter does first at exit: threading's exit functions (thread pools let their
    workers go), then wait for the non-daemon threads."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
        return
    threading_exits = getattr(threading, "_threading_atexits", [])
    for call in reversed(threading_exits):
        call()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()


def _exit_code(code: object) -> int:
    """What the interpreter exits with for ``sys.exit(code)``: an int as is, None 0, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
