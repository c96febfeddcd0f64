"""Integrity rules for 1-minute OHLCV rows, with errors that name file, line, value and rule.

Rules (each row must satisfy all):

* ``time`` parses, exists on the wall clock (not in the spring-forward gap) and sits on a whole minute;
* no price or volume is missing;
* every price is > 0;
* ``high >= max(open, close)`` and ``low <= min(open, close)``;
* ``volume`` is a whole number >= 0;
* no two rows share one instant (the repeated autumn hour is *not* a duplicate: it is two instants).

Rows out of time order are sorted (a warning says how many), not rejected. Dropping bad rows
(``on_bad_rows="drop"``) is refused when they are more than ``max_bad_share`` of the rows (1 % by
default): that many bad rows mean a misread file, and the refusal names the count and the likely
cause (high and low swapped, stamps repeated, not minute bars ...).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lab.errors import DataError
from lab.market.sessions import epoch_ns
from lab.memory import PIECE_ROWS

__all__ = ["BadRows", "FileLines", "check_minutes", "DEFAULT_MAX_BAD_SHARE"]

_SHOWN = 3
#: Share of a file's rows ``on_bad_rows="drop"`` may drop before it refuses (``[data] max_bad_share``).
DEFAULT_MAX_BAD_SHARE = 0.01
_HIGH, _LOW = "high < max(open, close)", "low > min(open, close)"


@dataclass(frozen=True)
class FileLines:
    """The file line of each parsed row, worked out only for the rows a message names.

    ``first``: the line of the first row when the rows are the file's lines in order; ``known``: the
    line of every row otherwise (lines were skipped unparsed). A clean file names no row, so no
    column of 1.6 M line numbers is made for it.
    """

    first: int = 1
    known: np.ndarray | None = None

    def __getitem__(self, row: int) -> int:
        return int(self.known[row]) if self.known is not None else self.first + int(row)

    def kept(self, keep: np.ndarray) -> "FileLines":
        """The lines of the rows ``keep`` (a boolean mask over the rows) leaves."""
        known = self.known if self.known is not None else np.arange(self.first, self.first + len(keep), dtype=np.int64)
        return FileLines(known=known[keep])


@dataclass
class BadRows:
    """Bad rows found while parsing, before the vectorized rules run.

    ``add(rule, line, value)`` records one; :func:`check_minutes` merges them with its own.
    """

    path: str
    found: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, rule: str, line: int, value: object) -> None:
        self.found[rule].append((int(line), str(value)))


def check_minutes(frame: pd.DataFrame, bad: BadRows, on_bad_rows: str, max_bad_share: float = DEFAULT_MAX_BAD_SHARE,
                  unparsable_dropped: int = 0, lines: FileLines = FileLines()) -> tuple[pd.DataFrame, dict[str, int]]:
    """Apply the integrity rules to a parsed minute frame.

    Parameters
    ----------
    frame : DataFrame
        Index: tz-aware stamps (NaT where the parser already failed); columns open, high, low,
        close (float), volume (float or int).
    bad : BadRows
        Rows the parser already rejected (their index is NaT).
    on_bad_rows : {"error", "drop"}
    max_bad_share : float, default 0.01
        With ``"drop"``: the largest share of rows (bad rows / rows, in [0, 1]) that may be dropped.
    unparsable_dropped : int, default 0
        Lines the parser already dropped (not in ``frame``): counted as bad rows of the file.
    lines : FileLines, default rows from line 1
        The file line of each row (named in the message).

    Returns
    -------
    (DataFrame, dict)
        The clean frame (sorted, unique, volume int64) and ``rule -> rows dropped``.

    Raises
    ------
    DataError
        With ``on_bad_rows="error"``: the first offending lines, their values and rules, and counts;
        with ``"drop"``: more than ``max_bad_share`` of the rows are bad (the count and the likely cause).
    """
    if not bad.found and not unparsable_dropped and _all_clean(frame):
        return frame.astype({"volume": "int64"}), {}
    masks: dict[str, np.ndarray] = {}
    index = frame.index
    nat = np.asarray(index.isna())
    stamps = epoch_ns(index)
    masks["time is not on a whole minute"] = ~nat & (stamps % 60_000_000_000 != 0)
    prices = {c: frame[c].to_numpy(dtype="float64") for c in ("open", "high", "low", "close")}
    volume = frame["volume"].to_numpy()
    whole = volume.dtype.kind in "iu"  # parsed as integers: neither missing nor fractional
    volume = volume if whole else volume.astype("float64")
    missing = np.zeros(len(frame), dtype=bool)
    for values in (*prices.values(), *(() if whole else (volume,))):
        missing |= np.isnan(values)
    masks["a price or the volume is missing"] = missing
    with np.errstate(invalid="ignore"):
        nonpositive = np.zeros(len(frame), dtype=bool)
        for values in prices.values():
            nonpositive |= values <= 0
        masks["price <= 0"] = nonpositive
        top = np.maximum(prices["open"], prices["close"])
        bottom = np.minimum(prices["open"], prices["close"])
        masks[_HIGH] = prices["high"] < top
        masks[_LOW] = prices["low"] > bottom
        inverted = prices["high"] < prices["low"]
        masks["volume is negative or fractional"] = (volume < 0) if whole else (volume < 0) | (volume % 1 != 0)
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
    if any_bad.any() or bad.found or unparsable_dropped:
        hint = _swapped_hint(masks, inverted & ~nat)
        rows = len(frame) + unparsable_dropped
        dropped = int(any_bad.sum()) + unparsable_dropped
        too_many = bool(rows) and dropped / rows > max_bad_share + 1e-12
        if on_bad_rows == "error":
            cause = hint
            if too_many:
                cause = (f" {dropped / rows:.1%} of the rows are bad, more than --on-bad-rows drop drops "
                         f"({max_bad_share:.0%}, --max-bad-share): {_likely_cause(counts, hint, 0)}")
            raise DataError(_message(bad, masks, frame, lines, nat, dropped, suggest_drop=not too_many) + cause)
        if too_many:
            raise DataError(
                f"{bad.path}: {dropped:,} of {rows:,} rows ({dropped / rows:.1%}) are bad, more than the "
                f"{max_bad_share:.0%} --on-bad-rows drop may drop ([data] max_bad_share): "
                f"{_likely_cause(counts, hint, unparsable_dropped)} Fix the file or its header; to drop them anyway "
                f"pass --max-bad-share {min(1.0, math.ceil(dropped / rows * 100) / 100):g} (or set [data] max_bad_share).")
        frame = frame.loc[~any_bad]
    if len(frame) == 0:
        raise DataError(f"{bad.path}: no valid minute rows remain; check the file's format and date range")
    if not frame.index.is_monotonic_increasing:
        moved = int((np.diff(frame.index.asi8) < 0).sum())
        warnings.warn(f"{bad.path}: {moved} rows were out of time order and have been sorted", stacklevel=3)
        frame = frame.sort_index(kind="stable")
    frame["volume"] = frame["volume"].astype("int64")
    return frame, counts


def _all_clean(frame: pd.DataFrame) -> bool:
    """Whether every row passes every rule, stamps strictly increasing (the usual file): one fused pass
    per rule instead of a mask per rule (the masks, counts and messages are for files with bad rows)."""
    index = frame.index
    if index.hasnans:
        return False
    stamps = epoch_ns(index)
    open_, high, low, close = (frame[c].to_numpy(dtype="float64") for c in ("open", "high", "low", "close"))
    volume = frame["volume"].to_numpy()
    whole = volume.dtype.kind in "iu"
    # in pieces of _CLEAN_ROWS (lab.memory.PIECE_ROWS): the checks' temporaries stay small and are reused
    for a in range(0, len(stamps), _CLEAN_ROWS):
        b = min(a + _CLEAN_ROWS, len(stamps))
        o, h, lo, c, v, t = open_[a:b], high[a:b], low[a:b], close[a:b], volume[a:b], stamps[a:b + 1]
        with np.errstate(invalid="ignore"):  # NaN compares False (and np.minimum/maximum pass it on): not clean
            # a positive low at or below open and close makes them positive too
            clean = (lo > 0) & (lo <= np.minimum(o, c)) & (h >= np.maximum(o, c))
            clean &= v >= 0 if whole else (v >= 0) & (v % 1 == 0)
        if not (clean.all() and (t % 60_000_000_000 == 0).all() and (t[1:] > t[:-1]).all()):
            return False
    return True


#: Rows :func:`_all_clean` checks at once.
_CLEAN_ROWS = PIECE_ROWS


def _message(bad: BadRows, masks: dict[str, np.ndarray], frame: pd.DataFrame, lines: FileLines, nat: np.ndarray,
             rows_bad: int, suggest_drop: bool = True) -> str:
    offenders: list[tuple[int, str, str]] = [(line, rule, value) for rule, rows in bad.found.items() for line, value in rows]
    for rule, mask in masks.items():
        for pos in np.flatnonzero(mask & ~nat)[:_SHOWN]:
            offenders.append((lines[pos], rule, _row_text(frame, pos)))
    offenders.sort()
    counts = {rule: len(rows) for rule, rows in bad.found.items()}
    for rule, mask in masks.items():
        n = int((mask & ~nat).sum())
        if n:
            counts[rule] = counts.get(rule, 0) + n
    shown = "; ".join(f"line {line}: {value} breaks rule '{rule}'" for line, rule, value in offenders[:_SHOWN])
    summary = ", ".join(f"{rule}: {n}" for rule, n in counts.items())
    fix = ("Fix the file, or rerun with --on-bad-rows drop (mlflow run: -P on_bad_rows=drop) to drop them and report "
           "the count." if suggest_drop else "Fix the file.")
    return f"{bad.path}: {rows_bad} bad row(s). {shown}. Rows per rule: {summary}. {fix}"


def _row_text(frame: pd.DataFrame, pos: int) -> str:
    row = frame.iloc[pos]
    stamp = frame.index[pos]
    return (
        f"{stamp.isoformat()} open={row['open']:g} high={row['high']:g} low={row['low']:g} "
        f"close={row['close']:g} volume={row['volume']:g}"
    )


def _swapped_hint(masks: dict[str, np.ndarray], inverted: np.ndarray) -> str:
    """A sentence when most rows breaking a high/low rule have high < low (the columns look swapped)."""
    broken = masks[_HIGH] | masks[_LOW]
    n_broken = int(broken.sum())
    n_inverted = int((broken & inverted).sum())
    if n_broken == 0 or n_inverted * 2 <= n_broken:
        return ""
    return (f" In {n_inverted:,} of the {n_broken:,} rows breaking a high/low rule high < low: the high and low "
            "columns look swapped (check the header names, or the column order of a headerless file: "
            "time,open,high,low,close,volume).")


def _likely_cause(counts: dict[str, int], hint: str, unparsable: int) -> str:
    """The likely cause of many bad rows, from the rule most of them break."""
    if hint:
        return hint.strip()
    if unparsable and unparsable >= max(counts.values(), default=0):
        return (f"{unparsable:,} lines do not parse (wrong separator, a second header, or text in a number "
                "column?).")
    rule, n = max(counts.items(), key=lambda item: item[1])
    causes = {
        "duplicate time (same instant twice)": "stamps repeat: is the date or the time of day in a column of its "
        "own that was not read, or does the file hold several contracts or sub-minute bars?",
        "time is not a date-time": "the stamps are in a layout the reader does not know; give ISO 8601 "
        "(2023-01-03 09:30:00) or a Date and a Time column.",
        "time is not on a whole minute": "the stamps carry seconds: this is not a file of 1-minute bars.",
        "price <= 0": "prices at or below zero: a back-adjusted series that went negative? Use an unadjusted file.",
    }
    return f"most break rule '{rule}' ({n:,} rows): " + causes.get(rule, "check the file's columns and units.")
