"""Tests for lab.stats.spa: Hansen's SPA through arch, studentized by the lab (the arch trap)."""

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


def test_spa_pure_noise_is_rarely_significant():
    rng = np.random.default_rng(11)
    pvalues = np.array([spa_pvalue(rng.standard_normal((120, 10)), reps=200, seed=k) for k in range(40)])
    assert (pvalues <= 0.05).mean() <= 0.1 and np.median(pvalues) > 0.2


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


def test_spa_refuses_nan_and_tiny_matrices():
    with pytest.raises(LabError, match="NaN or inf"):
        spa_pvalue(np.array([[0.1], [np.nan], [0.2]]))
    with pytest.raises(LabError, match="at least 3 periods"):
        spa_pvalue(np.zeros((2, 4)))
