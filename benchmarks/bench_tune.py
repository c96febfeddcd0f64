"""The whole `mlflow run . -e tune` on the default-size data: wall time, time inside training, MLflow share.

    python benchmarks/bench_tune.py [--runs 3] [--workers 0] [--engine lightgbm] [--target target_vol] [--max-bin 63]
                                    [--model bagging_fraction=0.8 ...] [--checkout PATH] [--no-server]

By default the entry point is served by the lab's warm fork server (``lab.forkserver``; started
first when none runs, as the first ``lab`` or ``mlflow run`` command of a session starts it);
``--no-server`` runs it with ``LAB_FORK_SERVER=off``, importing everything in its own process.

Each run is a fresh study (81-point grid of lab.toml) in a temporary tracking store on the
2.3-million-row synthetic MES file (benchmarks/out/, made on first use).

``--checkout PATH`` (another checkout of the lab, e.g. ``git worktree add --detach ../before <commit>``)
alternates the runs: that checkout, this one, that one, ... (``--runs`` of each, same data file,
same interpreter), and prints the medians of both and their ratio, since the load of a shared
machine drifts between two series run one after the other.

Printed per run and as medians: the entry point's wall time as the user sees it (process start
to exit), the CPU time of its processes (user + system of ``mlflow run``, the job and its workers:
on a shared machine the figure the others' load disturbs least), the job's own wall time, the
summed training time of the trials, and the time spent in MLflow calls inside the job (nested
trial runs + the parent's model and artifacts) as a share of the wall time. Trials are logged on a background thread while the next trains, so the share
that matters is the time the job *waited* for MLflow (main-thread calls and the final drain).
Also the time the trials spent trading their models on validation (``search_backtest_s``: every
trial a strategy, :mod:`lab.study.trial_pnl`) as a share of the job's wall time.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="0", help="[tune] workers (0: one per core)")
    parser.add_argument("--engine", default="lightgbm", choices=["lightgbm", "xgboost"])
    parser.add_argument("--target", default="target_6bar", help="target_6bar stops early (nothing to learn); "
                        "target_vol trains hundreds of trees per trial")
    parser.add_argument("--max-bin", type=int, default=0, help="[model] max_bin (0: lab.toml's default)")
    parser.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                        help="another [model] setting for the run (repeatable), e.g. bagging_fraction=0.8")
    parser.add_argument("--no-server", action="store_true",
                        help="LAB_FORK_SERVER=off: the entry point imports everything in its own process (by default "
                             "the lab's warm fork server runs it, as after any earlier lab or mlflow run command)")
    parser.add_argument("--checkout", type=Path, default=None,
                        help="another checkout to compare with, run alternately (it first)")
    args = parser.parse_args()
    data = _common.default_data_file()
    load_before = _common.load()
    checkouts = ([("other", args.checkout.resolve())] if args.checkout else []) + [("this", ROOT)]
    rows: dict[str, list[dict]] = {label: [] for label, _ in checkouts}
    for number in range(args.runs):
        for label, checkout in checkouts:
            r = run_once(args, data, checkout)
            r["load"] = _common.load()
            rows[label].append(r)
            print(f"{label} ({checkout}) run {number + 1}: {int(r['trials'])} trials; entry point wall {r['wall']:.1f} s, "
                  f"CPU {r['cpu']:.1f} s{SERVED_NOTE if r['served'] else ''} "
                  f"(job {r['job']:.1f} s, search {r['search']:.1f} s); training summed over trials {r['train']:.1f} s; "
                  f"MLflow calls {r['mlflow']:.2f} s, of which the job waited {r['blocking']:.2f} s = "
                  f"{100 * r['share']:.1f} % of wall; best validation AUC {r['auc']:.4f} ({r['best']}); trials' "
                  f"validation backtests {r['backtest']:.1f} s = {100 * r['backtest'] / r['job']:.1f} % of the job; "
                  f"load after {r['load']}", flush=True)
    settings = f"{args.engine}, {args.target}, workers={args.workers}, max_bin={args.max_bin or 'default'}" + "".join(
        ", " + m for m in args.model)
    for label, checkout in checkouts:
        runs = rows[label]
        med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731,B023
        print(f"median of {len(runs)}, {label} checkout {checkout} ({settings}): entry point wall {med('wall'):.1f} s, "
              f"CPU of its processes {med('cpu'):.1f} s{SERVED_NOTE if any(r['served'] for r in runs) else ''}, "
              f"search {med('search'):.1f} s, training {med('train'):.1f} s, MLflow calls {med('mlflow'):.2f} s, "
              f"waited for {med('blocking'):.2f} s ({100 * med('share'):.1f} % of wall), best validation AUC "
              f"{med('auc'):.4f} (best trials: {sorted({r['best'] for r in runs})}), trials' validation backtests "
              f"{med('backtest'):.1f} s ({100 * med('backtest') / med('job'):.1f} % of the job)")
    if args.checkout:
        for key, what in (("wall", "entry point wall"), ("cpu", "CPU")):
            this, other = (statistics.median(r[key] for r in rows[label]) for label in ("this", "other"))
            print(f"this / other, median {what}: {this:.1f} / {other:.1f} s = {this / other:.2f}")
    print(_common.machine(load_before))


#: Said of a CPU figure when the job ran in the fork server's child (counted from the server's reaped children).
SERVED_NOTE = " (the job ran in the warm fork server's child, its CPU included)"


def run_once(args, data: Path, checkout: Path) -> dict:
    """One fresh study through ``mlflow run`` in ``checkout``: its figures from the tune run's metrics."""
    home = Path(tempfile.mkdtemp(prefix="bench-tune-"))
    try:
        settings = ([f"max_bin = {args.max_bin}"] if args.max_bin else []) + [
            " = ".join(part.strip() for part in item.split("=", 1)) for item in args.model]
        model = "\n[model]\n" + "\n".join(settings) + "\n" if settings else ""
        (home / "lab.toml").write_text(f'[data]\npath = "{data}"\n{model}')
        env = _common.child_env(LAB_HOME=str(home), MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db",
                                MLFLOW_EXPERIMENT_NAME="bench", PYTHONPATH=str(checkout))
        subprocess.run([sys.executable, "-c", "import mlflow; mlflow.create_experiment('bench', artifact_location="
                        f"'{(home / 'artifacts').as_uri()}')"], env=env, check=True, capture_output=True)
        # featurize first, so the tune figure is about tuning (its cache is then warm)
        subprocess.run([sys.executable, "-m", "mlflow", "run", ".", "-e", "featurize", "--env-manager", "local", "-P",
                        f"config={home / 'lab.toml'}"], cwd=checkout, env=env, check=True, capture_output=True)
        served = _common.fork_server(env, start=not args.no_server) if not args.no_server else None
        cpu_before, served_before = resource.getrusage(resource.RUSAGE_CHILDREN), _common.served_cpu_s(served)
        began = time.perf_counter()
        env = {**env, "LAB_FORK_SERVER": "off"} if args.no_server else env
        subprocess.run([sys.executable, "-m", "mlflow", "run", ".", "-e", "tune", "--env-manager", "local", "-P",
                        f"config={home / 'lab.toml'}", "-P", f"workers={args.workers}", "-P", f"model={args.engine}",
                        "-P", f"target={args.target}"], cwd=checkout, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - began
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds of the whole process tree (mlflow run, the job, its workers; a job the fork server ran is
        # its child, counted once the server has reaped it): what the load disturbs least
        served_s = _common.served_cpu_s(served) - served_before
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime) + served_s
        import mlflow

        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        run = mlflow.search_runs(experiment_names=["bench"], filter_string="tags.`lab.stage` = 'tune'",
                                 output_format="list")[0]
        m, p = run.data.metrics, run.data.params
        best = "-".join(f"{k}{p['best.' + k]}" for k in ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf"))
        return {"wall": wall, "cpu": cpu, "job": m["tune_wall_s"], "search": m["search_wall_s"], "train": m["search_train_s"],
                "mlflow": m["mlflow_s"], "blocking": m["mlflow_blocking_s"], "share": m["mlflow_blocking_s"] / wall,
                "auc": m["val_auc"], "trials": m["trials_completed"], "best": best,
                "backtest": m.get("search_backtest_s", float("nan")), "served": served_s > 0}
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
