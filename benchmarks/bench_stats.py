"""Benchmark: the deflated statistics of an 81-trial study, as tune and the gate compute them.

Shapes: the study matrix of 52 weeks x 81 trials of validation AUC (what tune logs ``pbo`` and
``spa_pvalue`` from, :func:`registry.deflated.study_statistics`: CSCV with 16 blocks = 12,870
splits, SPA with 1,000 stationary-bootstrap replications) and, for comparison, 250 days x 81
variants of daily P&L; the deflated Sharpe of one backtest from its metrics and the ledger.
Prints the median wall time of ``--repeats`` runs of each.

Run::

    python benchmarks/bench_stats.py            # 5 repeats
    python benchmarks/bench_stats.py --repeats 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

import _common  # this checkout first on the import path
from lab.stats import probability_of_backtest_overfitting, spa_pvalue  # noqa: E402
from registry.deflated import LedgerFacts, backtest_dsr, study_statistics  # noqa: E402


def _median(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    weekly = pd.DataFrame(0.5 + 0.03 * rng.standard_normal((52, 81)), columns=[f"trial_{i}" for i in range(81)])
    daily = rng.standard_normal((250, 81))
    metrics = {"sharpe_ratio": 2.0, "sessions": 250, "daily_pnl_skewness": -0.2, "daily_pnl_kurtosis": 4.0}
    facts = LedgerFacts("ES", "2023-01-01..2023-12-31", 85, tuple(rng.standard_normal(4) * 0.05))
    load_before = _common.load()
    rows = [
        ("study statistics (PBO + SPA), 52 weeks x 81 trials", lambda: study_statistics(weekly)),
        ("  PBO, CSCV 16 blocks, 52 x 81", lambda: probability_of_backtest_overfitting(weekly.to_numpy(), statistic="mean")),
        ("  SPA, 1000 replications, 52 x 81", lambda: spa_pvalue(weekly.to_numpy(), 0.5)),
        ("PBO, CSCV 16 blocks, 250 days x 81", lambda: probability_of_backtest_overfitting(daily)),
        ("SPA, 1000 replications, 250 days x 81", lambda: spa_pvalue(daily)),
        ("deflated Sharpe of a backtest (N = 85)", lambda: backtest_dsr(metrics, facts)),
    ]
    print(f"median wall time of {args.repeats} run(s) after one untimed warm-up run")
    for name, function in rows:
        function()  # warm-up (imports, cached splits)
        print(f"{name:<55} {_median(function, args.repeats) * 1000:9.1f} ms")
    print(_common.machine(load_before))


if __name__ == "__main__":
    main()
