"""Regular sessions: the schedule kept under .lab/calendars gives what a fresh exchange calendar gives."""

from __future__ import annotations

import datetime as dt

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from lab.market import sessions
from lab.market.sessions import epoch_ns, in_ns, regular_sessions


def _fresh(start: dt.date, end: dt.date) -> pd.DataFrame:
    """The sessions straight from exchange_calendars (no schedule kept), in regular_sessions' layout."""
    schedule = xcals.get_calendar("XNYS", start=(start - dt.timedelta(days=7)).isoformat(),
                                  end=(end + dt.timedelta(days=7)).isoformat()).schedule
    schedule = schedule.loc[pd.Timestamp(start): pd.Timestamp(end)]
    return pd.DataFrame({"session_open": schedule["open"].dt.tz_convert("America/New_York").dt.as_unit("ns"),
                         "session_close": schedule["close"].dt.tz_convert("America/New_York").dt.as_unit("ns")},
                        index=pd.DatetimeIndex(schedule.index, name="session").as_unit("ns"))


def test_kept_schedule_serves_requests_inside_its_years_and_equals_a_fresh_calendar(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setattr(sessions, "_SCHEDULES", {})
    spans = [(dt.date(2019, 4, 30), dt.date(2023, 12, 29)), (dt.date(2020, 3, 1), dt.date(2020, 3, 31)),
             (dt.date(2023, 11, 20), dt.date(2023, 11, 28))]  # Thanksgiving and its early close
    first = regular_sessions("XNYS", *spans[0])
    kept = sorted((tmp_path / ".lab" / "calendars").glob("XNYS_*.npy"))
    assert [p.name for p in kept] == [f"XNYS_{sessions.CALENDARS_VERSION}_2019-01-01_2024-12-31.npy"]
    monkeypatch.setattr(sessions, "_SCHEDULES", {})  # a new process: only the file remains
    for start, end in spans:
        assert regular_sessions("XNYS", start, end).equals(_fresh(start, end))
    assert len(list((tmp_path / ".lab" / "calendars").glob("*.npy"))) == 1  # all served by the kept years
    assert first.equals(_fresh(*spans[0]))


def test_a_damaged_kept_schedule_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setattr(sessions, "_SCHEDULES", {})
    folder = tmp_path / ".lab" / "calendars"
    folder.mkdir(parents=True)
    (folder / f"XNYS_{sessions.CALENDARS_VERSION}_2015-01-01_2030-12-31.npy").write_bytes(b"not a table")
    span = (dt.date(2022, 1, 3), dt.date(2022, 2, 1))
    assert regular_sessions("XNYS", *span).equals(_fresh(*span))
    assert (folder / f"XNYS_{sessions.CALENDARS_VERSION}_2021-01-01_2022-12-31.npy").is_file()


def test_threads_asking_for_one_schedule_build_it_once_and_leave_the_warning_filters_alone(tmp_path, monkeypatch):
    """Featurize and the data doctor ask from two threads; the build silences the library's warnings
    with process-wide state, so builds take turns."""
    import threading
    import warnings

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setattr(sessions, "_SCHEDULES", {})
    builds = []
    real_get = xcals.get_calendar

    def counted(*args, **kwargs):
        builds.append(threading.current_thread().name)
        return real_get(*args, **kwargs)

    monkeypatch.setattr(xcals, "get_calendar", counted)
    filters = list(warnings.filters)
    span = (dt.date(2021, 2, 1), dt.date(2021, 6, 30))
    results, start = [], threading.Barrier(4)

    def ask() -> None:
        start.wait()
        results.append(regular_sessions("XNYS", *span))

    threads = [threading.Thread(target=ask, name=f"asker-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len(results) == 4
    assert all(result.equals(results[0]) for result in results) and results[0].equals(_fresh(*span))
    assert warnings.filters == filters


def test_epoch_ns_reads_nanosecond_stamps_without_copying_them_and_guards_them():
    """epoch_ns: the index's own integers when already in ns (no 13 MB copy per call on 1.6 M minutes),
    read-only so no caller can change the stamps through them; other units converted."""
    stamps = pd.date_range("2024-03-08 09:30", periods=5, freq="min", tz="America/New_York", unit="ns")
    values = epoch_ns(stamps)
    assert np.shares_memory(values, stamps.asi8) and in_ns(stamps) is stamps
    assert not values.flags.writeable
    with pytest.raises(ValueError):
        values[0] = 0
    assert stamps[0] == pd.Timestamp("2024-03-08 09:30", tz="America/New_York")
    seconds = stamps.as_unit("s")
    assert epoch_ns(seconds).tolist() == values.tolist() and in_ns(seconds).unit == "ns"
    assert epoch_ns(pd.Series(stamps)).tolist() == values.tolist()
