"""Wall time of `lab demo` as a newcomer runs it: a fresh project folder, first run, synthetic data
generated, the whole chain (featurize, tune, walk-forward, backtest, promote, final-eval).

    python benchmarks/bench_demo.py [--no-edge] [--runs N]

Prints each run and the median, with the 1-minute load average before each run (other work on the
machine slows it: quote the load with the figure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import _common
from _common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-edge", action="store_true")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    times = []
    load_before = _common.load()
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as home:
            env = _common.child_env(LAB_HOME=home)
            command = [sys.executable, "-m", "cli.main", "demo", "--config", str(ROOT / "demo.toml")]
            command += ["--no-edge"] if args.no_edge else []
            load = os.getloadavg()[0]
            began = time.perf_counter()
            done = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - began
            if done.returncode != 0:
                sys.exit(f"lab demo failed:\n{done.stderr[-3000:]}")
            times.append(elapsed)
            print(f"run {i + 1}: {elapsed:.1f} s (load average before: {load:.2f})")
    print(f"lab demo{' --no-edge' if args.no_edge else ''}, fresh folder, first run: median {statistics.median(times):.1f} s "
          f"over {len(times)} run(s)")
    print(_common.machine(load_before))


if __name__ == "__main__":
    main()
