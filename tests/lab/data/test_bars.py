import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lab.data.bars import regular_session_bars, resample_bars, session_minutes
from lab.errors import DataError
from lab.market.sessions import regular_sessions

NY = "America/New_York"


def _minutes(rows):
    index = pd.DatetimeIndex([pd.Timestamp(t).tz_convert(NY) if t.count("-") > 2 else pd.Timestamp(t, tz=NY) for t, *_ in rows],
                             name="time", dtype=f"datetime64[ns, {NY}]")
    data = np.array([r[1:] for r in rows], dtype="float64").reshape(len(rows), 5)
    frame = pd.DataFrame(data, index=index, columns=["open", "high", "low", "close", "volume"])
    frame["volume"] = frame["volume"].astype("int64")
    return frame


def test_resample_bars_matches_hand_computed_bars():
    minutes = _minutes([
        ("2023-03-01 09:30", 10.00, 10.50, 9.75, 10.25, 5),
        ("2023-03-01 09:31", 10.25, 11.00, 10.00, 10.75, 7),
        ("2023-03-01 09:34", 10.75, 10.75, 9.50, 9.75, 1),
        ("2023-03-01 09:35", 9.75, 10.00, 9.25, 9.50, 2),  # next bar
        ("2023-03-01 09:41", 9.50, 9.75, 9.50, 9.75, 3),  # 09:40 bar (09:35 bar has one minute)
    ])
    bars = resample_bars(minutes, 5)
    expected = _minutes([
        ("2023-03-01 09:30", 10.00, 11.00, 9.50, 9.75, 13),
        ("2023-03-01 09:35", 9.75, 10.00, 9.25, 9.50, 2),
        ("2023-03-01 09:40", 9.50, 9.75, 9.50, 9.75, 3),
    ])
    pd.testing.assert_frame_equal(bars, expected, check_freq=False, check_names=False)


def test_resample_bars_stamps_at_start_across_dst_change():
    minutes = _minutes([("2023-11-05 01:59-04:00", 1, 1, 1, 1, 1), ("2023-11-05 01:59-05:00", 1, 1, 1, 1, 1),
                        ("2023-11-05 09:33", 1, 2, 1, 2, 1)])
    bars = resample_bars(minutes, 5)
    assert [t.strftime("%H:%M %z") for t in bars.index] == ["01:55 -0400", "01:55 -0500", "09:30 -0500"]


def test_resample_bars_rejects_empty_input():
    with pytest.raises(DataError, match="no minute bars to aggregate"):
        resample_bars(_minutes([]).iloc[:0])


def _rth(minutes_factory, start, end, overnight=True):
    minutes = minutes_factory(start, end, overnight=overnight)
    sessions = regular_sessions("XNYS", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    return regular_session_bars(resample_bars(minutes), sessions)


def test_regular_session_bars_on_dst_change_days(minutes_factory):
    bars = _rth(minutes_factory, "2023-03-10", "2023-03-14")  # clocks sprang forward on Sunday 2023-03-12
    per_day = bars.groupby("session").size()
    assert list(per_day) == [78, 78, 78]
    for day in ("2023-03-10", "2023-03-13"):
        first = bars.loc[day].index[0]
        assert (first.hour, first.minute) == (9, 30)
        assert bars.loc[day].index[-1].strftime("%H:%M") == "15:55"
    assert bars.loc["2023-03-10"].index[0].tz_convert("UTC").hour == 14
    assert bars.loc["2023-03-13"].index[0].tz_convert("UTC").hour == 13


def test_regular_session_bars_holiday_absent(minutes_factory):
    minutes = minutes_factory("2023-07-03", "2023-07-05", overnight=True)
    # Fabricate a July 4th morning as if the file had it: a holiday must still be absent.
    extra = minutes.loc["2023-07-05 09:30":"2023-07-05 10:00"].copy()
    extra.index = extra.index - pd.Timedelta(days=1)
    minutes = pd.concat([minutes, extra]).sort_index()
    sessions = regular_sessions("XNYS", dt.date(2023, 7, 3), dt.date(2023, 7, 5))
    bars = regular_session_bars(resample_bars(minutes), sessions)
    assert sorted({str(d.date()) for d in bars["session"]}) == ["2023-07-03", "2023-07-05"]


def test_regular_session_bars_early_close(minutes_factory):
    bars = _rth(minutes_factory, "2023-11-24", "2023-11-24")
    assert len(bars) == 42
    assert bars.index[-1].strftime("%H:%M") == "12:55"
    assert (bars["session_close"].dt.strftime("%H:%M") == "13:00").all()


def test_regular_session_bars_excludes_overnight_and_tags_session(minutes_factory):
    bars = _rth(minutes_factory, "2023-03-01", "2023-03-02")
    local = bars.index.hour * 60 + bars.index.minute
    assert local.min() == 9 * 60 + 30 and local.max() == 15 * 60 + 55
    assert (bars["session"].dt.date == bars.index.date).all()


def test_session_minutes_keeps_regular_session_only(minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-01", overnight=True)
    sessions = regular_sessions("XNYS", dt.date(2023, 3, 1), dt.date(2023, 3, 1))
    kept = session_minutes(minutes, sessions)
    assert len(kept) == 390 and kept.index[0].strftime("%H:%M") == "09:30"
