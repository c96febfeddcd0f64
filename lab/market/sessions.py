"""Regular trading sessions from a real exchange calendar (holidays absent, early closes honoured)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from lab import paths
from lab.errors import ConfigError

__all__ = ["regular_sessions", "epoch_ns", "in_ns"]

MARKET_TZ = "America/New_York"


def _calendars_version() -> str:
    """The installed exchange_calendars' version without importing it: from the name of its
    ``.dist-info`` folder beside it (1 ms; importlib.metadata costs ~18 ms with its imports)."""
    spec = importlib.util.find_spec("exchange_calendars")
    if spec is not None and spec.origin:
        found = sorted(Path(spec.origin).parents[1].glob("exchange_calendars-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len("exchange_calendars-"): -len(".dist-info")]
    import exchange_calendars  # ~75 ms: only for an install without one .dist-info folder beside it

    return str(exchange_calendars.__version__)


#: The installed exchange_calendars, read without importing it (which loads every exchange's calendar).
CALENDARS_VERSION = _calendars_version()


def in_ns(stamps: "pd.DatetimeIndex") -> "pd.DatetimeIndex":
    """``stamps`` at nanosecond resolution; the same index, not a copy, when it already is (pandas's
    ``as_unit`` copies even then: 13 MB of fresh memory for 1.6 M minutes)."""
    return stamps if stamps.unit == "ns" else stamps.as_unit("ns")


def epoch_ns(stamps: "pd.DatetimeIndex | pd.Series") -> "np.ndarray":
    """Nanoseconds since the epoch (UTC) of datetime values of any resolution (pandas 3 infers
    seconds from strings, nanoseconds elsewhere: arithmetic on raw integers must fix one unit).

    A read-only view of the stamps' own integers when they are in nanoseconds (no copy)."""
    if isinstance(stamps, pd.Series):
        stamps = pd.DatetimeIndex(stamps)
    values = in_ns(stamps).asi8.view()
    values.flags.writeable = False
    return values


#: Schedules in memory, per calendar name: ``(first day, last day, schedule)``, the newest last.
_SCHEDULES: dict[str, list[tuple[dt.date, dt.date, pd.DataFrame]]] = {}


#: One thread at a time finds or builds a schedule (featurize and the data doctor ask from two threads;
#: the build's ``warnings.catch_warnings`` is process-wide state).
_SCHEDULE_LOCK = threading.Lock()


def _schedule(name: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """:func:`_find_or_build_schedule`, one thread at a time."""
    with _SCHEDULE_LOCK:
        return _find_or_build_schedule(name, start, end)


def _find_or_build_schedule(name: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The calendar's schedule (index: session dates; ``open``, ``close`` in UTC) covering ``start..end``.

    Building an ``exchange_calendars`` calendar costs ~0.1 s per decade of holiday rules, a tenth of a
    cold featurize; its schedule depends only on the library's version and the years it spans. So a
    schedule is built for whole calendar years and kept under the project root
    (``.lab/calendars/<name>_<version>_<first>_<last>.npy``: session, open and close in ns); any later
    request inside those years reads it back (~1 ms). A file that cannot be read or written only
    costs a build.
    """
    for first, last, schedule in reversed(_SCHEDULES.get(name, [])):
        if first <= start and end <= last:
            return schedule
    folder = paths.project_root() / ".lab" / "calendars"
    stem = f"{name}_{CALENDARS_VERSION}_"
    for path in sorted(folder.glob(f"{stem}*.npy")) if folder.is_dir() else ():
        try:
            first, last = (dt.date.fromisoformat(part) for part in path.stem[len(stem):].split("_"))
        except ValueError:
            continue
        if first <= start and end <= last:
            try:
                schedule = _schedule_frame(np.load(path))
            except (OSError, ValueError, IndexError):  # a truncated or foreign file: rebuilt below
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
    table = np.column_stack([epoch_ns(calendar.schedule.index), epoch_ns(calendar.schedule["open"]),
                             epoch_ns(calendar.schedule["close"])])
    schedule = _schedule_frame(table)
    _SCHEDULES[name] = [*_SCHEDULES.get(name, [])[-7:], (first, last, schedule)]
    _keep(table, folder / f"{stem}{first}_{last}.npy")
    return schedule


def _schedule_frame(table: np.ndarray) -> pd.DataFrame:
    """A schedule from its ``(sessions, 3)`` int64 table: session date (naive), open and close (UTC), ns."""
    if table.ndim != 2 or table.shape[1] != 3 or table.dtype != np.int64:
        raise ValueError(f"a schedule table has shape (n, 3) and dtype int64, not {table.shape} {table.dtype}")
    stamps = lambda k: pd.DatetimeIndex(table[:, k].view("datetime64[ns]"))  # noqa: E731
    return pd.DataFrame({"open": stamps(1).tz_localize("UTC"), "close": stamps(2).tz_localize("UTC")},
                        index=stamps(0).rename("session"))


def _keep(table: np.ndarray, path: Path) -> None:
    """Write ``table`` to ``path`` atomically; a folder that cannot be written is left alone."""
    paths.keep_file(path, lambda out: np.save(out, table))


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
