"""Hansen's test for superior predictive ability (SPA) of the best of many variants against a benchmark.

The resampling is the ``arch`` package's stationary bootstrap (Politis and Romano 1994). One
trap: ``arch`` 8.0's ``bootstrap.SPA(..., studentize=True)`` does NOT studentize the test
statistic: ``compute()`` compares the raw maximum mean differential with its bootstrap
distribution, and the variances only choose the columns of the "consistent" p-value. The
noisiest variant then dominates the maximum and hides a steady edge (``method="arch"`` keeps
that behaviour, for the test that shows it).

``method="studentized"`` (the default) is Hansen's (2005) studentized statistic
``T = max(0, max_k sqrt(n) d_k / s_k)`` with the consistent re-centring (a variant whose
t-statistic is below ``-sqrt(2 log log n)`` is not re-centred), on arch's stationary-bootstrap
resamples, each replicate studentized by its own standard deviations. Studentizing the replicates
too keeps the size honest with many variants and few periods. Rejection rates measured on i.i.d.
noise at nominal 5 %, 100 matrices each (sd about 2 %): scale fixed from the sample's standard
deviations (Hansen's recipe) 8 % at 250 days x 81 variants and 13-17 % at 52 weeks x 81; fixed
arch long-run scale 31 % and 37-57 %; arch's own statistic 5 % (valid, but blind to a steady
edge among noisier variants); studentized per replicate (this module) 5 % and 6 %.
"""

from __future__ import annotations

import math

import numpy as np

from lab.errors import LabError

__all__ = ["spa_pvalue", "long_run_std", "default_block_size"]

_CHUNK = 100  # replicates per vectorised batch (memory: chunk x periods x variants floats)


def default_block_size(periods: int) -> float:
    """Mean block length of the stationary bootstrap: ``periods ** (1/3)`` (at least 1), in periods.

    The n^(1/3) rate minimises the error of a block bootstrap's variance (Hall, Horowitz and Jing
    1995); arch's default sqrt(n) measured 9 % size at nominal 5 % on 52 weekly AUCs of 81 trials.
    """
    return max(1.0, periods ** (1.0 / 3.0))


def long_run_std(values: np.ndarray, block_size: float) -> np.ndarray:
    """Long-run standard deviation of each column under the stationary bootstrap (Politis and Romano 1994).

    The kernel estimate arch's SPA uses (its ``_compute_variance``): the sample autocovariances
    weighted by ``(1 - i/T)(1 - p)^i + (i/T)(1 - p)^(T - i)`` with ``p = 1/block_size``.

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
               block_size: float | None = None, seed: int = 0, method: str = "studentized") -> float:
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
        Mean block length of the stationary bootstrap, periods; default :func:`default_block_size`.
    seed : int, default 0
    method : {"studentized", "arch"}, default "studentized"
        ``studentized``: Hansen's studentized statistic (module docstring). ``arch``:
        ``arch.bootstrap.SPA(studentize=True)`` as it is, the raw statistic (the trap).

    Returns
    -------
    float
        The "consistent" p-value in [0, 1]; small means the best variant's edge is unlikely to be luck.

    Raises
    ------
    LabError
        Fewer than 3 periods or no variant, a non-finite value, or an unknown method.
    """
    from arch.bootstrap import SPA, StationaryBootstrap

    x = np.asarray(performance, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 1:
        raise LabError(f"SPA needs a (periods x variants) matrix with at least 3 periods and 1 variant; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise LabError("SPA: the performance matrix holds NaN or inf; drop the periods that are undefined first")
    if method not in ("studentized", "arch"):
        raise LabError(f"SPA method = {method!r} is not one of studentized, arch")
    t = x.shape[0]
    bench = np.asarray(benchmark, dtype=np.float64)
    d = x - (bench.reshape(-1, 1) if bench.ndim else bench)
    block = float(block_size) if block_size else default_block_size(t)
    if method == "arch":
        # arch takes losses (lower is better) and forms benchmark loss - model loss = d.
        test = SPA(np.zeros(t), -d, block_size=max(1, int(round(block))), reps=reps, bootstrap="stationary",
                   studentize=True, seed=seed)
        test.compute()
        return float(test.pvalues["consistent"])
    mean, std = d.mean(axis=0), d.std(axis=0, ddof=1)
    keep = std > 0  # a constant variant carries no evidence either way
    if not keep.any():
        return 1.0
    d, mean, std = d[:, keep], mean[keep], std[keep]
    observed = max(0.0, float((math.sqrt(t) * mean / std).max()))
    centre = np.where(mean >= -std * math.sqrt(2.0 * math.log(math.log(max(t, 3))) / t), mean, 0.0)
    bootstrap = StationaryBootstrap(block, np.arange(t), seed=seed)
    indices = np.array([data[0] for data, _ in bootstrap.bootstrap(reps)])  # (reps, T) resampled periods
    exceed = 0
    for start in range(0, reps, _CHUNK):
        star = d[indices[start:start + _CHUNK]]  # (chunk, T, N)
        star_std = star.std(axis=1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(star_std > 0, math.sqrt(t) * (star.mean(axis=1) - centre) / star_std, -np.inf)
        exceed += int((np.maximum(z.max(axis=1), 0.0) >= observed).sum())
    return exceed / reps
