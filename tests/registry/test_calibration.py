"""Calibration of the guard itself: the three study-level gates on synthetic studies whose truth is known.

Each repetition draws a study of N variants (N = 20 and 81) with T = 250 days of daily P&L: pure
noise (every variant's true Sharpe 0, volatilities from 1 to 3), or the same with one planted
true edge (daily Sharpe 0.40, volatility 1: less noisy than the rest). The best variant by Sharpe
is judged as the gate judges a candidate: :func:`registry.deflated.backtest_dsr` with the study
as the trial ledger (N trials and their daily Sharpe ratios), PBO by CSCV over the study's daily
P&L (16 blocks, Sharpe score), Hansen's SPA of the best against zero, then
:func:`registry.gate.statistic_gates` with the default thresholds (0.95, 0.5, 0.05); the study
passes when all three pass. PBO and SPA are computed only when the cheaper gates before them
passed (the outcome is the same: all three must pass).

Required: noise passes in at most 5 % of repetitions, the planted edge in at least 80 %.
Repetitions: 200 for noise, 100 with the edge (the test stays at seconds). Measured: noise 0 of
200 for N = 20 and N = 81 (each gate alone: deflated Sharpe 0 %, PBO <= 0.5 in 50 % and 49 %,
SPA <= 0.05 in 5 % and 8.5 %); edge 98 of 100 for both N (daily Sharpe 0.35 gave 89 % and
86 %). Binomial margin: a true false-pass rate of 5 % would give 0 of 200 with probability
0.95^200 = 4e-5, and a true power of 80 % 98 of 100 with probability below 1e-5, so the
measured rates are not luck of the draw; the seeds are fixed, so the test is deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.backtest.metrics import TRADING_DAYS_PER_YEAR
from lab.config import PromotionConfig
from lab.stats import probability_of_backtest_overfitting, sharpe_moments, spa_pvalue
from registry.deflated import LedgerFacts, backtest_dsr
from registry.gate import statistic_gates

pytestmark = pytest.mark.slow

DAYS = 250
EDGE_DAILY_SHARPE = 0.40
SPA_REPS = 200  # p-value resolution 0.005, enough to decide against 0.05


def _studies(seed: int, repetitions: int, n: int, edge: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = rng.uniform(1.0, 3.0, (repetitions, 1, n))
    pnl = rng.standard_normal((repetitions, DAYS, n)) * scale
    if edge:
        pnl[:, :, 0] = rng.standard_normal((repetitions, DAYS)) + EDGE_DAILY_SHARPE
    return pnl


def _gate_passes(pnl: np.ndarray, policy: PromotionConfig) -> bool:
    moments = sharpe_moments(pnl)
    best = int(np.nanargmax(moments["sharpe"]))
    metrics = {"sharpe_ratio": moments["sharpe"][best] * math.sqrt(TRADING_DAYS_PER_YEAR), "sessions": DAYS,
               "daily_pnl_skewness": moments["skewness"][best], "daily_pnl_kurtosis": moments["kurtosis"][best]}
    ledger = LedgerFacts("synthetic", "calibration", pnl.shape[1], tuple(moments["sharpe"]))
    dsr, _ = backtest_dsr(metrics, ledger)
    if not statistic_gates(policy, deflated_sharpe_prob=dsr, only=("min_deflated_sharpe_prob",))[0].passed:
        return False
    pbo = probability_of_backtest_overfitting(pnl, blocks=16, statistic="sharpe").pbo
    if not statistic_gates(policy, pbo=pbo, only=("max_pbo",))[0].passed:
        return False
    spa = spa_pvalue(pnl, 0.0, reps=SPA_REPS, seed=1)
    return statistic_gates(policy, spa_pvalue=spa, only=("max_spa_pvalue",))[0].passed


def pass_rate(n: int, edge: bool, repetitions: int, seed: int) -> float:
    """Share of synthetic studies the default gate lets through."""
    policy = PromotionConfig()
    studies = _studies(seed, repetitions, n, edge)
    return float(np.mean([_gate_passes(study, policy) for study in studies]))


@pytest.mark.parametrize("n", [20, 81])
def test_gate_calibration_pure_noise_passes_at_most_five_percent(n):
    rate = pass_rate(n, edge=False, repetitions=200, seed=n)
    print(f"noise, N={n}: gate passed {rate:.1%} of 200 studies")
    assert rate <= 0.05


@pytest.mark.parametrize("n", [20, 81])
def test_gate_calibration_planted_edge_passes_at_least_eighty_percent(n):
    rate = pass_rate(n, edge=True, repetitions=100, seed=1000 + n)
    print(f"planted edge (daily Sharpe {EDGE_DAILY_SHARPE}), N={n}: gate passed {rate:.1%} of 100 studies")
    assert rate >= 0.80
