"""A real tune process whose trial number 1 hangs (run with ``python -m``), for the kill -9 test.

Runs ``jobs.tune.main(argv)`` unchanged except that the objective of trial 1 writes the file named
by ``LAB_TEST_HANG_MARKER`` and then sleeps, so the parent can ``kill -9`` it mid-trial.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> int:
    import jobs.tune
    from lab.study import tuning as tuning

    real = tuning.make_objective

    def hanging(*args, **kwargs):
        objective = real(*args, **kwargs)

        def wrapped(trial):
            if trial.number == 1:
                with open(os.environ["LAB_TEST_HANG_MARKER"], "w") as handle:
                    handle.write(str(os.getpid()))
                time.sleep(600)
            return objective(trial)

        return wrapped

    jobs.tune.make_objective = hanging
    return jobs.tune.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
