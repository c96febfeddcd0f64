"""Contract rolls in a continuous minute series: find each switch, and adjust prices across it.

An unadjusted continuous file (FirstRate's ``*_continuous_UNadjusted``) holds the front contract
until the roll and the next one after it; at the switch the price jumps by the calendar spread (a
few points at low rates, about 30 ES points at 5 %). The 24-bar return, the EMA distances, ATR and
the Bollinger width would carry that step for days.

* :func:`detect_rolls` finds the switch near each scheduled roll
  (:func:`lab.market.instruments.scheduled_rolls`) as the largest price jump across a trading break
  (the 17:00-18:00 ET maintenance break of a Globex-hours file, the night of a regular-hours one,
  a weekend) between a week before the roll date and the expiry, when that jump stands out from
  the file's ordinary break jumps (a hole over regular-session minutes, missing data, is never a
  candidate). The measured gap includes whatever the market moved across that
  break (a regular-hours file: the whole night); per-contract files measure it exactly
  (:mod:`lab.data.contracts`).
* :func:`back_adjust` (``[data] roll_adjust = "back"``) adds each switch's gap to every minute
  before it: backward difference adjustment. Gaps are whole ticks, so prices stay on the tick
  grid; a switch sits at a break, so every session is shifted as one piece and point P&L inside a
  session is unchanged. The newest contract keeps its traded prices.

The roll table (:data:`ROLL_COLUMNS`): ``date`` (scheduled roll date), ``minute`` (first minute of
the new contract, ET), ``gap`` (new minus old, index points), ``method`` (how the switch was found:
``"detected"``, ``"schedule"`` or ``"volume"``), ``front`` and ``next`` (contract names).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from lab.errors import DataError
from lab.market.instruments import ROLL_SCHEDULES, SessionDays, scheduled_rolls
from lab.market.sessions import epoch_ns, regular_sessions

__all__ = ["ROLL_COLUMNS", "ROLL_ADJUST_METHODS", "empty_roll_table", "detect_rolls", "back_adjust", "adjust_rolls",
           "roll_table_path", "read_roll_table", "write_roll_table", "roll_findings_text"]

ROLL_COLUMNS = ("date", "minute", "gap", "method", "front", "next")
ROLL_ADJUST_METHODS = ("none", "back")

_NS_MIN = 60_000_000_000
#: A stamp gap at least this long is a trading break (the maintenance break is 60 minutes).
BREAK_MINUTES = 30
#: Days before the scheduled roll date in which a vendor's switch is looked for (volume rolls come early).
SEARCH_DAYS_BEFORE = 7


def empty_roll_table() -> pd.DataFrame:
    """A roll table without rows (the columns of :data:`ROLL_COLUMNS`)."""
    return pd.DataFrame({"date": pd.Series([], dtype=object), "minute": pd.Series([], dtype="datetime64[ns, America/New_York]"),
                         "gap": pd.Series([], dtype=np.float64), "method": pd.Series([], dtype=object),
                         "front": pd.Series([], dtype=object), "next": pd.Series([], dtype=object)})


def _break_jumps(minutes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the first minute after each trading break, the jump there (open minus the
    previous minute's close, points) and the break's length (hours)."""
    stamps = epoch_ns(minutes.index)
    after = np.flatnonzero(np.diff(stamps) >= BREAK_MINUTES * _NS_MIN) + 1
    jump = minutes["open"].to_numpy()[after] - minutes["close"].to_numpy()[after - 1]
    return after, jump, (stamps[after] - stamps[after - 1]) / (60 * _NS_MIN)


#: Minutes before a break whose mean absolute 1-minute move scales its jump (about one Globex day).
LOCAL_MINUTES = 1380


