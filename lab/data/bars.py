"""1-minute bars -> N-minute bars -> regular-session bars.

Aggregation: open first, high max, low min, close last, volume sum; a bar is stamped at its
start (the FirstRate convention), so the 09:30 bar covers 09:30:00-09:34:59 ET.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.errors import DataError
from lab.market.sessions import epoch_ns

__all__ = ["resample_bars", "regular_session_bars", "session_minutes"]

_NS_PER_MINUTE = 60_000_000_000
_NS_PER_DAY = 86_400_000_000_000


def resample_bars(minutes: pd.DataFrame, bar_minutes: int = 5) -> pd.DataFrame:
    """Aggregate a minute frame into ``bar_minutes`` bars stamped at their start.

    Buckets are aligned to the wall clock (:00, :05, ...). ET offsets are whole hours, so flooring
    UTC nanoseconds equals flooring ET wall time. Buckets with no minute are absent (no filling).

    Parameters
    ----------
    minutes : DataFrame
        Minute-frame contract (sorted, unique, tz-aware index; open/high/low/close/volume).
    bar_minutes : int, default 5
        Bar length in minutes; must divide 60.
    """
    if len(minutes) == 0:
        raise DataError("no minute bars to aggregate; check the data file and the date range")
    if not minutes.index.is_monotonic_increasing:
        raise DataError("minute bars must be sorted by time before aggregation")
    width = bar_minutes * _NS_PER_MINUTE
    bucket = epoch_ns(minutes.index) // width
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    high = np.maximum.reduceat(minutes["high"].to_numpy(), starts)
    low = np.minimum.reduceat(minutes["low"].to_numpy(), starts)
    volume = np.add.reduceat(minutes["volume"].to_numpy(), starts)
    index = pd.DatetimeIndex((bucket[starts] * width).view("datetime64[ns]"), name="time").tz_localize("UTC")
    return pd.DataFrame(
        {
            "open": minutes["open"].to_numpy()[starts],
            "high": high,
            "low": low,
            "close": minutes["close"].to_numpy()[ends],
            "volume": volume.astype("int64", copy=False),
        },
        index=index.tz_convert(minutes.index.tz),
        copy=False,  # every column is a new array of ours
    )


def _session_of(index: pd.DatetimeIndex, sessions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Position in ``sessions`` of each stamp's ET date, and whether that date is a session."""
    local_day = epoch_ns(index.tz_localize(None)) // _NS_PER_DAY
    session_day = epoch_ns(sessions.index) // _NS_PER_DAY
    pos = np.searchsorted(session_day, local_day)
    pos_clipped = np.minimum(pos, len(session_day) - 1)
    is_session = (pos < len(session_day)) & (session_day[pos_clipped] == local_day)
    return pos_clipped, is_session


def regular_session_bars(bars: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Keep the bars that start inside a regular session and tag them with it.

    Parameters
    ----------
    bars : DataFrame
        N-minute bars stamped at their start (any hours).
    sessions : DataFrame
        From :func:`lab.market.sessions.regular_sessions`: index ``session``, ``session_open``/``session_close``.

    Returns
    -------
    DataFrame
        The bars with ``session_open <= time < session_close`` on session dates (holidays absent,
        early closes honoured), plus columns ``session`` (naive midnight), ``session_open`` and
        ``session_close`` (tz-aware ET).
    """
    pos, is_session = _session_of(bars.index, sessions)
    stamp = epoch_ns(bars.index)
    opens = epoch_ns(sessions["session_open"])[pos]
    closes = epoch_ns(sessions["session_close"])[pos]
    keep = is_session & (stamp >= opens) & (stamp < closes)
    out = bars.loc[keep].copy()
    take = pos[keep]
    out["session"] = sessions.index.take(take)
    # DatetimeArray.take keeps the tz without a round trip through Timestamp objects.
    out["session_open"] = sessions["session_open"].array.take(take)
    out["session_close"] = sessions["session_close"].array.take(take)
    if len(out) == 0:
        raise DataError(
            "no bar falls inside a regular session; is the file's time zone right ([data] timezone) "
            "and does it cover trading days of the configured calendar?"
        )
    return out


def session_minutes(minutes: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """The minutes inside regular sessions (what the backtest needs to resolve intra-bar order)."""
    pos, is_session = _session_of(minutes.index, sessions)
    stamp = epoch_ns(minutes.index)
    keep = is_session & (stamp >= epoch_ns(sessions["session_open"])[pos]) & (stamp < epoch_ns(sessions["session_close"])[pos])
    return minutes.loc[keep]
