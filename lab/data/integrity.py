"""Integrity rules for 1-minute OHLCV rows, with errors that name file, line, value and rule.

Rules (each row must satisfy all):

* ``time`` parses, exists on the wall clock (not in the spring-forward gap) and sits on a whole minute;
* no price or volume is missing;
* every price is > 0;
* ``high >= max(open, close)`` and ``low <= min(open, close)``;
* ``volume`` is a whole number >= 0;
* no two rows share one instant (the repeated autumn hour is *not* a duplicate: it is two instants).

Rows out of time order are sorted (a warning says how many), not rejected.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lab.errors import DataError

__all__ = ["BadRows", "check_minutes"]

_SHOWN = 3


@dataclass
class BadRows:
    """Bad rows found while parsing, before the vectorized rules run.

    ``add(rule, line, value)`` records one; :func:`check_minutes` merges them with its own.
    """

    path: str
    found: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, rule: str, line: int, value: object) -> None:
        self.found[rule].append((int(line), str(value)))


def check_minutes(frame: pd.DataFrame, bad: BadRows, on_bad_rows: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Apply the integrity rules to a parsed minute frame.

    Parameters
    ----------
    frame : DataFrame
        Index: tz-aware stamps (NaT where the parser already failed); columns open, high, low,
        close (float), volume (float or int), line (int, the file line of each row).
    bad : BadRows
        Rows the parser already rejected (their index is NaT).
    on_bad_rows : {"error", "drop"}

    Returns
    -------
    (DataFrame, dict)
        The clean frame (sorted, unique, ``line`` removed, volume int64) and ``rule -> rows dropped``.

    Raises
    ------
    DataError
        With ``on_bad_rows="error"``: the first offending lines, their values and rules, and counts.
    """
    lines = frame["line"].to_numpy()
    masks: dict[str, np.ndarray] = {}
    index = frame.index
    nat = np.asarray(index.isna())
    stamps = index.as_unit("ns").asi8
    masks["time is not on a whole minute"] = ~nat & (stamps % 60_000_000_000 != 0)
    prices = {c: frame[c].to_numpy(dtype="float64") for c in ("open", "high", "low", "close")}
    volume = frame["volume"].to_numpy(dtype="float64")
    missing = np.zeros(len(frame), dtype=bool)
    for column, values in (*prices.items(), ("volume", volume)):
        missing |= np.isnan(values)
    masks["a price or the volume is missing"] = missing
    with np.errstate(invalid="ignore"):
        nonpositive = np.zeros(len(frame), dtype=bool)
        for values in prices.values():
            nonpositive |= values <= 0
        masks["price <= 0"] = nonpositive
        top = np.maximum(prices["open"], prices["close"])
        bottom = np.minimum(prices["open"], prices["close"])
        masks["high < max(open, close)"] = prices["high"] < top
        masks["low > min(open, close)"] = prices["low"] > bottom
        masks["volume is negative or fractional"] = (volume < 0) | (volume % 1 != 0)
    duplicate = np.zeros(len(frame), dtype=bool)
    if len(stamps) > 1 and not nat.any() and bool((stamps[1:] >= stamps[:-1]).all()):
        duplicate[1:] = stamps[1:] == stamps[:-1]  # in time order (the usual case): no sort needed
    else:
        order = np.argsort(stamps, kind="stable")
        sorted_stamps = stamps[order]
        dup_sorted = np.zeros(len(frame), dtype=bool)
        dup_sorted[1:] = (sorted_stamps[1:] == sorted_stamps[:-1]) & ~nat[order][1:]
        duplicate[order] = dup_sorted
    masks["duplicate time (same instant twice)"] = duplicate

    counts: dict[str, int] = {rule: len(rows) for rule, rows in bad.found.items()}
    any_bad = nat.copy()
    for rule, mask in masks.items():
        mask = mask & ~nat
        if mask.any():
            counts[rule] = counts.get(rule, 0) + int(mask.sum())
            any_bad |= mask
    if any_bad.any() or bad.found:
        if on_bad_rows == "error":
            raise DataError(_message(bad, masks, frame, lines, nat))
        frame = frame.loc[~any_bad]
    if len(frame) == 0:
        raise DataError(f"{bad.path}: no valid minute rows remain; check the file's format and date range")
    if not frame.index.is_monotonic_increasing:
        moved = int((np.diff(frame.index.asi8) < 0).sum())
        warnings.warn(f"{bad.path}: {moved} rows were out of time order and have been sorted", stacklevel=3)
        frame = frame.sort_index(kind="stable")
    frame = frame.drop(columns="line")
    frame["volume"] = frame["volume"].astype("int64")
    return frame, counts


def _message(bad: BadRows, masks: dict[str, np.ndarray], frame: pd.DataFrame, lines: np.ndarray, nat: np.ndarray) -> str:
    offenders: list[tuple[int, str, str]] = [(line, rule, value) for rule, rows in bad.found.items() for line, value in rows]
    for rule, mask in masks.items():
        for pos in np.flatnonzero(mask & ~nat)[:_SHOWN]:
            offenders.append((int(lines[pos]), rule, _row_text(frame, pos)))
    offenders.sort()
    counts = {rule: len(rows) for rule, rows in bad.found.items()}
    for rule, mask in masks.items():
        n = int((mask & ~nat).sum())
        if n:
            counts[rule] = counts.get(rule, 0) + n
    shown = "; ".join(f"line {line}: {value} breaks rule '{rule}'" for line, rule, value in offenders[:_SHOWN])
    summary = ", ".join(f"{rule}: {n}" for rule, n in counts.items())
    return (
        f"{bad.path}: {sum(counts.values())} bad row(s). {shown}. Rows per rule: {summary}. "
        "Fix the file, or rerun with --on-bad-rows drop (mlflow run: -P on_bad_rows=drop) to drop them and report the count."
    )


def _row_text(frame: pd.DataFrame, pos: int) -> str:
    row = frame.iloc[pos]
    stamp = frame.index[pos]
    return (
        f"{stamp.isoformat()} open={row['open']:g} high={row['high']:g} low={row['low']:g} "
        f"close={row['close']:g} volume={row['volume']:g}"
    )
