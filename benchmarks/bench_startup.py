"""A warm stage's wall time from the shell: `lab featurize`, `mlflow run . -e featurize` and the entry
point's own process, on the default-size synthetic file with the feature cache warm (the stage's own
work is ~0.12 s: the rest is starting Python, importing pandas and MLflow, and the tracking store),
and two floors no change to the lab can lower: MLflow's command line starting, and importing what a
job that logs to a sqlite store needs.

    python benchmarks/bench_startup.py [--runs 5] [--before /path/to/an/older/checkout]

Each figure is the median of ``--runs`` whole processes. With ``--before``, the same commands run on
that checkout too (its code on PYTHONPATH, its MLproject), alternated with this one run by run
(before, after, before, after ...) so that both see the same machine load. Each checkout gets its
own home and store (a temporary folder), warmed by one untimed featurize first.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import ROOT

from lab.forkserver import ForkServer

#: The `lab` console script of a checkout: `cli.launch` (served by a fork server when one runs), or
#: `cli.main` in a checkout without it.
LAB_SCRIPT = {True: "import sys\nfrom cli.launch import main\nsys.exit(main())\n",
              False: "import sys\nfrom cli.main import main\nsys.exit(main())\n"}
SERVED, UNSERVED = "lab featurize, served", "lab featurize, no server"


def _commands(code: Path, config: Path) -> dict[str, list[str]]:
    """The ways to run a warm featurize with the code of checkout ``code``: ``lab`` served by its
    background fork server (lab.forkserver), ``lab`` with ``LAB_FORK_SERVER=off``, ``mlflow run``, and
    the entry point's own process."""
    script = config.parent / "lab"
    script.write_text(LAB_SCRIPT[(code / "cli" / "launch.py").exists()])
    lab = [sys.executable, str(script), "featurize", "--config", str(config)]
    # the MLproject command: through the door (python -m jobs featurize) where the checkout has one
    entry = ["jobs", "featurize"] if (code / "jobs" / "__main__.py").exists() else ["jobs.featurize"]
    return {
        SERVED: lab,
        UNSERVED: ["env", "LAB_FORK_SERVER=off", *lab],
        "mlflow run . -e featurize": [sys.executable, "-m", "mlflow", "run", str(code), "-e", "featurize",
                                      "--env-manager", "local", "-P", f"config={config}"],
        "entry point command alone": [sys.executable, "-m", *entry, "--config", str(config)],
    }


#: What any warm stage pays whatever the lab does: MLflow's own command line, and importing what a job
#: that logs to a sqlite store needs (pandas, MLflow, its SQL store).
FLOORS = {
    "floor: mlflow run --help": [sys.executable, "-m", "mlflow", "run", "--help"],
    "floor: import pandas, mlflow, SQL store": [
        sys.executable, "-c", "import pandas, mlflow, mlflow.store.tracking.sqlalchemy_store"],
}


def _side(code: Path, data: Path, home: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Commands and environment of one checkout: its own home, store and experiment."""
    home.mkdir(parents=True)
    config = home / "lab.toml"
    config.write_text(f'[data]\npath = "{data}"\n')
    env = {**_common.child_env(LAB_HOME=str(home), MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db"),
           "PYTHONPATH": str(code)}
    subprocess.run([sys.executable, "-c", "import mlflow; mlflow.create_experiment('bench', artifact_location="
                    f"'{(home / 'artifacts').as_uri()}')"], env=env, check=True, capture_output=True)
    env["MLFLOW_EXPERIMENT_NAME"] = "bench"
    return _commands(code, config), env


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command's processes together) of one run."""
    cpu, began = _cpu_of_children(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, _cpu_of_children() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per command and checkout (median)")
    parser.add_argument("--before", type=Path, default=None, help="an older checkout to compare with, alternated")
    args = parser.parse_args()
    data = _common.default_data_file()
    load_before = _common.load()
    sides = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
    scratch = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    servers: list = []
    try:
        setups = {name: _side(code, data, scratch / name) for name, code in sides.items()}
        for name, (commands, env) in setups.items():  # builds the tables: every timed run is a cache hit
            _timed(commands[SERVED], env, scratch / name)  # and starts the background fork server
            address = _common.fork_server(env, start=True)
            servers.append(ForkServer(address) if address else None)
        timings: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.runs):
            for name, (commands, env) in setups.items():
                for label, command in commands.items():
                    timings.setdefault((name, label), []).append(_timed(command, env, scratch / name))
        print(f"warm featurize (cache hit) on {data.name}, the whole command, median of {args.runs} runs: wall time "
              "(each run's) and CPU time (user + system of its processes; a served command's child is the fork "
              "server's, so its CPU is not counted)")
        for label in _commands(ROOT, scratch / "lab.toml"):
            cells = []
            for name in sides:
                runs = timings[(name, label)]
                walls = ", ".join(f"{wall:.2f}" for wall, _ in runs)
                cells.append(f"{name} {_common.median(w for w, _ in runs):.2f} s wall ({walls}), "
                             f"{_common.median(c for _, c in runs):.2f} s CPU")
            print(f"  {label:<27} " + "; ".join(cells))
        floors = {label: [_timed(command, setups["after"][1], scratch) for _ in range(args.runs)]
                  for label, command in FLOORS.items()}
        for label, runs in floors.items():
            print(f"  {label:<40} {_common.median(w for w, _ in runs):.2f} s wall, "
                  f"{_common.median(c for _, c in runs):.2f} s CPU")
        print(f"  ({SERVED}: the background fork server of lab.forkserver, started by the untimed first run, "
              f"imports done; {UNSERVED}: LAB_FORK_SERVER=off, everything imported in the command's process)")
        if args.before is not None:
            print(f"before: {args.before} (alternated with this checkout, run by run)")
        print(_common.machine(load_before))
    finally:
        for server in servers:
            if server is not None:
                server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
