"""Regular trading sessions from a real exchange calendar (holidays absent, early closes honoured)."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from lab import paths
from lab.errors import ConfigError

__all__ = ["regular_sessions", "epoch_ns"]

MARKET_TZ = "America/New_York"
#: The installed exchange_calendars, read without importing it (which loads every exchange's calendar).
CALENDARS_VERSION = importlib.metadata.version("exchange_calendars")


def epoch_ns(stamps: "pd.DatetimeIndex | pd.Series") -> "np.ndarray":
    """Nanoseconds since the epoch (UTC) of datetime values of any resolution (pandas 3 infers
    seconds from strings, nanoseconds elsewhere: arithmetic on raw integers must fix one unit)."""
    if isinstance(stamps, pd.Series):
        stamps = pd.DatetimeIndex(stamps)
    return stamps.as_unit("ns").asi8


#: Schedules in memory, per calendar name: ``(first day, last day, schedule)``, the newest last.
_SCHEDULES: dict[str, list[tuple[dt.date, dt.date, pd.DataFrame]]] = {}


def _schedule(name: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The calendar's schedule (index: session dates; ``open``, ``close`` in UTC) covering ``start..end``.

    Building an ``exchange_calendars`` calendar costs ~0.1 s per decade of holiday rules, a tenth of a
    cold featurize; its schedule depends only on the library's version and the years it spans. So a
    schedule is built for whole calendar years and kept under the project root
    (``.lab/calendars/<name>_<version>_<first>_<last>.parquet``); any later request inside those years
    reads it back (~5 ms). A file that cannot be read or written only costs a build.
    """
    for first, last, schedule in reversed(_SCHEDULES.get(name, [])):
        if first <= start and end <= last:
            return schedule
    folder = paths.project_root() / ".lab" / "calendars"
    stem = f"{name}_{CALENDARS_VERSION}_"
    for path in sorted(folder.glob(f"{stem}*.parquet")) if folder.is_dir() else ():
        try:
            first, last = (dt.date.fromisoformat(part) for part in path.stem[len(stem):].split("_"))
        except ValueError:
            continue
        if first <= start and end <= last:
            try:
                schedule = pd.read_parquet(path)
            except Exception:  # a truncated or foreign file: rebuilt below
                continue
            _SCHEDULES[name] = [*_SCHEDULES.get(name, [])[-7:], (first, last, schedule)]
            return schedule
    import exchange_calendars as xcals  # ~75 ms: only when a schedule is built, not when it is read back

    first, last = dt.date(start.year, 1, 1), dt.date(end.year, 12, 31)
    try:
        with warnings.catch_warnings():  # pandas 3 deprecations inside exchange_calendars, not ours
            warnings.simplefilter("ignore")
            calendar = xcals.get_calendar(name, start=first.isoformat(), end=last.isoformat())
    except xcals.errors.InvalidCalendarName:
        raise ConfigError(f"[session] calendar = {name!r} is not an exchange_calendars name; use e.g. 'XNYS'") from None
    schedule = calendar.schedule[["open", "close"]]
    _SCHEDULES[name] = [*_SCHEDULES.get(name, [])[-7:], (first, last, schedule)]
    _keep(schedule, folder / f"{stem}{first}_{last}.parquet")
    return schedule


def _keep(schedule: pd.DataFrame, path: Path) -> None:
    """Write ``schedule`` to ``path`` atomically; a folder that cannot be written is left alone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
    except OSError:
        return
    try:
        schedule.to_parquet(tmp)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


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
    schedule = _schedule(calendar_name, start - dt.timedelta(days=7), end + dt.timedelta(days=7))
    schedule = schedule.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    out = pd.DataFrame(
        {
            "session_open": schedule["open"].dt.tz_convert(MARKET_TZ).dt.as_unit("ns"),
            "session_close": schedule["close"].dt.tz_convert(MARKET_TZ).dt.as_unit("ns"),
        },
        index=pd.DatetimeIndex(schedule.index, name="session").as_unit("ns"),
    )
    return out
