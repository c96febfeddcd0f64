"""Fixtures of the backtest tests: a year of synthetic bars and minutes, and a runner that
executes the numba engine and the plain-Python reference on the same inputs."""

from __future__ import annotations

import pytest

from lab.backtest import run_backtest
from tests.lab.backtest.helpers import reference_trades
from tests.lab.backtest.synthetic import year_of_data


@pytest.fixture(scope="session")
def wild_year():
    """2023: 3-tick minute steps, 2 % jumps, 2 % wide minutes (stops, gaps, both-barrier bars)."""
    return year_of_data(seed=7, step_ticks=3, jump_rate=0.02, wide_rate=0.02)


@pytest.fixture(scope="session")
def calm_year():
    """2022: 1-tick minute steps, rare jumps (many time stops, flattens and reversals)."""
    return year_of_data(seed=11, start="2022-01-01", end="2022-12-31", step_ticks=1, jump_rate=0.002)


@pytest.fixture
def run_both():
    """``run_both(bars, minutes, signals, **kw) -> (BacktestResult, reference DataFrame)``."""

    def _run(bars, minutes, signals, rules=None, costs=None, instrument=None, reversal_min_confidence=None):
        result = run_backtest(bars, signals, minutes, rules=rules, costs=costs, instrument=instrument,
                              reversal_min_confidence=reversal_min_confidence)
        reference = reference_trades(bars, minutes, signals, rules, costs, instrument, reversal_min_confidence)
        return result, reference

    return _run
