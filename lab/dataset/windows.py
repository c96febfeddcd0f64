"""Train / validation / test windows, the purge between them, and the test-window lock.

The test window is held out: only final-eval may ask for its rows. Every other job goes through
:func:`guard_range` (refuses any date range that touches the test window) and reads minute files
with ``until=test.start`` so held-out rows are never even parsed.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from lab.config import DateRange, WindowsConfig
from lab.errors import TestWindowLockedError

__all__ = ["FINAL_EVAL", "guard_range", "window_slices", "purge_labels", "split_windows"]

#: The only job allowed to read the test window.
FINAL_EVAL = "final-eval"


def guard_range(windows: WindowsConfig, start: dt.date, end: dt.date, job: str) -> None:
    """Refuse a request for dates inside the test window unless ``job`` is final-eval.

    Raises
    ------
    TestWindowLockedError
        ``[start, end]`` overlaps the test window and ``job`` is not ``"final-eval"``.
    """
    if job == FINAL_EVAL:
        return
    test = windows.test
    if start <= test.end and end >= test.start:
        raise TestWindowLockedError(
            f"{job} asked for {start}..{end}, which overlaps the held-out test window {test} "
            f"([windows] test in lab.toml). Only `mlflow run . -e final-eval` may read it, once; "
            f"choose dates before {test.start}."
        )


def _mask(index: pd.DatetimeIndex, rng: DateRange) -> np.ndarray:
    local_day = index.tz_localize(None).normalize()
    return np.asarray((local_day >= pd.Timestamp(rng.start)) & (local_day <= pd.Timestamp(rng.end)))


def window_slices(index: pd.DatetimeIndex, windows: WindowsConfig, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Positions of the bars of each named window (by ET date)."""
    return {name: np.flatnonzero(_mask(index, getattr(windows, name))) for name in names}


def purge_labels(targets: pd.DataFrame, boundary: int, horizons: Mapping[str, int]) -> pd.DataFrame:
    """Unlabel every row before ``boundary`` whose label reaches ``boundary`` or beyond.

    A row at position ``i`` with horizon ``h`` bars keeps its label only if ``i + h < boundary``
    (``boundary`` is the position of the next window's first bar). Measured from each row's own
    label end, not from the first label's end.
    """
    out = targets.copy()
    positions = np.arange(len(out))
    for column, h in horizons.items():
        reach = (positions + h >= boundary) & (positions < boundary)
        if reach.any():
            out.loc[out.index[reach], column] = np.nan
    return out


def split_windows(
    table: pd.DataFrame,
    windows: WindowsConfig,
    horizons: Mapping[str, int],
    names: tuple[str, ...] = ("train", "validation"),
) -> dict[str, pd.DataFrame]:
    """Cut a feature+target table into windows, purging labels that reach into the next one.

    The test window is never among the defaults; asking for it here is refused (only final-eval
    builds test rows, through its own path).
    """
    if "test" in names:
        raise TestWindowLockedError("split_windows never returns the test window; final-eval builds it itself")
    positions = window_slices(table.index, windows, names)
    purged = purge_labels(table[list(horizons)], _boundary(table.index, windows.validation.start), horizons)
    purged = purge_labels(purged, _boundary(table.index, windows.test.start), horizons)
    table = table.assign(**{c: purged[c] for c in horizons})
    return {name: table.iloc[pos] for name, pos in positions.items()}


def _boundary(index: pd.DatetimeIndex, first_day: dt.date) -> int:
    """Position of the first bar on or after ``first_day`` (ET)."""
    stamp = pd.Timestamp(first_day).tz_localize(index.tz)
    return int(index.searchsorted(stamp))