def _local_scale(close: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Mean absolute 1-minute close change over the :data:`LOCAL_MINUTES` minutes before each break
    (a calm week's break jumps are small, a wild week's large); never below a tiny floor."""
    total = np.zeros(len(close) + 1)  # total[i]: the sum of the moves of minutes 1 .. i-1 (moves[0] = 0)
    if len(close) > 1:
        moves = total[2:]
        np.subtract(close[1:], close[:-1], out=moves)
        np.abs(moves, out=moves)
        np.cumsum(moves, out=moves)
    start = np.maximum(after - LOCAL_MINUTES, 1)
    mean = (total[after] - total[start]) / np.maximum(after - start, 1)
    return np.maximum(mean, 1e-9)


def detect_rolls(minutes: pd.DataFrame, root: str, calendar: str = "XNYS", tick_size: float = 0.25,
                 sigmas: float = 5.0, min_ticks: float = 4.0) -> pd.DataFrame:
    """The contract switches of an unadjusted continuous minute series.

    Parameters
    ----------
    minutes : DataFrame
        Minute-frame contract (ET index; open, high, low, close, volume), sorted.
    root : str
        Root symbol (``[data] instrument``); a root without a roll schedule has no roll.
    calendar : str
        ``exchange_calendars`` name for the roll dates.
    tick_size : float
        Index points per tick; gaps are rounded to whole ticks.
    sigmas : float, default 5
        A switch's jump must exceed this many robust standard deviations (1.4826 x MAD) of the
        file's break jumps, each scaled to a one-hour break and to the local volatility (a jump
        over a break of ``h`` hours is divided by sqrt(h), a weekend moving the price more than
        the maintenance break, and by the mean absolute 1-minute move of the day before it)...
    min_ticks : float, default 4
        ...and this many ticks.

    Returns
    -------
    DataFrame
        The roll table (:data:`ROLL_COLUMNS`), ``method = "detected"``, one row per scheduled roll
        whose switch was found, oldest first.

    Examples
    --------
    >>> idx = pd.date_range("2024-03-05 15:57", periods=3, freq="min", tz="America/New_York")
    >>> idx = idx.append(pd.date_range("2024-03-06 09:30", periods=3, freq="min", tz="America/New_York"))
    >>> m = pd.DataFrame({"open": [5000.0, 5000, 5000, 5020, 5020, 5020], "volume": 1}, index=idx)
    >>> m["high"] = m["low"] = m["close"] = m["open"]
    >>> detect_rolls(m, "MES")[["date", "gap"]].to_dict("records")
    [{'date': datetime.date(2024, 3, 7), 'gap': 20.0}]
    """
    if root.upper() not in ROLL_SCHEDULES or len(minutes) < 2:
        return empty_roll_table()
    after, jump, hours = _break_jumps(minutes)
    if len(after) == 0:
        return empty_roll_table()
    # A break that swallows regular-session minutes is missing data, not a break: its jump holds
    # hours of trading and says nothing of a switch (the doctor reports the missing minutes instead).
    sessions = regular_sessions(calendar, minutes.index[0].date(), minutes.index[-1].date())
    opens, closes = epoch_ns(sessions["session_open"]), epoch_ns(sessions["session_close"])
    stamps = epoch_ns(minutes.index)
    first = np.searchsorted(closes, stamps[after - 1] + _NS_MIN, side="right")  # first session ending after the break starts
    ordinary = (first >= len(opens)) | (opens[np.minimum(first, len(opens) - 1)] >= stamps[after])
    per_hour = jump / np.sqrt(hours) / _local_scale(minutes["close"].to_numpy(), after)
    usual = per_hour[ordinary] if ordinary.any() else per_hour
    scale = 1.4826 * float(np.median(np.abs(usual - np.median(usual))))
    score = np.abs(per_hour) / max(scale, 1e-12)
    local = epoch_ns(minutes.index[after].tz_localize(None))  # ET wall clock of the candidates only
    first, last = minutes.index[0].date(), minutes.index[-1].date()
    rows = []
    known = SessionDays(tuple(d.date() for d in sessions.index))  # the file's sessions: no second calendar build
    for roll in scheduled_rolls(root, first, last + dt.timedelta(days=SEARCH_DAYS_BEFORE), known):
        lo = epoch_ns(pd.DatetimeIndex([pd.Timestamp(roll.date - dt.timedelta(days=SEARCH_DAYS_BEFORE))]))[0]
        hi = epoch_ns(pd.DatetimeIndex([pd.Timestamp(roll.expiry + dt.timedelta(days=1))]))[0]
        inside = np.flatnonzero((local >= lo) & (local < hi) & ordinary)
        if inside.size == 0:
            continue
        best = inside[np.argmax(score[inside])]
        if score[best] < sigmas or abs(jump[best]) < min_ticks * tick_size:
            continue
        rows.append({"date": roll.date, "minute": minutes.index[after[best]],
                     "gap": float(np.round(jump[best] / tick_size) * tick_size), "method": "detected",
                     "front": roll.front, "next": roll.next})
    return pd.DataFrame(rows, columns=list(ROLL_COLUMNS)) if rows else empty_roll_table()


def back_adjust(minutes: pd.DataFrame, rolls: pd.DataFrame) -> pd.DataFrame:
    """Backward difference adjustment: every minute before a switch shifted by that switch's gap.

    Minutes before several switches carry the sum of their gaps; the newest contract's prices are
    unchanged; volume is untouched.

    Examples
    --------
    >>> idx = pd.date_range("2024-03-06 16:58", periods=2, freq="min", tz="America/New_York")
    >>> idx = idx.append(pd.date_range("2024-03-06 18:00", periods=2, freq="min", tz="America/New_York"))
    >>> m = pd.DataFrame({c: [5000.0, 5000.25, 5012.75, 5013.0] for c in ("open", "high", "low", "close")}, index=idx)
    >>> table = pd.DataFrame({"minute": [idx[2]], "gap": [12.5]})
    >>> back_adjust(m, table)["close"].tolist()
    [5012.5, 5012.75, 5012.75, 5013.0]
    """
    if rolls is None or len(rolls) == 0:
        return minutes
    position = minutes.index.searchsorted(pd.DatetimeIndex(rolls["minute"]))
    steps = np.zeros(len(minutes) + 1)
    np.add.at(steps, position, rolls["gap"].to_numpy(dtype=np.float64))
    shift = steps.sum() - np.cumsum(steps)[:-1]  # gaps of the switches after each minute
    out = minutes.copy()
    for column in ("open", "high", "low", "close"):
        out[column] = out[column].to_numpy() + shift
    return out


def adjust_rolls(minutes: pd.DataFrame, rolls: pd.DataFrame, method: str) -> pd.DataFrame:
    """``[data] roll_adjust``: ``"none"`` returns the minutes as read, ``"back"`` :func:`back_adjust`."""
    if method not in ROLL_ADJUST_METHODS:
        raise DataError(f"roll_adjust = {method!r}: use one of {', '.join(ROLL_ADJUST_METHODS)}")
    return back_adjust(minutes, rolls) if method == "back" else minutes


def roll_table_path(minute_file: str | Path) -> Path:
    """Where a stitched file's measured roll table lives: ``<file>.rolls.csv`` beside it."""
    path = Path(minute_file)
    return path.with_name(path.name + ".rolls.csv")


