import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lab.config import LabConfig
from lab.data.doctor import FINDING_KINDS, diagnose, drop_sessions, examine_for_featurize, findings_table
from lab.data.readers import read_minutes, write_firstrate
from lab.market.sessions import regular_sessions


def globex_minutes(start: str, end: str, seed: int = 0) -> pd.DataFrame:
    """Minutes on the CME equity schedule (18:00 ET the evening before .. 17:00, the daily halt
    17:00-18:00 empty) with an index future's clock profile: busy, wide regular session, quiet night."""
    rng = np.random.default_rng(seed)
    sessions = regular_sessions("XNYS", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    parts = [pd.date_range(row.session_open - pd.Timedelta(hours=15, minutes=30), row.session_close + pd.Timedelta(hours=1),
                           freq="min", inclusive="left") for row in sessions.itertuples()]
    index = pd.DatetimeIndex(parts[0].append(parts[1:]), name="time").as_unit("ns")
    local = index.tz_localize(None)
    clock = local.hour * 60 + local.minute
    regular = np.isin(local.normalize(), sessions.index) & (clock >= 570) & (clock < 960)
    n = len(index)
    scale = np.where(regular, 4.0, 1.0)
    close = 4000.0 + np.cumsum(np.round(rng.standard_normal(n) * scale)) * 0.25
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + np.round(rng.random(n) * scale) * 0.25
    low = np.minimum(open_, close) - np.round(rng.random(n) * scale) * 0.25
    volume = np.where(regular, rng.integers(600, 1400, n), rng.integers(20, 120, n)).astype("int64")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def _diagnose(minutes):
    sessions = regular_sessions("XNYS", minutes.index[0].date(), minutes.index[-1].date())
    return diagnose(minutes, sessions)


@pytest.fixture(scope="module")
def clean():
    return globex_minutes("2023-02-27", "2023-04-14", seed=3)


def _kinds(report, session):
    return {f.kind for f in report.findings if f.session == session}


def test_diagnose_finds_nothing_in_clean_minutes(clean):
    report = _diagnose(clean)
    assert report.findings == []
    assert report.statistics["sessions_checked"] == len(regular_sessions("XNYS", dt.date(2023, 2, 27), dt.date(2023, 4, 14)))


def test_diagnose_hour_shift_in_the_weeks_us_and_europe_disagree_survives_a_file(tmp_path, clean):
    # The vendor defect: stamps one hour early between the US (12 March) and the EU (26 March) change.
    local = clean.index.tz_localize(None)
    trading_day = local.normalize() + pd.to_timedelta((local.hour >= 18).astype(int), unit="D")
    shifted = (trading_day >= pd.Timestamp("2023-03-13")) & (trading_day <= pd.Timestamp("2023-03-24"))
    stamps = clean.index.where(~shifted, clean.index - pd.Timedelta(hours=1))
    minutes = clean.set_axis(pd.DatetimeIndex(stamps, name="time")).sort_index()
    read = read_minutes(write_firstrate(minutes, tmp_path / "ES_full_1min.txt")).minutes
    report = _diagnose(read)
    flagged = {f.session for f in report.findings if f.kind == "shifted_hours"}
    expected = {d.strftime("%Y-%m-%d") for d in pd.bdate_range("2023-03-13", "2023-03-24")}
    assert flagged == expected
    assert all("1 hour(s) early" in f.detail for f in report.findings if f.kind == "shifted_hours")
    assert report.sessions.loc["2023-03-15", "shift_hours"] == -1


def test_diagnose_hour_shift_in_a_file_of_regular_hours_only(clean):
    local = clean.index.tz_localize(None)
    clock = local.hour * 60 + local.minute
    rth = clean.loc[(clock >= 570) & (clock < 960)]
    day = rth.index.tz_localize(None).normalize()
    late = day == pd.Timestamp("2023-03-08")
    stamps = rth.index.where(~late, rth.index + pd.Timedelta(hours=1))
    report = _diagnose(rth.set_axis(pd.DatetimeIndex(stamps, name="time")))
    assert "shifted_hours" in _kinds(report, "2023-03-08")
    assert {f.session for f in report.findings if f.kind == "shifted_hours"} == {"2023-03-08"}


def test_diagnose_missing_minutes_and_slots(clean):
    stamps = clean.index
    hour_gap = (stamps >= pd.Timestamp("2023-03-07 10:00", tz=stamps.tz)) & (stamps < pd.Timestamp("2023-03-07 11:00", tz=stamps.tz))
    slot_gap = (stamps >= pd.Timestamp("2023-03-09 12:00", tz=stamps.tz)) & (stamps < pd.Timestamp("2023-03-09 12:05", tz=stamps.tz))
    whole_day = stamps.tz_localize(None).normalize() == pd.Timestamp("2023-03-14")
    minutes = clean.loc[~(hour_gap | slot_gap | whole_day)]
    report = _diagnose(minutes)
    assert _kinds(report, "2023-03-07") == {"missing_minutes", "missing_slots"}
    assert _kinds(report, "2023-03-09") == {"missing_slots"}  # 5 minutes: under 2 % of the session
    assert _kinds(report, "2023-03-14") == {"missing_minutes"}
    detail = next(f.detail for f in report.findings if f.session == "2023-03-07" and f.kind == "missing_slots")
    assert "12 five-minute slot(s)" in detail and "first at 10:00" in detail


def test_diagnose_zero_and_constant_volume(clean):
    minutes = clean.copy()
    day = minutes.index.tz_localize(None).normalize()
    clock = minutes.index.hour * 60 + minutes.index.minute
    rth = (clock >= 570) & (clock < 960)
    minutes.loc[rth & (day == pd.Timestamp("2023-03-20")), "volume"] = 0
    minutes.loc[rth & (day == pd.Timestamp("2023-03-21")), "volume"] = 7
    report = _diagnose(minutes)
    assert _kinds(report, "2023-03-20") == {"zero_volume"}
    assert _kinds(report, "2023-03-21") == {"constant_volume"}


def test_diagnose_stale_prices_and_spike(clean):
    minutes = clean.copy()
    tz = minutes.index.tz
    stale = (minutes.index >= pd.Timestamp("2023-03-22 13:00", tz=tz)) & (minutes.index < pd.Timestamp("2023-03-22 13:12", tz=tz))
    price = minutes["close"].loc[: pd.Timestamp("2023-03-22 12:59", tz=tz)].iloc[-1]
    minutes.loc[stale, ["open", "high", "low", "close"]] = price
    spike = pd.Timestamp("2023-03-28 03:17", tz=tz)
    bad = minutes.loc[spike, "close"] * 1.02
    minutes.loc[spike, ["close", "high"]] = bad
    report = _diagnose(minutes)
    assert _kinds(report, "2023-03-22") == {"stale_prices"}
    assert "10 consecutive" in next(f.detail for f in report.findings if f.kind == "stale_prices")  # 2 whole bars
    assert _kinds(report, "2023-03-28") == {"price_spike"}
    assert next(f.detail for f in report.findings if f.kind == "price_spike").startswith("2023-03-28 03:17 ET")
    assert len(report.findings) == 2


def test_findings_json_shape_and_statistics(clean):
    minutes = clean.loc[clean.index.tz_localize(None).normalize() != pd.Timestamp("2023-03-14")]
    report = _diagnose(minutes)
    assert report.as_json() == [{"session": "2023-03-14", "kind": "missing_minutes", "detail": report.findings[0].detail}]
    assert set(report.counts()) == set(FINDING_KINDS)
    stats = report.statistics
    assert 0 < stats["median_range_1min_bp"] < stats["median_range_5min_bp"] < stats["median_daily_range_bp"]
    assert stats["price_min"] <= stats["price_median"] <= stats["price_max"]
    assert 0.0 <= stats["entry_bar_exit_share"] <= 1.0
    # the entry minute is part of the entry bar: a barrier inside it is inside the bar
    assert 0.0 <= stats["entry_minute_exit_share"] < stats["entry_bar_exit_share"]


def test_examine_for_featurize_drops_flagged_sessions_with_their_evening(clean):
    minutes = clean.copy()
    clock = minutes.index.hour * 60 + minutes.index.minute
    day = minutes.index.tz_localize(None).normalize()
    minutes.loc[(day == pd.Timestamp("2023-03-20")) & (clock >= 570) & (clock < 960), "volume"] = 0
    warn = LabConfig()
    kept, findings, summary, _ = examine_for_featurize(minutes, warn)
    assert kept is minutes and summary["sessions_flagged"] == 1 and summary["sessions_dropped"] == 0
    drop = warn.replace({"data.on_bad_sessions": "drop"})
    kept, findings, summary, _ = examine_for_featurize(minutes, drop)
    assert list(findings["session"]) == ["2023-03-20"]
    assert summary["sessions_dropped"] == 1 and summary["findings_per_kind"]["zero_volume"] == 1
    # 18:00 on Sunday 19 March .. 17:00 on Monday 20 March: the whole Globex session is gone
    gone = minutes.index.difference(kept.index)
    assert gone[0] == pd.Timestamp("2023-03-19 18:00", tz=minutes.index.tz)
    assert gone[-1] == pd.Timestamp("2023-03-20 16:59", tz=minutes.index.tz)
    assert summary["minutes_dropped"] == len(gone) == 23 * 60


def test_drop_sessions_without_dates_is_identity(clean):
    sessions = regular_sessions("XNYS", clean.index[0].date(), clean.index[-1].date())
    assert drop_sessions(clean, sessions, []) is clean
    assert findings_table(_diagnose(clean)).columns.tolist() == ["session", "kind", "detail"]
