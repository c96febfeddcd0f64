"""Benchmark: the 81-point LightGBM grid, 2 threads in one process vs 2 processes x 1 thread.

Synthetic arrays shaped like the real problem (70 K training rows x 24 features, 18 K
validation rows, labels with a weak signal: validation AUC about 0.53). Prints, per mode, the
median wall time of the whole grid over ``--repeats`` runs and the mean and median seconds per
trial. Modes:

``threads``          one process, ``num_threads=2``, Datasets built once and reused by every trial
``rebuild``          as ``threads`` but a fresh Dataset per trial (what reuse saves)
``processes``        2 spawned processes x ``num_threads=1``, points handed out one at a time
``journal``          2 processes x 1 thread running :func:`lab.study.tuning.run_study` on one journal-file
                     study (the real scale-out path, with Optuna's coordination)

Run::

    python benchmarks/bench_training.py            # full: 81 points, 3 repeats
    python benchmarks/bench_training.py --quick    # 8 points on 20 K rows, 1 repeat
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import statistics
import tempfile
import time

import numpy as np

import _common  # this checkout first on the import path
from lab.config import ModelConfig, TuneConfig  # noqa: E402
from lab.models.boosters import TrainingData, train_classifier, with_params  # noqa: E402
from lab.study.tuning import search_space  # noqa: E402

_DATA: TrainingData | None = None
_MODEL: ModelConfig | None = None


def make_data(n_train: int, n_val: int, n_features: int = 24, seed: int = 0) -> TrainingData:
    """Gaussian features; P(up) = sigmoid(weak linear + interaction + nonlinear terms)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train + n_val, n_features))
    logit = 0.12 * X[:, 0] - 0.08 * X[:, 1] * X[:, 2] + 0.10 * np.sin(2.0 * X[:, 3]) + 0.05 * X[:, 4]
    y = (rng.random(len(X)) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    return TrainingData.from_arrays(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


def grid(quick: bool) -> list[dict]:
    space = search_space(TuneConfig())
    if quick:
        space = {k: v[:2] for k, v in space.items()}
        space["min_data_in_leaf"] = space["min_data_in_leaf"][:1]
        space["learning_rate"] = [0.05, 0.1]
    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def _init_worker(n_train: int, n_val: int, engine: str) -> None:
    global _DATA, _MODEL
    _DATA = make_data(n_train, n_val)
    _MODEL = ModelConfig(engine=engine, num_threads=1)


def _trial(params: dict) -> float:
    assert _DATA is not None and _MODEL is not None
    return train_classifier(_DATA, with_params(_MODEL, params)).fit_seconds


def run_threads(points: list[dict], n_train: int, n_val: int, engine: str, reuse: bool) -> tuple[float, list[float]]:
    model = ModelConfig(engine=engine, num_threads=2)
    data = make_data(n_train, n_val)
    start = time.perf_counter()
    per_trial = []
    for params in points:
        t0 = time.perf_counter()
        if not reuse:
            data = TrainingData.from_arrays(data.X_train, data.y_train, data.X_val, data.y_val)
        train_classifier(data, with_params(model, params))
        per_trial.append(time.perf_counter() - t0)
    return time.perf_counter() - start, per_trial


def run_processes(points: list[dict], n_train: int, n_val: int, engine: str) -> tuple[float, list[float]]:
    ctx = mp.get_context("spawn")  # fork after OpenMP has started can hang
    with ctx.Pool(2, initializer=_init_worker, initargs=(n_train, n_val, engine)) as pool:
        pool.map(_noop, range(2))  # wait for both workers to import and build their data
        start = time.perf_counter()
        per_trial = list(pool.imap_unordered(_trial, points, chunksize=1))
        return time.perf_counter() - start, per_trial


def _noop(_: int) -> None:
    time.sleep(0.2)


def _journal_worker(directory: str, n_train: int, n_val: int, engine: str, space: dict, barrier) -> None:
    import optuna

    from lab.study.tuning import create_study, make_objective, open_storage, run_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = make_data(n_train, n_val)
    data.lightgbm_datasets(1) if engine == "lightgbm" else data.xgboost_matrices(1)
    study = create_study("bench", open_storage("", directory), space, seed=1)
    barrier.wait()
    run_study(study, make_objective(data, ModelConfig(engine=engine, num_threads=1), space))


def run_journal(points: list[dict], n_train: int, n_val: int, engine: str) -> tuple[float, list[float]]:
    import optuna

    from lab.study.tuning import open_storage

    space = {k: sorted({p[k] for p in points}) for k in points[0]}
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as directory:
        barrier = ctx.Barrier(3)
        args = (directory, n_train, n_val, engine, space, barrier)
        procs = [ctx.Process(target=_journal_worker, args=args) for _ in range(2)]
        for proc in procs:
            proc.start()
        barrier.wait()
        start = time.perf_counter()
        for proc in procs:
            proc.join()
        wall = time.perf_counter() - start
        study = optuna.load_study(study_name="bench", storage=open_storage("", directory))
        per_trial = [t.duration.total_seconds() for t in study.trials if t.state.name == "COMPLETE"]
        return wall, per_trial


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 grid points on 20 K x 24 rows, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None, help="runs per mode (default 3, quick 1)")
    parser.add_argument("--engine", choices=("lightgbm", "xgboost"), default="lightgbm")
    parser.add_argument("--modes", default="threads,rebuild,processes,journal", help="comma-separated subset")
    args = parser.parse_args(argv)
    n_train, n_val = (20_000, 5_000) if args.quick else (70_000, 18_000)
    repeats = args.repeats or (1 if args.quick else 3)
    points = grid(args.quick)
    load_before = _common.load()
    print(f"{args.engine}: {len(points)} grid points, {n_train} x 24 train, {n_val} validation, {repeats} repeat(s)")
    probe = train_classifier(make_data(n_train, n_val), ModelConfig(engine=args.engine, num_threads=2))
    auc, trees = probe.best_validation_auc, probe.best_iteration
    print(f"signal check (default params): validation AUC {auc:.3f}, {trees} trees")
    runners = {
        "threads": lambda: run_threads(points, n_train, n_val, args.engine, reuse=True),
        "rebuild": lambda: run_threads(points, n_train, n_val, args.engine, reuse=False),
        "processes": lambda: run_processes(points, n_train, n_val, args.engine),
        "journal": lambda: run_journal(points, n_train, n_val, args.engine),
    }
    print(f"{'mode':<10} {'grid median s':>14} {'grid runs s':>22} {'trial mean s':>13} {'trial median s':>15}")
    for mode in args.modes.split(","):
        walls, trials = [], []
        for _ in range(repeats):
            wall, per_trial = runners[mode]()
            walls.append(wall)
            trials += per_trial
        runs = ", ".join(f"{w:.1f}" for w in walls)
        print(
            f"{mode:<10} {statistics.median(walls):>14.2f} {runs:>22} {statistics.fmean(trials):>13.3f} "
            f"{statistics.median(trials):>15.3f}",
            flush=True,
        )
    print("trial times: threads/rebuild include Dataset reuse or rebuild; processes: fit only (1 thread);")
    print("journal: Optuna trial duration (fit + predict + metrics). Grid wall time is what to compare.")
    print(f"grid median: median wall time of {repeats} run(s) of the whole grid per mode")
    print(_common.machine(load_before))


if __name__ == "__main__":
    main()
