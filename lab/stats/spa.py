"""Hansen's test for superior predictive ability (SPA) of the best of many variants against a benchmark.

The bootstrap is the ``arch`` package's (``arch.bootstrap.SPA``, stationary bootstrap). One trap:
``arch`` 8.0 with ``studentize=True`` does NOT studentize the test statistic: ``compute()``
compares the raw maximum mean loss differential with its bootstrap distribution, and the
variances only choose the columns of the "consistent" p-value. The noisiest variant then
dominates the maximum and hides a steady edge. This module studentizes the way Hansen (2005)
does: each variant's differential is divided by its own long-run standard deviation
(``omega_k``, the stationary bootstrap's kernel estimate, fixed from the sample) before ``arch``
sees it, so the statistic arch computes is ``max_k sqrt(T) d_k / omega_k`` and its bootstrap
distribution is that of the studentized maximum (arch is then run with ``studentize=False``).
"""

from __future__ import annotations

import math

import numpy as np

from lab.errors import LabError

__all__ = ["spa_pvalue", "long_run_std"]


def long_run_std(values: np.ndarray, block_size: float) -> np.ndarray:
    """Long-run standard deviation of each column under the stationary bootstrap (Politis and Romano 1994).

    The kernel estimate Hansen's SPA uses (``arch``'s own ``_compute_variance``): the sample
    autocovariances weighted by ``(1 - i/T)(1 - p)^i + (i/T)(1 - p)^(T - i)`` with ``p = 1/block_size``.

    Parameters
    ----------
    values : array, shape (T, N)
    block_size : float
        Mean block length of the stationary bootstrap, in periods (> 0).

    Returns
    -------
    array, shape (N,)
        In the unit of ``values``.
    """
    x = np.asarray(values, dtype=np.float64)
    t = x.shape[0]
    demeaned = x - x.mean(axis=0)
    size = 1 << (2 * t - 1).bit_length()
    spectrum = np.fft.rfft(demeaned, n=size, axis=0)
    autocov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=0)[:t] / t  # lag 0..T-1
    lags = np.arange(t, dtype=np.float64)
    p = 1.0 / block_size
    kappa = (1.0 - lags / t) * (1.0 - p) ** lags + (lags / t) * (1.0 - p) ** (t - lags)
    kappa[0] = 0.5  # lag 0 counted once below
    variance = 2.0 * (kappa[:, None] * autocov).sum(axis=0)
    return np.sqrt(np.maximum(variance, 0.0))


def spa_pvalue(performance: np.ndarray, benchmark: float | np.ndarray = 0.0, *, reps: int = 1000,
               block_size: float | None = None, seed: int = 0, studentize: bool = True) -> float:
    """Hansen's consistent SPA p-value: can the best variant beat ``benchmark``, allowing for how many were tried?

    Parameters
    ----------
    performance : array, shape (T, N)
        Per-period performance of N variants (daily P&L in USD, weekly AUC ...): higher is better.
    benchmark : float or array of shape (T,), default 0
        What a variant must beat each period (0: no edge; 0.5 for an AUC).
    reps : int, default 1000
        Bootstrap replications.
    block_size : float, optional
        Mean block length of the stationary bootstrap, periods; default ``sqrt(T)`` (arch's).
    seed : int, default 0
    studentize : bool, default True
        Divide each variant's differential by its long-run std (Hansen's statistic). ``False``
        reproduces arch's raw statistic, the trap above (kept for the test that shows it).

    Returns
    -------
    float
        The "consistent" p-value in [0, 1]; small means the best variant's edge is unlikely to be luck.

    Raises
    ------
    LabError
        Fewer than 2 periods or no variant, or a non-finite value.
    """
    from arch.bootstrap import SPA

    x = np.asarray(performance, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 1:
        raise LabError(f"SPA needs a (periods x variants) matrix with at least 3 periods and 1 variant; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise LabError("SPA: the performance matrix holds NaN or inf; drop the periods that are undefined first")
    differential = x - np.broadcast_to(np.asarray(benchmark, dtype=np.float64).reshape(-1, 1)
                                       if np.ndim(benchmark) else benchmark, x.shape)
    block = float(block_size) if block_size else math.sqrt(x.shape[0])
    if studentize:
        omega = long_run_std(differential, block)
        omega = np.where(omega > 0, omega, np.inf)  # a constant variant carries no evidence either way
        differential = differential / omega
        differential = np.where(np.isfinite(differential), differential, 0.0)
    # arch takes losses (lower is better) and forms benchmark loss - model loss = our differential.
    test = SPA(np.zeros(x.shape[0]), -differential, block_size=int(round(block)), reps=reps, bootstrap="stationary",
               studentize=False, seed=seed)
    test.compute()
    return float(test.pvalues["consistent"])
