"""Per-period performance: what PBO and SPA compare across trials."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["period_auc", "week_starts"]


def week_starts(times: pd.DatetimeIndex) -> np.ndarray:
    """The Monday (naive date, as ``datetime64[D]``) of the week of each timestamp, in its own time zone."""
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_localize(None)
    days = index.normalize()
    return (days - pd.to_timedelta(days.day_of_week, unit="D")).to_numpy().astype("datetime64[D]")


def period_auc(labels: np.ndarray, probability: np.ndarray, periods: np.ndarray) -> dict[str, float]:
    """Validation AUC per period (e.g. per week): ``{period as ISO text: AUC}``.

    Parameters
    ----------
    labels : array of 0/1, shape (n,)
    probability : array, shape (n,)
        P(label 1).
    periods : array, shape (n,)
        The period of each row (e.g. :func:`week_starts`); sorted output.

    Returns
    -------
    dict
        AUC per period; a period whose labels hold one class only has NaN (AUC undefined).

    Notes
    -----
    The AUC of each period is the Mann-Whitney count (pairs of a positive above a negative, ties one
    half, over positives x negatives): ``sklearn.metrics.roc_auc_score`` of the period's rows up to
    rounding in the last place, for all periods in one sort (every tune trial calls this; per period
    through scikit-learn it cost 0.1 s a trial on 52 weeks).
    """
    y = np.asarray(labels, dtype=np.float64).ravel() > 0
    p = np.asarray(probability, dtype=np.float64).ravel()
    keys, codes = np.unique(np.asarray(periods), return_inverse=True)  # as text only once per period
    codes = codes.ravel()
    if y.size == 0:
        return {}
    order = np.lexsort((p, codes))
    period, ranked = codes[order], p[order]
    negatives = np.cumsum(~y[order], dtype=np.int64)  # negatives at or below each rank, over all periods
    starts = np.searchsorted(period, np.arange(len(keys)))  # first rank of each period
    before = np.where(starts > 0, negatives[starts - 1], 0)  # negatives of earlier periods
    last = np.empty(ranked.size, dtype=bool)  # the last rank of each group of equal scores in a period
    last[-1] = True
    last[:-1] = (period[1:] != period[:-1]) | (ranked[1:] != ranked[:-1])
    ends = np.flatnonzero(last)
    group_period = period[ends]
    negatives_to_end = negatives[ends] - before[group_period]
    positives_to_end = ends + 1 - starts[group_period] - negatives_to_end
    opens = np.ones(ends.size, dtype=bool)  # the group opens its period
    opens[1:] = group_period[1:] != group_period[:-1]
    negatives_below = np.where(opens, 0, np.roll(negatives_to_end, 1))
    positives_in = positives_to_end - np.where(opens, 0, np.roll(positives_to_end, 1))
    # a positive beats the negatives below its group and ties (one half) with those inside it:
    # twice the pair count is 2 x below + inside = below + to_end, whole numbers
    twice = np.bincount(group_period, weights=positives_in * (negatives_below + negatives_to_end), minlength=len(keys))
    n_pos = np.bincount(codes, weights=y.astype(np.float64), minlength=len(keys))
    n_neg = np.bincount(codes, minlength=len(keys)) - n_pos
    pairs = n_pos * n_neg
    auc = np.divide(twice, 2.0 * pairs, out=np.full(len(keys), np.nan), where=pairs > 0)
    return dict(sorted((str(key), float(value)) for key, value in zip(keys.astype(str), auc)))
