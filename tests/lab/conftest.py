"""Fixtures of the core's tests: regular-session bars built the lab's own way from tiny minute data."""

from __future__ import annotations

import datetime as dt

import pytest

from lab.data.bars import regular_session_bars, resample_bars
from lab.data.readers import write_firstrate
from lab.market.sessions import regular_sessions
from tests.conftest import make_minutes


def rth_bars(start: str, end: str, seed: int):
    """5-minute regular-session bars of the random-walk minutes between two dates."""
    minutes = make_minutes(start, end, seed=seed)
    sessions = regular_sessions("XNYS", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    return regular_session_bars(resample_bars(minutes), sessions)


@pytest.fixture(scope="module")
def rth_bars_factory():
    return rth_bars


#: Windows (and a short label look-back) of the small dataset of ``minute_file``.
SMALL_WINDOWS = {
    "windows.train": ["2023-09-01", "2023-10-31"],
    "windows.validation": ["2023-11-01", "2023-11-30"],
    "windows.test": ["2023-12-01", "2023-12-29"],
    "targets.volatility_lookback_bars": 200,
}


@pytest.fixture
def minute_file(tmp_path, monkeypatch):
    """Five months of around-the-clock minutes (2023-08..12) in a FirstRate file; LAB_HOME in tmp_path."""
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    return write_firstrate(make_minutes("2023-08-01", "2023-12-29", seed=11, overnight=True), tmp_path / "raw.txt")
