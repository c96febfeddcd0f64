import datetime as dt
import mmap
import random

import numpy as np
import pandas as pd
import pytest

from lab.errors import DataError
from lab.data.readers import _block_dates, _inside, _localize_by_hour, iso8601, read_minutes, write_csv, write_firstrate, write_parquet

GOOD = "2023-03-01 09:30:00,4000.25,4001.00,3999.75,4000.50,120\n2023-03-01 09:31:00,4000.50,4000.75,4000.00,4000.25,80\n"


def _write(tmp_path, text, name="m.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _assert_contract(frame):
    assert str(frame.index.tz) == "America/New_York"
    assert frame.index.name == "time"
    assert frame.index.dtype.unit == "ns"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(frame[c].dtype == np.float64 for c in ["open", "high", "low", "close"])
    assert frame["volume"].dtype == np.int64


def test_read_minutes_firstrate_txt_round_trip(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-03", overnight=True)
    path = write_firstrate(minutes, tmp_path / "m.txt")
    assert path.read_text().splitlines()[0].startswith("2023-02-28 18:00:00,")  # naive ET, start of minute
    result = read_minutes(path)
    _assert_contract(result.minutes)
    pd.testing.assert_frame_equal(result.minutes, minutes, check_freq=False)
    assert result.rows_read == len(minutes)


def test_read_minutes_csv_any_column_order_and_utc(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-02")
    path = write_csv(minutes, tmp_path / "m.csv", columns=("time", "close", "high", "low", "open", "volume"), utc=True)
    assert path.read_text().splitlines()[1].endswith("+00:00," + path.read_text().splitlines()[1].split("+00:00,")[1])
    result = read_minutes(path, tz="Asia/Tokyo")  # offsets win over tz for aware stamps
    pd.testing.assert_frame_equal(result.minutes, minutes, check_freq=False)


def test_read_minutes_csv_naive_stamps_read_in_given_zone(tmp_path):
    path = _write(tmp_path, "timestamp,open,high,low,close,volume\n2023-03-01 14:30:00,1,2,0.5,1.5,3\n", "m.csv")
    result = read_minutes(path, tz="UTC")
    assert result.minutes.index[0] == pd.Timestamp("2023-03-01 09:30", tz="America/New_York")


def test_read_minutes_parquet_round_trip(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-02")
    result = read_minutes(write_parquet(minutes, tmp_path / "m.parquet"))
    pd.testing.assert_frame_equal(result.minutes, minutes, check_freq=False)


def test_read_minutes_shared_firstrate_sample_style_header(tmp_path):
    path = _write(tmp_path, "timestamp,open,high,low,close,volume\n" + GOOD, "m.csv")
    assert len(read_minutes(path).minutes) == 2


def test_read_minutes_autumn_repeated_hour_read_in_file_order(tmp_path):
    # 2023-11-05: 01:00-01:59 ET happens twice (EDT, then EST).
    lines = [f"2023-11-05 01:{m:02d}:00,10,11,9,10,1" for m in (58, 59)] * 2
    result = read_minutes(_write(tmp_path, "\n".join(lines) + "\n"))
    index = result.minutes.index
    assert list(index.tz_convert("UTC").strftime("%H:%M")) == ["05:58", "05:59", "06:58", "06:59"]


def test_read_minutes_spring_gap_stamp_is_reported(tmp_path):
    text = "2023-03-12 01:59:00,10,11,9,10,1\n2023-03-12 02:30:00,10,11,9,10,1\n2023-03-12 03:00:00,10,11,9,10,1\n"
    with pytest.raises(DataError, match=r"line 2: .*skipped by the spring DST change"):
        read_minutes(_write(tmp_path, text))
    kept = read_minutes(_write(tmp_path, text), on_bad_rows="drop", max_bad_share=0.5)
    assert len(kept.minutes) == 2 and sum(kept.rows_dropped.values()) == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"the file is empty"),
        ("2023-03-01 09:30:00,1,2,0.5,1.5\n", r"line 1: expected 6 comma-separated fields"),
        ("time,open,high,close,volume\n2023-03-01 09:30:00,1,2,1,3\n", r"lacks column\(s\) \['low'\]"),
        (GOOD + "2023-03-01 09:32:00,abc,4001,3999,4000,5\n", r"line 3: open 'abc' is not a number"),
        (GOOD + "2023-03-01 09:32:00,4000,4001,3999,4000\n", r"line 3: 5 fields instead of 6"),
        (GOOD + "2023-13-01 09:32:00,4000,4001,3999,4000,5\n", r"line 3: .*rule 'time is not a date-time'"),
        (GOOD + "2023-03-01 09:32:00,-4000,4001,-4002,4000,5\n", r"line 3: .*rule 'price <= 0'"),
        (GOOD + "2023-03-01 09:32:00,4000,4000.5,3999,4001,5\n", r"line 3: .*high=4000.5.*rule 'high < max\(open, close\)'"),
        (GOOD + "2023-03-01 09:32:00,4000,4002,4000.5,4001,5\n", r"line 3: .*rule 'low > min\(open, close\)'"),
        (GOOD + "2023-03-01 09:32:00,4000,4002,3999,4001,-5\n", r"line 3: .*rule 'volume is negative or fractional'"),
        (GOOD + "2023-03-01 09:31:00,4000,4002,3999,4001,5\n", r"line 3: .*rule 'duplicate time \(same instant twice\)'"),
        (GOOD + "2023-03-01 09:32:30,4000,4002,3999,4001,5\n", r"line 3: .*rule 'time is not on a whole minute'"),
    ],
    ids=["empty", "field-count", "header-columns", "bad-number", "short-line", "bad-date", "negative-price",
         "high-below-body", "low-above-body", "negative-volume", "duplicate-stamp", "sub-minute-stamp"],
)
def test_read_minutes_bad_input_names_line_value_and_rule(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        read_minutes(path)
    assert str(path) in str(info.value)


def test_read_minutes_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"does not exist; set \[data\] path"):
        read_minutes(tmp_path / "nope.txt")


def test_read_minutes_drop_mode_counts_rows_per_rule(tmp_path):
    text = GOOD + "2023-03-01 09:32:00,4000,4000.5,3999,4001,5\n2023-03-01 09:33:00,-1,1,-2,1,5\n2023-03-01 09:34:00,4000,4001,3999,4000,5\n"
    result = read_minutes(_write(tmp_path, text), on_bad_rows="drop", max_bad_share=0.5)
    assert len(result.minutes) == 3
    assert result.rows_dropped == {"price <= 0": 1, "high < max(open, close)": 1}


def test_read_minutes_drop_mode_skips_unparsable_lines(tmp_path):
    result = read_minutes(_write(tmp_path, GOOD + "garbage\n2023-03-01 09:33:00,4000,4001,3999,4000,5\n"), on_bad_rows="drop",
                          max_bad_share=0.25)
    assert len(result.minutes) == 3
    assert result.rows_dropped == {"unparsable line": 1}


def test_read_minutes_until_cuts_rows_before_checking_them(tmp_path):
    # A bad row inside the held-out window is never looked at.
    text = GOOD + "2024-01-02 09:30:00,-1,-1,-1,-1,5\n"
    result = read_minutes(_write(tmp_path, text), until=dt.date(2024, 1, 1))
    assert len(result.minutes) == 2 and result.rows_outside == 1


@pytest.mark.parametrize("ending", ["\n", ""])
def test_read_minutes_counts_every_held_out_line_with_or_without_a_final_newline(tmp_path, minutes_factory, ending):
    minutes = minutes_factory("2023-12-27", "2024-01-03")
    lines = write_firstrate(minutes, tmp_path / "m.txt").read_text().splitlines()
    path = tmp_path / "ending.txt"
    path.write_text("\n".join(lines) + ending)
    result = read_minutes(path, until=dt.date(2024, 1, 1))
    assert result.rows_outside == sum(line >= "2024" for line in lines) > 0
    assert result.rows_read == sum(line < "2024" for line in lines)


def test_read_minutes_unsorted_rows_are_sorted_with_warning(tmp_path):
    lines = GOOD.splitlines()
    with pytest.warns(UserWarning, match="out of time order"):
        result = read_minutes(_write(tmp_path, "\n".join(reversed(lines)) + "\n"))
    assert result.minutes.index.is_monotonic_increasing


def test_iso8601_has_colon_offset():
    stamps = pd.DatetimeIndex([pd.Timestamp("2023-07-03 09:30", tz="America/New_York")])
    assert list(iso8601(stamps)) == ["2023-07-03T09:30:00-04:00"]


def test_read_minutes_until_keeps_every_earlier_row_of_a_file_out_of_order(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-12-27", "2024-01-03")
    lines = write_firstrate(minutes, tmp_path / "m.txt").read_text().splitlines()
    early = [line for line in lines if line < "2024"]
    late = [line for line in lines if line >= "2024"]
    # one 2024 row in the middle of 2023, one 2023 row at the end: the binary search alone would cut wrongly
    shuffled = early[:500] + [late[0]] + early[500:-1] + late[1:] + [early[-1]]
    path = tmp_path / "shuffled.txt"
    path.write_text("\n".join(shuffled) + "\n")
    result = read_minutes(path, until=dt.date(2024, 1, 1))
    assert len(result.minutes) == len(early) and result.rows_outside == len(late)
    assert result.minutes.index.max() < pd.Timestamp("2024-01-01", tz="America/New_York")


def test_read_minutes_unparsable_line_is_named_without_reading_the_test_window(tmp_path):
    text = GOOD + "garbage\n2024-01-02 09:30:00,POISON,1,1,1,1\n"
    with pytest.raises(DataError, match="line 3: 1 fields instead of 6") as info:
        read_minutes(_write(tmp_path, text), until=dt.date(2024, 1, 1))
    assert "POISON" not in str(info.value) and "line 4" not in str(info.value)


def test_read_minutes_cut_compares_instants_in_exchange_time_not_the_date_text(tmp_path):
    """Mixed UTC offsets: the test window starts 2023-07-01 00:00 ET, whatever the stamp's own date says."""
    text = ("time,open,high,low,close,volume\n"
            "2023-06-30T15:00:00-04:00,4000,4001,3999,4000,5\n"
            "2023-07-01T03:30:00+00:00,4000,4001,3999,4000,5\n"   # 2023-06-30 23:30 ET: before the window
            "2023-06-30T23:30:00-05:00,4000,4001,3999,4000,5\n"   # 2023-07-01 00:30 ET: inside the window
            "2023-07-03T13:30:00Z,-1,-1,-1,-1,5\n")               # inside, and bad: never checked
    path = tmp_path / "mixed.csv"
    path.write_text(text)
    result = read_minutes(path, until=dt.date(2023, 7, 1))
    local = result.minutes.index.tz_convert("America/New_York")
    assert list(local.strftime("%Y-%m-%d %H:%M")) == ["2023-06-30 15:00", "2023-06-30 23:30"]
    assert result.rows_outside == 2


def test_read_minutes_rows_cut_by_their_instant_leave_the_next_rows_their_line_numbers(tmp_path):
    """A row parsed and then cut (its offset puts it inside an excluded day) does not shift the line
    number a later bad row is named by."""
    text = ("time,open,high,low,close,volume\n"
            "2023-06-29T15:00:00-04:00,4000,4001,3999,4000,5\n"
            "2023-07-01T03:30:00+00:00,4000,4001,3999,4000,5\n"   # 2023-06-30 23:30 ET: kept
            "2023-06-30T23:30:00-05:00,4000,4001,3999,4000,5\n"   # 2023-07-01 00:30 ET: excluded
            "2023-07-02T10:00:00-04:00,4000,4000.5,3999,4001,5\n")  # kept, and bad
    path = tmp_path / "offsets.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=r"line 5: .*rule 'high < max\(open, close\)'"):
        read_minutes(path, exclude=[(dt.date(2023, 7, 1), dt.date(2023, 7, 1))])


def test_read_minutes_excluded_ranges_are_never_parsed_and_lines_keep_their_numbers(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-06-28", "2023-07-07")
    lines = write_firstrate(minutes, tmp_path / "m.txt").read_text().splitlines()
    sealed = [n for n, line in enumerate(lines) if line.startswith(("2023-07-03", "2023-07-05"))]
    lines[sealed[10]] = "2023-07-03 09:40:00,POISON,1,1,1,1"  # inside the sealed range: never looked at
    after = next(n for n, line in enumerate(lines) if line.startswith("2023-07-06"))
    lines[after + 5] = lines[after + 5].replace(",", ";", 1)   # a bad line after the gap, named by its number
    path = tmp_path / "sealed.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=f"line {after + 6}: ") as info:
        read_minutes(path, exclude=[(dt.date(2023, 7, 3), dt.date(2023, 7, 5))])
    assert "POISON" not in str(info.value)
    lines[after + 5] = lines[after + 5].replace(";", ",", 1)
    path.write_text("\n".join(lines) + "\n")
    result = read_minutes(path, exclude=[(dt.date(2023, 7, 3), dt.date(2023, 7, 5))])
    days = set(result.minutes.index.strftime("%Y-%m-%d"))
    assert "2023-07-03" not in days and "2023-07-05" not in days and {"2023-06-30", "2023-07-06"} <= days
    assert result.rows_outside == len(sealed)


def test_read_minutes_gz_and_zip_round_trip(tmp_path, minutes_factory):
    import gzip
    import zipfile

    minutes = minutes_factory("2023-03-01", "2023-03-03", overnight=True)
    text = write_firstrate(minutes, tmp_path / "ES_full_1min_UNadjusted.txt")
    gz = tmp_path / "ES_full_1min_UNadjusted.txt.gz"
    gz.write_bytes(gzip.compress(text.read_bytes()))
    archive = tmp_path / "ES_full_1min_UNadjusted.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.write(text, "ES_full_1min_UNadjusted.txt")
    for path in (gz, archive):
        result = read_minutes(path, until=dt.date(2023, 3, 3))
        pd.testing.assert_frame_equal(result.minutes, minutes.loc[: "2023-03-02"], check_freq=False)
        assert result.rows_outside == len(minutes.loc["2023-03-03"])


def test_read_minutes_zip_bad_row_names_the_member(tmp_path):
    import zipfile

    archive = tmp_path / "NQ.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("NQ_1min.txt", GOOD + "2023-03-01 09:32:00,4000.5,3999,4000,4000.25,10\n")
    with pytest.raises(DataError, match=r"NQ\.zip!NQ_1min\.txt: 1 bad row\(s\)\. line 3"):
        read_minutes(archive)


def test_read_minutes_zip_with_several_files_is_refused(tmp_path):
    import zipfile

    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("a.txt", GOOD)
        handle.writestr("b.txt", GOOD)
    with pytest.raises(DataError, match=r"holds a\.txt, b\.txt; expected exactly one"):
        read_minutes(archive)


def test_read_minutes_binary_file_gives_one_short_line(tmp_path):
    path = tmp_path / "m.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8)
    with pytest.raises(DataError) as caught:
        read_minutes(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300
    assert "d0 cf 11 e0" in message and "expected a FirstRate .txt/.csv (or a .zip/.gz of one) or Parquet" in message


def test_find_minute_file_looks_up_a_bare_name_in_data_raw(tmp_path, monkeypatch):
    from pathlib import Path

    from lab.paths import find_minute_file

    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "home" / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "ES_1min.txt").write_text(GOOD)
    assert find_minute_file("ES_1min.txt") == raw / "ES_1min.txt"
    assert len(read_minutes(find_minute_file("ES_1min.txt")).minutes) == 2
    (tmp_path / "ES_1min.txt").write_text(GOOD)  # a file of that name here wins
    assert find_minute_file("ES_1min.txt") == Path("ES_1min.txt")
    assert find_minute_file("sub/ES_1min.txt") == Path("sub/ES_1min.txt")  # a path with a folder is taken as given
    with pytest.raises(DataError, match=r"'nope\.txt' does not exist \(nor in data/raw/\)"):
        read_minutes(find_minute_file("nope.txt"))


# -- what vendors ship: separate date and time, other names, separators, Up/Down, BOM ----------


def _vendor_text(minutes, header, date_format, clock_format, sep=",", volume=("volume",)):
    """The minutes as a vendor writes them: a header line, a date and a time-of-day column."""
    local = minutes.index.tz_convert("America/New_York").tz_localize(None)
    rows = []
    for stamp, row in zip(local, minutes.itertuples(index=False)):
        volumes = [str(row.volume)] if len(volume) == 1 else [str(row.volume - row.volume // 3), str(row.volume // 3)]
        rows.append(sep.join([stamp.strftime(date_format), stamp.strftime(clock_format),
                              *(f"{getattr(row, c):.2f}" for c in ("open", "high", "low", "close")), *volumes]))
    return header + "\n" + "\n".join(rows) + "\n"


def test_read_minutes_date_and_time_columns_read_with_no_bad_row(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-02", overnight=True)
    text = _vendor_text(minutes, "Date,Time,Open,High,Low,Close,Volume", "%Y-%m-%d", "%H:%M:%S")
    result = read_minutes(_write(tmp_path, text, "nq.csv"))
    _assert_contract(result.minutes)
    pd.testing.assert_frame_equal(result.minutes, minutes, check_freq=False)
    assert result.rows_read == len(minutes) and result.rows_dropped == {}


@pytest.mark.parametrize("header, sep, date_format, clock_format, volume", [
    ("DATE;TIME;OPEN;HIGH;LOW;LAST;UP;DOWN", ";", "%m/%d/%Y", "%H:%M", ("up", "down")),  # TradeStation-like
    ("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<VOL>", "\t", "%Y%m%d", "%H%M%S", ("volume",)),  # MetaTrader-like
    ("date;time;open;high;low;close;volume", ";", "%d.%m.%Y", "%H:%M:%S", ("volume",)),
    (" Date, Time, Open, High, Low, Last, Volume", ",", "%Y/%m/%d", "%H:%M:%S", ("volume",)),  # Sierra Chart-like
])
def test_read_minutes_vendor_headers_separators_and_volume_split(tmp_path, minutes_factory, header, sep, date_format,
                                                                 clock_format, volume):
    minutes = minutes_factory("2023-03-13", "2023-03-14", overnight=True)  # days above 12: no day/month tie
    result = read_minutes(_write(tmp_path, _vendor_text(minutes, header, date_format, clock_format, sep, volume)))
    pd.testing.assert_frame_equal(result.minutes, minutes, check_freq=False)  # Up + Down = the volume


def test_read_minutes_day_first_dates_are_read_day_first(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-13", "2023-03-14", overnight=True)
    text = _vendor_text(minutes, "Date,Time,Open,High,Low,Close,Volume", "%d/%m/%Y", "%H:%M")
    pd.testing.assert_frame_equal(read_minutes(_write(tmp_path, text)).minutes, minutes, check_freq=False)


def test_read_minutes_ignores_a_byte_order_mark(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-01")
    headerless = write_firstrate(minutes, tmp_path / "m.txt")
    for path in (headerless, write_csv(minutes, tmp_path / "m.csv")):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        pd.testing.assert_frame_equal(read_minutes(path).minutes, minutes, check_freq=False)
    garbled = tmp_path / "bad.txt"
    garbled.write_bytes(b"\xef\xbb\xbf" + (GOOD + "2023-03-01 09:32:00,x,1,1,1,1\n").encode())
    with pytest.raises(DataError, match=r"line 3: open 'x' is not a number"):
        read_minutes(garbled)


def test_read_minutes_date_and_time_columns_name_an_unparsable_stamp(tmp_path):
    text = ("Date,Time,Open,High,Low,Close,Volume\n2023-03-01,09:30:00,10,11,9,10,1\n"
            "2023-03-01,9h31,10,11,9,10,1\n2023-03-01,09:32:00,10,11,9,10,1\n")
    with pytest.raises(DataError, match=r"line 3: 2023-03-01 9h31 breaks rule 'time is not a date-time'"):
        read_minutes(_write(tmp_path, text, "m.csv"))


def test_read_minutes_date_and_time_columns_honour_the_held_out_window(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-03")
    text = _vendor_text(minutes, "Date,Time,Open,High,Low,Close,Volume", "%m/%d/%Y", "%H:%M:%S")
    result = read_minutes(_write(tmp_path, text, "m.csv"), until=dt.date(2023, 3, 3))
    assert result.minutes.index.max().date() == dt.date(2023, 3, 2) and result.rows_outside > 0


def test_read_minutes_header_without_prices_names_what_is_accepted(tmp_path):
    with pytest.raises(DataError, match=r"lacks column\(s\) \['close'\]; expected a time stamp .* up and down"):
        read_minutes(_write(tmp_path, "Date;Time;Open;High;Low;Volume\n2023-03-01;09:30;1;2;0.5;3\n", "m.csv"))


# -- swapped columns and how much --on-bad-rows drop may drop --------------------------------------


def _swapped(minutes, tmp_path, rows=None):
    """The minutes with high and low exchanged on ``rows`` (default all)."""
    bad = minutes.copy()
    chosen = bad.index if rows is None else bad.index[rows]
    bad.loc[chosen, ["high", "low"]] = bad.loc[chosen, ["low", "high"]].to_numpy()
    return write_firstrate(bad, tmp_path / "swapped.txt")


def test_read_minutes_swapped_high_and_low_are_said_to_look_swapped(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-01")
    minutes = minutes[minutes["high"] > minutes["low"]]
    path = _swapped(minutes, tmp_path)
    with pytest.raises(DataError, match=rf"{len(minutes)} bad row\(s\).* high < low: the high and low columns look "
                                        r"swapped"):
        read_minutes(path)
    with pytest.raises(DataError, match=rf"{len(minutes):,} of {len(minutes):,} rows \(100.0%\) are bad, more than the "
                                        r"1% --on-bad-rows drop may drop .* look swapped .* --max-bad-share 1 "):
        read_minutes(path, on_bad_rows="drop")


def test_read_minutes_drop_refuses_more_than_the_bad_share_and_allows_it_when_asked(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-01", overnight=True)
    minutes = minutes[minutes["high"] > minutes["low"]]
    share = 0.015
    rows = np.arange(0, int(len(minutes) * share) + 1)
    path = _swapped(minutes, tmp_path, rows)
    with pytest.raises(DataError, match=rf"{len(rows)} of {len(minutes):,} rows .* --max-bad-share 0.02 "):
        read_minutes(path, on_bad_rows="drop")
    kept = read_minutes(path, on_bad_rows="drop", max_bad_share=0.02)
    assert len(kept.minutes) == len(minutes) - len(rows)
    few = _swapped(minutes, tmp_path, np.arange(3))  # well under 1 %: dropped and counted
    assert len(read_minutes(few, on_bad_rows="drop").minutes) == len(minutes) - 3


def test_read_minutes_drop_refusal_names_repeated_stamps_as_the_likely_cause(tmp_path, minutes_factory):
    minutes = minutes_factory("2023-03-01", "2023-03-01")
    text = "".join(f"2023-03-01 09:30:00,{r.open},{r.high},{r.low},{r.close},{r.volume}\n"
                   for r in minutes.itertuples())
    with pytest.raises(DataError, match=r"most break rule 'duplicate time \(same instant twice\)' .* stamps repeat: "
                                        r"is the date or the time of day in a column of its own"):
        read_minutes(_write(tmp_path, text), on_bad_rows="drop")


def test_read_minutes_date_and_time_columns_name_a_row_without_a_date(tmp_path):
    text = ("Date;Time;Open;High;Low;Close;Volume\n03/01/2023;09:30;10;11;9;10;1\n;09:31;10;11;9;10;1\n"
            "03/01/2023;09:32;10;11;9;10;1\n")
    with pytest.raises(DataError, match=r"line 3: .*09:31 breaks rule 'time is not a date-time'"):
        read_minutes(_write(tmp_path, text, "m.csv"))


# -- the fast paths against plain references ----------------------------------------------------------


@pytest.mark.parametrize("final_newline", [True, False])
def test_read_minutes_until_gives_the_rows_a_full_read_keeps(tmp_path, minutes_factory, final_newline):
    """The lines before the test window go to the parser uncopied (one held-out range to the end of the
    file): the frame is the full read's rows before the cut, and the held-out lines are counted."""
    minutes = minutes_factory("2023-12-20", "2024-01-05", overnight=True)
    path = write_firstrate(minutes, tmp_path / "m.txt")
    if not final_newline:
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
    cut = read_minutes(path, until=dt.date(2024, 1, 2))
    whole = read_minutes(path).minutes
    kept = whole.loc[whole.index < pd.Timestamp("2024-01-02", tz="America/New_York")]
    pd.testing.assert_frame_equal(cut.minutes, kept, check_freq=False)
    assert cut.rows_read == len(kept) and cut.rows_outside == len(whole) - len(kept)


def _dated_lines(seed: int, count: int, first: dt.date, days: int, damage) -> list[str]:
    """``count`` FirstRate lines dated at random in ``first .. first + days``, each passed through
    ``damage(rng, line)``."""
    rng = random.Random(seed)
    return [damage(rng, f"{first + dt.timedelta(days=rng.randint(0, days))} 09:30:00,1,2,3,4,5") for _ in range(count)]


def test_held_out_lines_are_dated_as_a_byte_by_byte_reading_dates_them(tmp_path):
    """The word-wise date check of the lines to skip (lab.data.readers._block_dates) against a plain
    reading of each line's first ten bytes, on lines damaged at random."""
    def damage(rng: random.Random, text: str) -> str:
        roll = rng.random()
        if roll < 0.1:
            return text[: rng.randint(0, 25)]
        if roll < 0.3:
            at = rng.randint(0, 11)
            return text[:at] + rng.choice("x/:-9 +Z,\t0/") + text[at + 1:]
        return text[:19] + "-05:00" + text[19:] if roll < 0.35 else text

    lines = _dated_lines(7, 3000, dt.date(2023, 12, 20), 30, damage)
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines))  # no final newline
    lo, hi = dt.date(2024, 1, 1), dt.date(2024, 1, 10)

    text = "\n".join(lines)
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def plain(start: int) -> tuple[bool, bool, bool]:
        """From the line's first byte on (a short line's bytes 10-19 are the next line's: only a cue)."""
        head = text[start:start + 10]
        dated = (start + 19 < len(text) and head[4:5] == "-" and head[7:8] == "-"
                 and all(c in "0123456789" for c in head[:4] + head[5:7] + head[8:10]))
        return dated, dated and lo.isoformat() <= head <= hi.isoformat(), dated and text[start + 19] != ","

    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        dated, head, day, offset = _block_dates(data, 0, len(data))
        inside = dated & _inside(head, day, lo, hi)
        got = list(zip(dated.tolist(), inside.tolist(), offset.tolist()))
        del dated, head, day, offset, inside
    assert got == [plain(start) for start in starts]


@pytest.mark.parametrize("piece", [1_000, 1 << 18])
def test_localising_by_hour_equals_pandas_and_steps_aside_at_a_clock_change(monkeypatch, piece):
    """The hour-by-hour localisation of the reader against pandas's minute by minute, in zones with
    whole-hour, half-hour and 30-minute clock changes; None for minutes inside a changing hour
    (also when the stamps are worked on in pieces of ``piece``)."""
    from lab.data import readers

    monkeypatch.setattr(readers, "_LOCALIZE_ROWS", piece)
    minutes = pd.date_range("2023-01-01", "2023-12-31 23:59", freq="7min").as_unit("ns")
    for tz in ("America/New_York", "UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/London"):
        steady = minutes[~minutes.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").isna()]
        steady = steady[(steady.hour != 1) & (steady.hour != 2)]  # no stamp in an hour the clock changes in
        assert _localize_by_hour(steady, tz).equals(steady.tz_localize(tz, ambiguous="raise", nonexistent="raise")), tz
    autumn = pd.date_range("2023-11-05 00:00", "2023-11-05 03:00", freq="min").as_unit("ns")
    assert _localize_by_hour(autumn, "America/New_York") is None
    late_autumn = pd.date_range("2023-10-01 00:00", "2023-11-05 03:00", freq="min").as_unit("ns")  # in a later piece
    assert len(late_autumn) > 2 * piece or piece > len(late_autumn)
    assert _localize_by_hour(late_autumn, "America/New_York") is None
    assert _localize_by_hour(pd.DatetimeIndex([pd.NaT, pd.Timestamp("2023-03-01 09:30")]).as_unit("ns"),
                             "America/New_York") is None


def test_a_held_out_range_checked_piece_by_piece_gets_the_answers_of_one_block(tmp_path, monkeypatch):
    """lab.data.readers._dated_inside cuts a held-out range into pieces of _PIECE_BYTES (so its arrays
    stay small); a short line at a piece's end is still read up to the range's end, as in one block."""
    from lab.data import readers

    def damage(rng: random.Random, text: str) -> str:
        roll = rng.random()
        if roll < 0.02:
            return text[: rng.randint(10, 19)]  # a short line: its bytes 10-19 are the next line's
        return text[:19] + "-05:00" + text[19:] if roll < 0.04 else text

    lines = _dated_lines(11, 2000, dt.date(2024, 1, 2), 5, damage)
    path = tmp_path / "held_out.txt"
    path.write_text("\n".join(lines) + "\n")
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for lo, hi in ((dt.date(2024, 1, 1), dt.date(2024, 1, 31)), (dt.date(2024, 1, 3), dt.date(2024, 1, 31))):
            dated, head, day, offset = _block_dates(data, 0, len(data))
            whole = (len(dated), bool(offset.any())) if (dated & _inside(head, day, lo, hi)).all() else None
            del dated, head, day, offset
            for piece in (50, 64, 333, 4096, len(data) + 1):
                monkeypatch.setattr(readers, "_PIECE_BYTES", piece)
                assert readers._dated_inside(data, 0, len(data), lo, hi) == whole, (lo, piece)
    assert whole is None  # the second range leaves out 2024-01-02: not every line is inside it
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        empty = _block_dates(data, 40, 40)  # no line starts in an empty range
        assert [len(part) for part in empty] == [0, 0, 0, 0]
        del empty
