"""The deflated Sharpe ratio (Bailey and Lopez de Prado, 2014): how likely a Sharpe is real after N tries.

Every Sharpe ratio here is **per period** (per day for daily P&L), never annualised; the variance
of the trials' Sharpe ratios is in the same per-period units (an annualised variance is divided by
the periods per year, an annualised Sharpe by their square root). Kurtosis is the ordinary,
non-excess one (a normal distribution has 3). Mixing units is the usual error.

    PSR(SR*) = Phi( (SR - SR*) sqrt(T - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2) )
    SR0      = sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e)))     (g: Euler-Mascheroni)
    DSR      = PSR(SR0)

``SR0`` is the expected maximum of N Sharpe estimates whose true value is zero and whose spread
across trials has variance V. With N = 1 nothing was selected and SR0 = 0 (DSR = PSR(0)).

Published check (Bailey and Lopez de Prado 2014): N = 100, T = 1,250 daily returns, annualised
SR 2.5 and annualised variance of trial SRs 0.5 with 250 days a year, skewness -3, kurtosis 10:

>>> round(deflated_sharpe_ratio(2.5 / 250 ** 0.5, 1250, 100, 0.5 / 250, skewness=-3, kurtosis=10), 3)
0.9
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from lab.errors import LabError

__all__ = ["EULER_GAMMA", "probabilistic_sharpe_ratio", "expected_max_sharpe", "deflated_sharpe_ratio",
           "sharpe_moments", "null_sharpe_variance", "StudyDSR", "study_deflated_sharpe"]

#: The Euler-Mascheroni constant.
EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


def probabilistic_sharpe_ratio(sharpe: float, periods: int, benchmark: float = 0.0, *, skewness: float = 0.0,
                               kurtosis: float = 3.0) -> float:
    """P(true Sharpe > ``benchmark``) given an estimate from ``periods`` returns (Bailey and Lopez de Prado 2012).

    Parameters
    ----------
    sharpe : float
        Estimated Sharpe ratio, per period (mean / standard deviation of the per-period returns).
    periods : int
        Number of returns T (>= 2).
    benchmark : float, default 0
        SR*, per period.
    skewness : float, default 0
        Of the returns.
    kurtosis : float, default 3
        Of the returns, non-excess (normal = 3).

    Returns
    -------
    float
        A probability in [0, 1].
    """
    if periods < 2:
        raise LabError(f"the probabilistic Sharpe ratio needs at least 2 returns; got periods = {periods}")
    spread = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe ** 2
    if not spread > 0:
        raise LabError(f"1 - skewness*SR + (kurtosis-1)/4*SR^2 = {spread:.4g} is not positive (SR {sharpe:.4g}, "
                       f"skewness {skewness:.4g}, kurtosis {kurtosis:.4g}): is the kurtosis non-excess and the SR per period?")
    return float(_NORMAL.cdf((sharpe - benchmark) * math.sqrt(periods - 1) / math.sqrt(spread)))


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe estimates of true value 0 whose variance across trials is ``variance``.

    Parameters
    ----------
    n_trials : int
        N >= 1 (independent trials; correlated trials count for fewer).
    variance : float
        Variance of the trials' Sharpe ratios, per period squared (>= 0).

    Returns
    -------
    float
        SR0, per period; 0 when N = 1.
    """
    if n_trials < 1:
        raise LabError(f"n_trials = {n_trials}: the trial ledger must count at least the evaluated run itself")
    if variance < 0 or not math.isfinite(variance):
        raise LabError(f"variance of the trials' Sharpe ratios = {variance!r} must be finite and >= 0")
    if n_trials == 1:
        return 0.0
    z = _NORMAL.inv_cdf
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * z(1.0 - 1.0 / n_trials)
                                  + EULER_GAMMA * z(1.0 - 1.0 / (n_trials * math.e)))


def deflated_sharpe_ratio(sharpe: float, periods: int, n_trials: int, variance: float, *, skewness: float = 0.0,
                          kurtosis: float = 3.0) -> float:
    """P(true Sharpe > 0) after choosing the best of ``n_trials``: ``PSR(expected_max_sharpe(N, V))``.

    Parameters
    ----------
    sharpe : float
        The chosen strategy's Sharpe ratio, per period.
    periods : int
        Its number of returns T.
    n_trials : int
        Trials evaluated on the same data (the trial ledger's count).
    variance : float
        Variance of the trials' Sharpe ratios, per period squared.
    skewness, kurtosis : float
        Of the chosen strategy's returns; kurtosis non-excess.
    """
    return probabilistic_sharpe_ratio(sharpe, periods, expected_max_sharpe(n_trials, variance),
                                      skewness=skewness, kurtosis=kurtosis)


