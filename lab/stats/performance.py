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
    """
    from sklearn.metrics import roc_auc_score  # heavy: scikit-learn

    frame = pd.DataFrame({"y": np.asarray(labels, dtype=np.float64), "p": np.asarray(probability, dtype=np.float64),
                          "period": np.asarray(periods).astype(str)})
    out: dict[str, float] = {}
    for period, rows in frame.groupby("period", sort=True):
        y = rows["y"].to_numpy()
        out[str(period)] = float(roc_auc_score(y, rows["p"].to_numpy())) if 0 < y.sum() < len(y) else float("nan")
    return out
