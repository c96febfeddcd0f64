import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lab.config import WindowsConfig
from lab.errors import TestWindowLockedError
from lab.dataset.windows import guard_range, purge_labels, split_windows


def test_guard_range_refuses_test_window_for_non_final_jobs():
    windows = WindowsConfig()
    with pytest.raises(TestWindowLockedError, match=r"backtest asked for 2023-12-01..2024-01-05, which overlaps the held-out test window"):
        guard_range(windows, dt.date(2023, 12, 1), dt.date(2024, 1, 5), "backtest")
    guard_range(windows, dt.date(2023, 1, 1), dt.date(2023, 12, 31), "backtest")
    guard_range(windows, dt.date(2024, 1, 1), dt.date(2024, 3, 1), "final-eval")


def test_purge_labels_measures_from_each_rows_own_label_end():
    index = pd.RangeIndex(10)
    targets = pd.DataFrame({"a": np.ones(10), "b": np.ones(10)}, index=index)
    purged = purge_labels(targets, boundary=6, horizons={"a": 2, "b": 4})
    # row i keeps its label only if i + h < 6
    assert list(purged["a"].isna()) == [False] * 4 + [True] * 2 + [False] * 4
    assert list(purged["b"].isna()) == [False] * 2 + [True] * 4 + [False] * 4


def test_split_windows_never_returns_test_rows_and_purges_across_midnight_free_boundary():
    index = pd.date_range("2022-12-30 15:30", periods=8, freq="5min", tz="America/New_York").append(
        pd.date_range("2023-01-03 09:30", periods=8, freq="5min", tz="America/New_York")).append(
        pd.date_range("2024-01-02 09:30", periods=4, freq="5min", tz="America/New_York"))
    table = pd.DataFrame({"x": np.arange(len(index), dtype=float), "target_3bar": 1.0}, index=index)
    parts = split_windows(table, WindowsConfig(), {"target_3bar": 3})
    assert set(parts) == {"train", "validation"}
    assert len(parts["train"]) == 8 and len(parts["validation"]) == 8
    assert parts["train"]["target_3bar"].isna().sum() == 3  # the last 3 train rows reach validation
    assert parts["validation"]["target_3bar"].isna().sum() == 3  # and the last 3 validation rows reach test
    with pytest.raises(TestWindowLockedError, match="never returns the test window"):
        split_windows(table, WindowsConfig(), {"target_3bar": 3}, names=("train", "test"))