def sharpe_moments(returns: np.ndarray) -> dict[str, float]:
    """Per-period Sharpe (mean / sample std, ddof 1), skewness and non-excess kurtosis of returns along axis 0.

    Parameters
    ----------
    returns : array, shape (T,) or (T, N)
        Per-period returns or P&L (any unit: the statistics are scale-free).

    Returns
    -------
    dict
        ``sharpe``, ``skewness``, ``kurtosis`` (floats or arrays of N), ``periods`` (T). A constant
        series has Sharpe NaN, skewness 0 and kurtosis 3.
    """
    values = np.asarray(returns, dtype=np.float64)
    mean = values.mean(axis=0)
    centred = values - mean
    m2 = (centred ** 2).mean(axis=0)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.full_like(mean, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(std > 0, mean / np.where(std > 0, std, 1.0), np.nan)
        skewness = np.where(m2 > 0, (centred ** 3).mean(axis=0) / np.where(m2 > 0, m2, 1.0) ** 1.5, 0.0)
        kurtosis = np.where(m2 > 0, (centred ** 4).mean(axis=0) / np.where(m2 > 0, m2, 1.0) ** 2, 3.0)
    scalar = values.ndim == 1
    out = {"sharpe": sharpe, "skewness": skewness, "kurtosis": kurtosis}
    return {**{k: float(v) if scalar else v for k, v in out.items()}, "periods": int(len(values))}


def null_sharpe_variance(periods: int) -> float:
    """Variance of a Sharpe estimate from ``periods`` normal returns whose true Sharpe is 0: ``1 / (T - 1)``.

    The spread that trials' Sharpe ratios show from estimation noise alone; the floor the lab puts
    under the measured variance of the trials' Sharpe ratios (see :mod:`registry.deflated`).
    """
    if periods < 2:
        raise LabError(f"periods = {periods}: a Sharpe ratio needs at least 2 returns")
    return 1.0 / (periods - 1)


@dataclass(frozen=True)
class StudyDSR:
    """The deflated Sharpe of a study's best trial and its inputs (every Sharpe per period).

    Attributes
    ----------
    probability : float
        DSR = PSR(SR0); NaN when no trial has a Sharpe (every trial flat).
    best : int
        Column of the best trial (highest Sharpe); -1 when none.
    sharpe : float
        Its Sharpe ratio, per period.
    variance : float
        V: sample variance (ddof 1) of the trials' Sharpe ratios, per period squared; 0 with one.
    periods : int
        T: rows (sessions).
    n_trials : int
        N used in SR0.
    skewness, kurtosis : float
        Of the best trial's per-period P&L; kurtosis non-excess.
    expected_max : float
        SR0, per period.
    sharpe_trials : int
        Trials that have a Sharpe (not flat), the sample V is measured on.
    """

    probability: float
    best: int
    sharpe: float
    variance: float
    periods: int
    n_trials: int
    skewness: float
    kurtosis: float
    expected_max: float
    sharpe_trials: int


def study_deflated_sharpe(pnl: np.ndarray, n_trials: int | None = None) -> StudyDSR:
    """Deflated Sharpe of the best column of a (periods x trials) P&L matrix (Bailey and Lopez de Prado 2014).

    Parameters
    ----------
    pnl : array, shape (T, N)
        Per-period P&L (e.g. USD per session, 0 on a day without trades) of each trial.
    n_trials : int, optional
        N, the trials evaluated on the same data (the trial ledger's count, which may exceed the
        columns); default the number of columns.

    Returns
    -------
    StudyDSR
        The best trial is the one of highest Sharpe (the maximum SR0 deflates); V is the variance of
        the Sharpe ratios of the trials that have one (a flat trial, no P&L, has none).

    Raises
    ------
    LabError
        Not a 2-D matrix of at least 2 periods, or a non-finite value.
    """
    x = np.asarray(pnl, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise LabError(f"the deflated Sharpe of a study needs a (periods x trials) matrix with at least 2 periods; "
                       f"got shape {x.shape}")
    if not np.isfinite(x).all():
        raise LabError("deflated Sharpe: the P&L matrix holds NaN or inf; a day without trades is 0, not missing")
    moments = sharpe_moments(x)
    sharpes = np.atleast_1d(moments["sharpe"])
    finite = np.isfinite(sharpes)
    n = int(n_trials) if n_trials is not None else x.shape[1]
    variance = float(np.var(sharpes[finite], ddof=1)) if finite.sum() > 1 else 0.0
    expected = expected_max_sharpe(n, variance) if n >= 1 else math.nan
    if not finite.any():
        return StudyDSR(math.nan, -1, math.nan, variance, x.shape[0], n, math.nan, math.nan, expected, 0)
    best = int(np.nanargmax(np.where(finite, sharpes, -np.inf)))
    skewness = float(np.atleast_1d(moments["skewness"])[best])
    kurtosis = float(np.atleast_1d(moments["kurtosis"])[best])
    probability = deflated_sharpe_ratio(float(sharpes[best]), x.shape[0], n, variance, skewness=skewness,
                                        kurtosis=kurtosis)
    return StudyDSR(probability, best, float(sharpes[best]), variance, x.shape[0], n, skewness, kurtosis, expected,
                    int(finite.sum()))
