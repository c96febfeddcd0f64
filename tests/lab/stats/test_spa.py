"""Tests for lab.stats.spa: Hansen's SPA with a fixed omega, checked against arch on standardized losses (the arch trap)."""

from __future__ import annotations

import numpy as np
import pytest
from arch.bootstrap import SPA

from lab.errors import LabError
from lab.stats import long_run_std, spa_pvalue


def _planted_edge_among_noisier(seed: int, t: int = 250, n: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((t, n)) * rng.uniform(5.0, 10.0, n)  # noisy variants, no edge
    x[:, 7] = rng.standard_normal(t) + 0.3  # a steady edge: daily Sharpe 0.3, t-statistic about 4.7
    return x


def test_spa_finds_a_planted_edge_among_noisier_variants_that_arch_alone_misses():
    found = [spa_pvalue(_planted_edge_among_noisier(seed), reps=300, seed=seed) for seed in range(5)]
    assert max(found) <= 0.01
    missed = [spa_pvalue(_planted_edge_among_noisier(seed), reps=300, seed=seed, method="arch") for seed in range(5)]
    assert sum(p > 0.05 for p in missed) >= 4  # the raw maximum is a noisy variant's: the edge is hidden


def test_arch_studentize_flag_does_not_studentize_the_statistic():
    # the trap itself: arch's "studentized" test gives the raw test's p-value on this data
    x = _planted_edge_among_noisier(0)
    raw = SPA(np.zeros(len(x)), -x, reps=300, seed=0, studentize=True)
    raw.compute()
    assert raw.pvalues["consistent"] > 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spa_equals_arch_on_losses_standardized_by_the_fixed_omega(seed):
    # independent computation: arch's raw statistic on d_k / omega_k is Hansen's studentized one
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((250, 20)) * rng.uniform(1.0, 5.0, 20)
    x[:, 3] = rng.standard_normal(250) + 0.10 + 0.05 * seed
    standardized = x / long_run_std(x, 6)
    reference = SPA(np.zeros(250), -standardized, block_size=6, reps=500, seed=seed, studentize=True)
    reference.compute()
    assert spa_pvalue(x, reps=500, block_size=6, seed=seed) == reference.pvalues["consistent"]


def test_spa_divides_every_replicate_by_the_one_omega_of_the_sample():
    # a constant shift of the benchmark moves the means only: with a fixed omega the p-value falls
    # monotonically as the edge grows (a replicate's own deviation would not change either)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((200, 5))
    p = [spa_pvalue(x + edge, reps=400, seed=1) for edge in (0.0, 0.1, 0.2, 0.3)]
    assert p == sorted(p, reverse=True) and p[0] > 0.05 and p[-1] <= 0.01


def test_spa_pure_noise_is_rarely_significant():
    # Hansen's asymptotic test over-rejects a little in a year of sessions: 8 of 60 here (module docstring)
    rng = np.random.default_rng(11)
    pvalues = np.array([spa_pvalue(rng.standard_normal((250, 10)), reps=200, seed=k) for k in range(60)])
    assert (pvalues <= 0.05).mean() <= 0.2 and np.median(pvalues) > 0.2


def test_spa_benchmark_is_subtracted_per_period():
    rng = np.random.default_rng(4)
    auc = 0.5 + 0.01 * rng.standard_normal((52, 5))
    assert spa_pvalue(auc, 0.5, reps=200) > 0.05
    assert spa_pvalue(auc, 0.49, reps=200) <= 0.01


def test_long_run_std_matches_arch_kernel_estimate():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((100, 3))
    x[:, 1] = np.convolve(rng.standard_normal(102), [1.0, 1.0, 1.0], "valid")  # autocorrelated
    test = SPA(np.zeros(100), -x, block_size=10, studentize=True)
    test._compute_variance()  # noqa: SLF001 - the reference the lab's estimate must equal
    np.testing.assert_allclose(long_run_std(x, 10), np.sqrt(test._loss_diff_var))


def test_spa_flat_variants_carry_no_evidence():
    assert spa_pvalue(np.zeros((60, 4))) == 1.0


def test_spa_refuses_nan_and_tiny_matrices():
    with pytest.raises(LabError, match="NaN or inf"):
        spa_pvalue(np.array([[0.1], [np.nan], [0.2]]))
    with pytest.raises(LabError, match="at least 3 periods"):
        spa_pvalue(np.zeros((2, 4)))
    with pytest.raises(LabError, match="not one of hansen, arch"):
        spa_pvalue(np.ones((5, 2)), method="studentized")
