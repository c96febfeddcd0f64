"""A real tune process that hangs at a chosen point (run with ``python -m``), for the kill tests.

Runs ``jobs.tune.main(argv)`` unchanged except that at the point named by ``LAB_TEST_KILL_POINT`` it
writes the file named by ``LAB_TEST_HANG_MARKER`` and then sleeps, so the parent can kill it there:

``trial`` (default)
    inside the objective of trial 1 (trial 0 done);
``draw``
    trial 1 created and its grid point drawn, its worker not yet recorded;
``journal``
    during trial 1, while this process holds the journal's write lock.
"""

from __future__ import annotations

import os
import sys
import time


def _hang() -> None:
    with open(os.environ["LAB_TEST_HANG_MARKER"], "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(600)


def main() -> int:
    import jobs.tune
    from lab.study import tuning as tuning

    point = os.environ.get("LAB_TEST_KILL_POINT", "trial")
    real = tuning.make_objective
    in_trial_1 = []

    def hanging(*args, **kwargs):
        objective = real(*args, **kwargs)

        def wrapped(trial):
            if trial.number == 1:
                in_trial_1.append(True)
                if point == "trial":
                    _hang()
            return objective(trial)

        return wrapped

    jobs.tune.make_objective = hanging
    if point == "draw":
        record, calls = tuning.this_process, []

        def drawn_then_hang():  # called first thing for each trial, before the worker is recorded
            calls.append(1)
            if len(calls) == 2:
                _hang()
            return record()

        tuning.this_process = drawn_then_hang
    if point == "journal":
        acquire = tuning.KernelFileLock.acquire

        def acquire_then_hang(self):
            held = acquire(self)
            if in_trial_1:
                _hang()
            return held

        tuning.KernelFileLock.acquire = acquire_then_hang
    return jobs.tune.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
