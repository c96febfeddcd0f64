"""Classification metrics for probabilistic binary predictions: pure numpy (and sklearn's AUC).

Every function takes labels ``y`` (0/1, no NaN) and predicted probabilities ``p`` = P(class 1)
in [0, 1], both 1-D and of equal length, and checks them with a plain message.

Calibration uses ``n_bins`` equal-width bins over [0, 1] (default 10): bin ``b`` holds the
predictions in ``[b / n_bins, (b + 1) / n_bins)``, the last bin also holding ``p == 1``.
The expected calibration error is the count-weighted mean gap between the mean prediction
and the observed frequency of class 1 in each bin (Naeini et al., 2015; Guo et al., 2017)::

    ECE = sum_b (n_b / N) * |mean(p in b) - mean(y in b)|

Empty bins contribute nothing. ECE is 0 for perfect calibration and at most 1.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> {k: round(v, 4) for k, v in classification_metrics(y, p).items()}
{'auc': 0.75, 'accuracy': 0.75, 'log_loss': 0.4723, 'brier_score': 0.1581, 'ece': 0.3375}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.errors import LabError

__all__ = [
    "roc_auc",
    "ranking_auc",
    "accuracy",
    "log_loss",
    "brier_score",
    "expected_calibration_error",
    "reliability_table",
    "classification_metrics",
    "METRIC_NAMES",
]

#: Keys of :func:`classification_metrics`, in order.
METRIC_NAMES = ("auc", "accuracy", "log_loss", "brier_score", "ece")

_EPS = 1e-15


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (0.5 = no skill, 1 = perfect ranking).

    Raises
    ------
    LabError
        ``y`` holds a single class: AUC is undefined.
    """
    y, p = _check(y, p)
    if np.unique(y).size < 2:
        raise LabError(
            f"AUC is undefined: all {y.size} labels are {int(y[0])}; evaluate on a window holding both classes"
        )
    from sklearn.metrics import roc_auc_score  # heavy: scikit-learn

    return float(roc_auc_score(y, p))


def ranking_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """AUC as the Mann-Whitney count of ``scores`` (pairs of a positive above a negative, ties one half,
    over positives x negatives), in one sort and integer rank sums: the early-stopping loop's per-round
    metric (0.2 ms for 18 K rows, a third of LightGBM's ``auc``; equal to it on the default data).

    Parameters
    ----------
    scores : ndarray of float64, shape (n,)
        Any monotone score (raw margins or probabilities).
    positive : ndarray of bool, shape (n,)
        The rows of class 1; both classes present (the caller checks).

    >>> ranking_auc(np.array([0.1, 0.4, 0.4, 0.8]), np.array([False, False, True, True]))
    0.875
    """
    order = np.argsort(scores)
    ranked = scores[order]
    hits = positive[order]
    n_positive = int(np.count_nonzero(hits))
    distinct = ranked[1:] != ranked[:-1]
    if distinct.all():  # ranks 1..n: the positives' rank sum
        twice_rank_sum = 2 * (int(np.flatnonzero(hits).sum()) + n_positive)
    else:  # a group of equal scores shares its average rank, (first + last) / 2 (1-based)
        ends = np.flatnonzero(np.r_[distinct, True])
        starts = np.r_[0, ends[:-1] + 1]
        in_group = np.add.reduceat(hits.astype(np.int64), starts)
        twice_rank_sum = int((in_group * (starts + ends + 2)).sum())
    n_negative = len(scores) - n_positive
    return (twice_rank_sum - n_positive * (n_positive + 1)) / (2.0 * n_positive * n_negative)


def accuracy(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    """Share of rows where ``p >= threshold`` agrees with ``y == 1`` (a fraction in [0, 1])."""
    y, p = _check(y, p)
    return float(np.mean((p >= threshold) == (y == 1.0)))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy in nats, probabilities clipped to [1e-15, 1 - 1e-15]."""
    y, p = _check(y, p)
    q = np.clip(p, _EPS, 1.0 - _EPS)
    return float(-np.mean(y * np.log(q) + (1.0 - y) * np.log1p(-q)))


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probabilities, in [0, 1] (0.25 for a constant 0.5)."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def reliability_table(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Per-bin calibration: mean prediction against the observed frequency of class 1.

    Parameters
    ----------
    y : array-like of 0/1, shape (n,)
    p : array-like of float in [0, 1], shape (n,)
    n_bins : int, default 10
        Equal-width bins over [0, 1].

    Returns
    -------
    DataFrame
        One row per bin (empty bins included): ``bin`` (int, 0-based), ``bin_lower``,
        ``bin_upper`` (float, edges), ``mean_predicted`` and ``observed_frequency`` (float,
        NaN when the bin is empty), ``count`` (int, rows in the bin).
    """
    y, p = _check(y, p)
    if int(n_bins) != n_bins or n_bins < 1:
        raise LabError(f"n_bins = {n_bins!r} must be a positive whole number (default 10)")
    n_bins = int(n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    sum_p = np.bincount(index, weights=p, minlength=n_bins)
    sum_y = np.bincount(index, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(count > 0, sum_p / count, np.nan)
        freq = np.where(count > 0, sum_y / count, np.nan)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "bin_lower": edges[:-1],
            "bin_upper": edges[1:],
            "mean_predicted": mean_p,
            "observed_frequency": freq,
            "count": count.astype(np.int64),
        }
    )


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins (see the module docstring)."""
    table = reliability_table(y, p, n_bins)
    filled = table[table["count"] > 0]
    gaps = (filled["mean_predicted"] - filled["observed_frequency"]).abs()
    return float((gaps * filled["count"]).sum() / filled["count"].sum())


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """All headline metrics at once.

    Returns
    -------
    dict
        ``auc``, ``accuracy`` (threshold 0.5), ``log_loss`` (nats), ``brier_score``, ``ece``
        (10 bins), all plain floats.

    Raises
    ------
    LabError
        Mismatched or invalid inputs, or a single class in ``y``.
    """
    y, p = _check(y, p)
    return {
        "auc": roc_auc(y, p),
        "accuracy": accuracy(y, p),
        "log_loss": log_loss(y, p),
        "brier_score": brier_score(y, p),
        "ece": expected_calibration_error(y, p),
    }


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=np.float64).ravel()
    p_arr = np.asarray(p, dtype=np.float64).ravel()
    if y_arr.shape != p_arr.shape:
        raise LabError(f"labels ({y_arr.size}) and probabilities ({p_arr.size}) differ in length")
    if y_arr.size == 0:
        raise LabError("no rows to evaluate: labels and probabilities are empty")
    if np.isnan(y_arr).any():
        raise LabError(f"labels hold {int(np.isnan(y_arr).sum())} NaN values; drop unlabelled rows first")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise LabError(f"labels must be 0 or 1; found {float(y_arr[~np.isin(y_arr, (0.0, 1.0))][0])!r}")
    if np.isnan(p_arr).any() or (p_arr < 0.0).any() or (p_arr > 1.0).any():
        bad = p_arr[np.isnan(p_arr) | (p_arr < 0.0) | (p_arr > 1.0)][0]
        raise LabError(f"probabilities must lie in [0, 1]; found {float(bad)!r}")
    return y_arr, p_arr
