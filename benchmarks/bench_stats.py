"""Benchmark: the study statistics of an 81-trial study as tune and the gate compute them, and their calibration.

Timing: the study's P&L matrix of 250 sessions x 81 trials (what tune logs ``pbo``,
``spa_pvalue`` and ``deflated_sharpe_prob`` from, :func:`registry.deflated.study_statistics`:
CSCV with 16 blocks = 12,870 splits, Hansen's SPA with 1,000 stationary-bootstrap replications,
the deflated Sharpe of the best trial); the secondary AUC-based PBO on 52 weeks x 81 trials; the
deflated Sharpe of one backtest from its metrics and the ledger. Prints the median wall time of
``--repeats`` runs of each.

``--calibration``: the full calibration of the three study gates (the small one is
tests/registry/test_calibration.py): pass rates of the default gate on synthetic studies of pure
noise and with one planted edge, N = 20 and 81 trials, 250 sessions, SPA with 1,000 replications,
and each gate alone on noise (every statistic computed).

Run::

    python benchmarks/bench_stats.py                       # 5 repeats
    python benchmarks/bench_stats.py --repeats 1
    python benchmarks/bench_stats.py --calibration [--noise 300 --edge 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

import _common  # this checkout first on the import path
from lab.config import PromotionConfig  # noqa: E402
from lab.stats import probability_of_backtest_overfitting, spa_pvalue, study_deflated_sharpe  # noqa: E402
from registry.deflated import LedgerFacts, auc_pbo, backtest_dsr, study_statistics  # noqa: E402
from registry.gate import statistic_gates  # noqa: E402


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
    parser.add_argument("--calibration", action="store_true", help="the full calibration instead of the timings")
    parser.add_argument("--noise", type=int, default=300, help="noise studies per N (calibration)")
    parser.add_argument("--edge", type=int, default=100, help="planted-edge studies per N (calibration)")
    args = parser.parse_args()
    if args.calibration:
        calibration(args.noise, args.edge)
        return
    rng = np.random.default_rng(0)
    weekly = pd.DataFrame(0.5 + 0.03 * rng.standard_normal((52, 81)), columns=[f"trial_{i}" for i in range(81)])
    daily = pd.DataFrame(rng.standard_normal((250, 81)) * 100.0, columns=[f"trial_{i}" for i in range(81)],
                         index=pd.bdate_range("2023-01-02", periods=250, name="date"))
    metrics = {"sharpe_ratio": 2.0, "sessions": 250, "daily_pnl_skewness": -0.2, "daily_pnl_kurtosis": 4.0}
    facts = LedgerFacts("ES", "2023-01-01..2023-12-31", 85, tuple(rng.standard_normal(4) * 0.05))
    load_before = _common.load()
    rows = [
        ("study statistics (PBO + SPA + DSR), 250 days x 81 trials", lambda: study_statistics(daily, 85)),
        ("  PBO, CSCV 16 blocks, 250 x 81", lambda: probability_of_backtest_overfitting(daily.to_numpy())),
        ("  SPA, 1000 replications, 250 x 81", lambda: spa_pvalue(daily.to_numpy())),
        ("  deflated Sharpe of the best trial, 250 x 81", lambda: study_deflated_sharpe(daily.to_numpy(), 85)),
        ("secondary PBO on weekly AUC, 52 x 81", lambda: auc_pbo(weekly)),
        ("deflated Sharpe of a backtest (N = 85)", lambda: backtest_dsr(metrics, facts, 0.004)),
    ]
    print(f"median wall time of {args.repeats} run(s) after one untimed warm-up run")
    for name, function in rows:
        function()  # warm-up (imports, cached splits)
        print(f"{name:<60} {_median(function, args.repeats) * 1000:9.1f} ms")
    print(_common.machine(load_before))


def calibration(noise: int, edge: int) -> None:
    """Print the default gate's pass rates on synthetic studies (see the module docstring)."""
    from tests.registry.test_calibration import EDGE_DAILY_SHARPE, gate_verdicts, studies

    policy = PromotionConfig()
    began = time.perf_counter()
    for n in (20, 81):
        alone = {"min_deflated_sharpe_prob": 0, "max_pbo": 0, "max_spa_pvalue": 0}
        passed = 0
        for study in studies(n, noise, n, edge=False):
            dsr = study_deflated_sharpe(study, n).probability
            pbo = probability_of_backtest_overfitting(study).pbo
            spa = spa_pvalue(study, reps=1000, seed=1)
            gates = statistic_gates(policy, deflated_sharpe_prob=dsr, pbo=pbo, spa_pvalue=spa)
            for gate in gates:
                alone[gate.name] += gate.passed
            passed += all(gate.passed for gate in gates)
        print(f"noise, N={n}: the gate passed {passed} of {noise} studies ({passed / noise:.1%}); each gate alone: "
              + ", ".join(f"{name} {count / noise:.1%}" for name, count in alone.items()), flush=True)
        for sharpe in (EDGE_DAILY_SHARPE, 0.30):
            wins = sum(all(gate_verdicts(study, policy, spa_reps=1000).values())
                       for study in studies(1000 + n, edge, n, edge=True, edge_sharpe=sharpe))
            print(f"planted edge of daily Sharpe {sharpe:.2f}, N={n}: the gate passed {wins} of {edge} studies "
                  f"({wins / edge:.1%})", flush=True)
    print(f"calibration took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
