"""The ``lab`` command's door: the command runs in a warm interpreter when one serves, else here.

``[project.scripts] lab = "cli.launch:main"``. Before anything heavy is imported, ``lab`` asks the
background fork server of this user, interpreter and ``PYTHONPATH`` (:mod:`lab.forkserver`) to run
the whole command in a child that has pandas, MLflow and LightGBM imported already: the child gets
this folder, environment, arguments and standard streams, and this process waits for it, passes on
Ctrl-C, SIGTERM, SIGHUP and SIGQUIT to it, and exits with its code (or dies of its signal). Should
this process die without a word (SIGKILL), the server stops the child with SIGTERM, which stops its
entry point as ``lab`` stopping would.

When no server is there, this ``lab`` starts one in the background and runs the command itself
(:mod:`cli.main`); so does a ``lab`` whose server refuses (another interpreter or ``PYTHONPATH``, a
load-time setting such as ``OMP_NUM_THREADS`` changed, a library upgraded). A server exits after
:data:`lab.forkserver.IDLE_EXIT_S` seconds without a command. ``LAB_FORK_SERVER=off`` runs every
command here and starts no server; ``LAB_FORK_SERVER=<socket>`` uses that server only.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

from lab import forkserver  # the standard library only

__all__ = ["main", "served_here"]


def main() -> None:
    """The ``lab`` console script: served when a fork server takes the command, else :func:`cli.main.main`."""
    if not os.environ.pop(forkserver.SERVED_ENV, ""):
        code = served_here(sys.argv)
        if code is not None:
            forkserver.exit_as(code)
    from cli.main import main as lab  # heavy: pandas and the whole command, loaded only when not served

    lab()


def served_here(argv: list[str]) -> int | None:
    """Run ``argv`` (this console script and its arguments) in the fork server; its exit code (``-N``
    when signal N ended it), or None when no server takes it (one is started for the next command)
    or the command is ``lab server ...``, which neither asks nor starts one."""
    script = os.path.abspath(argv[0])
    if not os.path.isfile(script) or argv[1:2] == ["server"]:  # `lab server ...` looks at the server from outside
        return None
    command = SimpleNamespace(module=None, script=script, args=tuple(argv[1:]), work_dir=os.getcwd())
    return forkserver.run_served(command, os.environ)
