"""``python -m jobs STAGE ARGS``: the entry points' door (every command of ``MLproject``).

Run the stage module ``jobs.STAGE`` (``featurize``, ``tune``, ``walk_forward``...) as ``__main__``
with ``ARGS``. In a fresh interpreter (``mlflow run`` starts one per stage) the door first asks the
lab's fork server (:mod:`lab.forkserver`; the one ``lab`` keeps, or ``LAB_FORK_SERVER``) to run
the stage in a warm child instead, exactly as ``python -m jobs.STAGE ARGS`` would run, and exits
as that child did; it passes on Ctrl-C, SIGTERM, SIGHUP and SIGQUIT, and should it die without a
word the server stops the stage. Where the libraries are loaded already (a fork of ``lab``, a
served child) or no server takes the stage, it runs here.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

from lab import forkserver  # the standard library only


def main(argv: list[str]) -> None:
    if not argv or not argv[0].isidentifier():
        sys.exit("usage: python -m jobs STAGE [ARGS...]   (STAGE: a module of jobs/, e.g. featurize, walk_forward)")
    module, args = f"jobs.{argv[0]}", tuple(argv[1:])
    cold = "pandas" not in sys.modules  # a fork of a warm process runs the stage here, at once
    if cold and not os.environ.pop(forkserver.SERVED_ENV, ""):
        code = forkserver.run_served(SimpleNamespace(module=module, script=None, args=args, work_dir=os.getcwd()),
                                     os.environ)
        if code is not None:
            forkserver.exit_as(code)
    from lab.tracking.forked import PythonCommand, exec_as_main  # heavy: pandas, for the stage itself

    sys.argv = ["-m", *args]
    exec_as_main(PythonCommand(module, None, args, os.getcwd()))


if __name__ == "__main__":
    main(sys.argv[1:])
