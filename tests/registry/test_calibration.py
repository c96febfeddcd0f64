"""Calibration of the guard itself: the three study-level gates on synthetic studies whose truth is known.

Each repetition draws a study of N trials (N = 20 and 81) with T = 250 sessions of daily P&L: pure
noise (every trial's true Sharpe 0, volatilities from 1 to 3), or the same with one planted true
edge (daily Sharpe 0.40, volatility 1: less noisy than the rest). The statistics are those the
tune run logs from its P&L matrix (:func:`registry.deflated.study_statistics`): the deflated
Sharpe of the best trial by Sharpe with N = the study's trials and V = the variance of their
daily Sharpes, PBO by CSCV (16 blocks, daily Sharpe, logit <= 0 overfit), Hansen's SPA (fixed
omega, stationary bootstrap) against 0; then :func:`registry.gate.statistic_gates` with the
default thresholds (0.95, 0.5, 0.05). The study passes when all three pass; PBO and SPA are
computed only when the cheaper gates before them passed (the outcome is the same).

Required: noise passes in at most 5 % of repetitions, the planted edge in at least 80 %. This is
the small version (100 noise and 50 edge studies per N, 200 SPA replications: seconds); the full
one (1,000 replications, more studies) is ``python benchmarks/bench_stats.py --calibration``.
Measured here: noise 0 of 100 for both N; edge 50 of 50 for both N. The seeds are fixed, so the
test is deterministic; a true false-pass rate of 5 % would give 0 of 100 with probability 0.6 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from lab.config import PromotionConfig
from lab.stats import probability_of_backtest_overfitting, spa_pvalue, study_deflated_sharpe
from registry.deflated import PBO_BLOCKS
from registry.gate import statistic_gates

pytestmark = pytest.mark.slow

DAYS = 250
EDGE_DAILY_SHARPE = 0.40


def studies(seed: int, repetitions: int, n: int, edge: bool, days: int = DAYS,
            edge_sharpe: float = EDGE_DAILY_SHARPE) -> np.ndarray:
    """``repetitions`` synthetic studies, shape (repetitions, days, n): noise, trial 0 with an edge if asked."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(1.0, 3.0, (repetitions, 1, n))
    pnl = rng.standard_normal((repetitions, days, n)) * scale
    if edge:
        pnl[:, :, 0] = rng.standard_normal((repetitions, days)) + edge_sharpe
    return pnl


def gate_verdicts(pnl: np.ndarray, policy: PromotionConfig, spa_reps: int, seed: int = 1) -> dict[str, bool]:
    """Which of the three study gates one study passes (a gate after a failed one is not computed: False)."""
    out = {"min_deflated_sharpe_prob": False, "max_pbo": False, "max_spa_pvalue": False}
    dsr = study_deflated_sharpe(pnl, pnl.shape[1]).probability
    out["min_deflated_sharpe_prob"] = statistic_gates(policy, deflated_sharpe_prob=dsr,
                                                      only=("min_deflated_sharpe_prob",))[0].passed
    if not out["min_deflated_sharpe_prob"]:
        return out
    pbo = probability_of_backtest_overfitting(pnl, blocks=PBO_BLOCKS, statistic="sharpe").pbo
    out["max_pbo"] = statistic_gates(policy, pbo=pbo, only=("max_pbo",))[0].passed
    if not out["max_pbo"]:
        return out
    spa = spa_pvalue(pnl, 0.0, reps=spa_reps, seed=seed)
    out["max_spa_pvalue"] = statistic_gates(policy, spa_pvalue=spa, only=("max_spa_pvalue",))[0].passed
    return out


def pass_rate(n: int, edge: bool, repetitions: int, seed: int, spa_reps: int = 200, **kwargs) -> float:
    """Share of synthetic studies the default gate lets through (all three study gates)."""
    policy = PromotionConfig()
    return float(np.mean([all(gate_verdicts(study, policy, spa_reps).values())
                          for study in studies(seed, repetitions, n, edge, **kwargs)]))


@pytest.mark.parametrize("n", [20, 81])
def test_gate_calibration_pure_noise_passes_at_most_five_percent(n):
    rate = pass_rate(n, edge=False, repetitions=100, seed=n)
    print(f"noise, N={n}: gate passed {rate:.1%} of 100 studies")
    assert rate <= 0.05


@pytest.mark.parametrize("n", [20, 81])
def test_gate_calibration_planted_edge_passes_at_least_eighty_percent(n):
    rate = pass_rate(n, edge=True, repetitions=50, seed=1000 + n)
    print(f"planted edge (daily Sharpe {EDGE_DAILY_SHARPE}), N={n}: gate passed {rate:.1%} of 50 studies")
    assert rate >= 0.80


def test_gate_calibration_a_study_of_one_model_never_passes_even_with_an_edge():
    policy = PromotionConfig()
    for study in studies(7, 10, 1, edge=True):
        copies = np.repeat(study, 12, axis=1)  # twelve trials that are one strategy
        assert not gate_verdicts(copies, policy, spa_reps=200)["max_pbo"]
