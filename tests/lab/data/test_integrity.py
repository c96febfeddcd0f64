"""The integrity rules' fast path (lab.data.integrity._all_clean) against the rule-by-rule masks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from lab.data import integrity
from lab.data.integrity import BadRows, FileLines, check_minutes
from lab.errors import DataError


def _minutes(n: int) -> pd.DataFrame:
    index = pd.date_range("2024-03-04 09:30", periods=n, freq="min", tz="America/New_York", unit="ns")
    close = 5000 + np.arange(n) * 0.25
    return pd.DataFrame({"open": close, "high": close + 0.5, "low": close - 0.5, "close": close,
                         "volume": np.full(n, 7, dtype=np.int64)}, index=index)


@pytest.mark.parametrize("piece", [3, 4, 5, 1 << 18])
def test_a_clean_file_checked_in_pieces_passes_and_each_break_at_any_row_is_found(monkeypatch, piece):
    """Every row position, piece boundaries included: a stamp repeated, off the minute, a low above the
    body, a negative volume; each is named with its file line (FileLines), as the masks name it."""
    monkeypatch.setattr(integrity, "_CLEAN_ROWS", piece)
    clean, dropped = check_minutes(_minutes(12), BadRows(path="m.txt"), "error")
    assert len(clean) == 12 and dropped == {}
    for row in range(1, 12):
        for rule, damage in (("duplicate time", "stamp"), ("time is not on a whole minute", "second"),
                             ("low > min(open, close)", "low"), ("volume is negative", "volume")):
            frame = _minutes(12)
            if damage == "stamp":
                frame.index = frame.index[:row].append(frame.index[row - 1:row]).append(frame.index[row + 1:])
            elif damage == "second":
                frame.index = frame.index[:row].append(frame.index[row:row + 1] + pd.Timedelta(seconds=1)).append(frame.index[row + 1:])
            elif damage == "low":
                frame.iloc[row, frame.columns.get_loc("low")] = frame["close"].iloc[row] + 0.25
            else:
                frame.iloc[row, frame.columns.get_loc("volume")] = -1
            assert not integrity._all_clean(frame), (rule, row)
            with pytest.raises(DataError, match=rf"line {row + 2}: .*{re.escape(rule)}"):
                check_minutes(frame, BadRows(path="m.txt"), "error", lines=FileLines(first=2))
