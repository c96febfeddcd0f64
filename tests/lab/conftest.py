"""Fixtures of the core's tests: regular-session bars built the lab's own way from tiny minute data."""

from __future__ import annotations

import datetime as dt

import pytest

from lab.bars import regular_session_bars, resample_bars
from lab.sessions import regular_sessions
from tests.conftest import make_minutes


def rth_bars(start: str, end: str, seed: int):
    """5-minute regular-session bars of the random-walk minutes between two dates."""
    minutes = make_minutes(start, end, seed=seed)
    sessions = regular_sessions("XNYS", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    return regular_session_bars(resample_bars(minutes), sessions)


@pytest.fixture(scope="module")
def rth_bars_factory():
    return rth_bars