def write_roll_table(rolls: pd.DataFrame, path: str | Path) -> Path:
    """Write a roll table as CSV (minutes as ISO 8601 with their ET offset)."""
    out = rolls.copy()
    out["minute"] = pd.DatetimeIndex(out["minute"]).strftime("%Y-%m-%dT%H:%M:%S%z") if len(out) else []
    path = Path(path)
    out.to_csv(path, index=False, columns=list(ROLL_COLUMNS))
    return path


def read_roll_table(path: str | Path) -> pd.DataFrame:
    """A roll table written by :func:`write_roll_table`."""
    try:
        table = pd.read_csv(path, dtype={"method": str, "front": str, "next": str})
    except (OSError, ValueError) as exc:
        raise DataError(f"roll table {path}: {exc}") from None
    missing = [c for c in ROLL_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"roll table {path} lacks column(s) {missing}; it has {list(table.columns)}")
    if not len(table):
        return empty_roll_table()
    table["date"] = [dt.date.fromisoformat(str(d)) for d in table["date"]]
    table["minute"] = pd.to_datetime(table["minute"], utc=True).dt.tz_convert("America/New_York").dt.as_unit("ns")
    table["gap"] = table["gap"].astype(np.float64)
    return table[list(ROLL_COLUMNS)]


def roll_findings_text(row: pd.Series, tick_size: float) -> str:
    """The data doctor's sentence on one switch."""
    ticks = row["gap"] / tick_size
    return (f"contract switch {row['front']} -> {row['next']} at {row['minute']:%Y-%m-%d %H:%M} ET (scheduled roll "
            f"{row['date']}): the price jumps {row['gap']:+.2f} points ({ticks:+.0f} ticks); "
            "[data] roll_adjust = \"back\" removes it from the features")
