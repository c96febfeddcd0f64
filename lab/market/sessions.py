"""Regular trading sessions from a real exchange calendar (holidays absent, early closes honoured)."""

from __future__ import annotations

import datetime as dt
import threading
import warnings

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from lab.errors import ConfigError

__all__ = ["regular_sessions", "epoch_ns"]

MARKET_TZ = "America/New_York"


def epoch_ns(stamps: "pd.DatetimeIndex | pd.Series") -> "np.ndarray":
    """Nanoseconds since the epoch (UTC) of datetime values of any resolution (pandas 3 infers
    seconds from strings, nanoseconds elsewhere: arithmetic on raw integers must fix one unit)."""
    if isinstance(stamps, pd.Series):
        stamps = pd.DatetimeIndex(stamps)
    return stamps.as_unit("ns").asi8


#: Calendars built so far, per name: ``(first day, last day, calendar)``, the newest last.
_BUILT: dict[str, list[tuple[str, str, xcals.ExchangeCalendar]]] = {}
_BUILDING = threading.Lock()  # one build at a time: a request waits for a build that will serve it


def _calendar(name: str, start: str, end: str) -> xcals.ExchangeCalendar:
    """A calendar covering ``start..end`` (ISO dates): one already built when it covers them, else a new one."""
    with _BUILDING:
        for first, last, calendar in reversed(_BUILT.get(name, [])):
            if first <= start and end <= last:
                return calendar
        try:
            with warnings.catch_warnings():  # pandas 3 deprecations inside exchange_calendars, not ours
                warnings.simplefilter("ignore")
                calendar = xcals.get_calendar(name, start=start, end=end)
        except xcals.errors.InvalidCalendarName:
            raise ConfigError(f"[session] calendar = {name!r} is not an exchange_calendars name; use e.g. 'XNYS'") from None
        _BUILT[name] = [*_BUILT.get(name, [])[-7:], (start, end, calendar)]
        return calendar


def regular_sessions(calendar_name: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The regular sessions between two dates (inclusive).

    Parameters
    ----------
    calendar_name : str
        An ``exchange_calendars`` name. ``"XNYS"`` gives 09:30-16:00 ET, 13:00 ET on early-close days.
    start, end : date
        ET session dates, inclusive.

    Returns
    -------
    DataFrame
        Index ``session`` (naive midnight, datetime64[ns]); columns ``session_open`` and
        ``session_close`` (tz-aware America/New_York).
    """
    # Calendar bounds padded by a week: building one costs ~0.1 s per decade of holidays.
    lo = (start - dt.timedelta(days=7)).isoformat()
    hi = (end + dt.timedelta(days=7)).isoformat()
    schedule = _calendar(calendar_name, lo, hi).schedule
    schedule = schedule.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    out = pd.DataFrame(
        {
            "session_open": schedule["open"].dt.tz_convert(MARKET_TZ).dt.as_unit("ns"),
            "session_close": schedule["close"].dt.tz_convert(MARKET_TZ).dt.as_unit("ns"),
        },
        index=pd.DatetimeIndex(schedule.index, name="session").as_unit("ns"),
    )
    return out
