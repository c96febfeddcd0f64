"""Per-update latency of the live path: a 1-minute update, and a 5-minute bar's close
(features + prediction + the signal rule), p50 and p99 in milliseconds.

    python benchmarks/bench_live.py [--days 30] [--engine lightgbm|xgboost]
        [--strategy direction|breakout|mean_reversion] [--custom]

Synthetic around-the-clock minutes; a small booster (100 trees, 31 leaves) on the 24 core features
and both optional sets computed. ``--strategy`` decides with that strategy's rule (a target_vol
model); ``--custom`` adds a ``[features] custom`` input (the test suite's
``tests.lab.custom_feature_fixtures:session_aware``, run on the last 1,400 bars at each close). Percentiles are over every update of one replay, after the warm-up.
Goal: p99 <= 0.2 ms per minute update, <= 1 ms per bar close (built-in features).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _common  # this checkout first on the import path
from lab.strategies import STRATEGY_NAMES, get_strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="calendar days of minutes replayed")
    parser.add_argument("--engine", default="lightgbm", choices=["lightgbm", "xgboost"])
    parser.add_argument("--strategy", default="direction", choices=list(STRATEGY_NAMES))
    parser.add_argument("--custom", action="store_true", help="add a custom feature to the model's inputs")
    args = parser.parse_args()

    import pandas as pd

    from lab.features.core import FEATURE_NAMES
    from lab.live.serving import LiveSignaler, SignalSpec
    from lab.data.synth import random_walk_minutes
    from lab.market.sessions import epoch_ns, regular_sessions

    load_before = _common.load()
    start = pd.Timestamp("2023-03-01")
    end = start + pd.Timedelta(days=args.days)
    minutes = random_walk_minutes(f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}", seed=1, overnight=True)
    rng = np.random.default_rng(0)
    names = list(FEATURE_NAMES) + (["close_vs_mean_12"] if args.custom else [])
    X = rng.standard_normal((5000, len(names)))
    y = (X[:, 0] > 0).astype(int)
    if args.engine == "lightgbm":
        import lightgbm as lgb

        booster = lgb.train({"verbose": -1, "num_leaves": 31, "objective": "binary", "num_threads": 1},
                            lgb.Dataset(X, y, feature_name=names), 100)
    else:
        import xgboost as xgb

        booster = xgb.train({"max_depth": 6, "objective": "binary:logistic", "nthread": 1},
                            xgb.DMatrix(X, y, feature_names=names), 100)
    import dataclasses

    from lab.config import StrategyConfig

    spec = SignalSpec(engine=args.engine, features=tuple(names), warmup_bars=200,
                      optional_sets=("breakout", "mean_reversion"),
                      target=next(t for t in ("target_6bar", "target_vol") if t in get_strategy(args.strategy).targets),
                      strategy=dataclasses.asdict(StrategyConfig(name=args.strategy)),
                      custom=("tests.lab.custom_feature_fixtures:session_aware",) if args.custom else ())
    sessions = regular_sessions("XNYS", minutes.index[0].date(), minutes.index[-1].date())
    signaler = LiveSignaler(booster, spec, sessions)
    ns = epoch_ns(minutes.index)
    cols = [minutes[c].to_numpy(np.float64).tolist() for c in ("open", "high", "low", "close", "volume")]
    wall = {"minute": [], "bar": []}
    cpu = {"minute": [], "bar": []}
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for i in range(len(ns)):
        t0, c0 = clock(), cpu_clock()
        out = signaler.on_minute(int(ns[i]), cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i])
        elapsed, used = (clock() - t0) / 1e6, (cpu_clock() - c0) / 1e6
        if out and signaler.bars_seen <= spec.warmup_bars:
            continue  # warm-up bars make no prediction
        kind = "bar" if out else "minute"
        wall[kind].append(elapsed)
        cpu[kind].append(used)
    labels = {"minute": "1-minute update (no bar closes)", "bar": "5-minute bar close (features+predict+rule)"}
    for kind, label in labels.items():
        w, c = np.asarray(wall[kind]), np.asarray(cpu[kind])
        print(f"{label}: n={w.size:,}  wall p50 {np.percentile(w, 50):.4f} ms  p99 {np.percentile(w, 99):.4f} ms  |  "
              f"thread CPU p50 {np.percentile(c, 50):.4f} ms  p99 {np.percentile(c, 99):.4f} ms")
    print(f"engine {args.engine}, strategy {args.strategy}{', a custom feature' if args.custom else ''}; "
          f"{len(ns):,} minutes replayed once; p50/p99 over every update after the warm-up "
          "(other processes on the machine inflate the tail)")
    print(_common.machine(load_before))


if __name__ == "__main__":
    main()
