"""Input contract of run_backtest, the trades table's shape and its CSV form."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest

from lab.backtest import TRADE_COLUMNS, BacktestInputError, ExitParams, empty_trades, engine, run_backtest, trades_to_csv
from lab.backtest.run import engine_params, prepare_arrays
from lab.config import CostsConfig, RulesConfig
from lab.market.instruments import get_instrument
from lab.errors import LabError
from lab.strategies import direction_signals
from tests.lab.backtest.helpers import random_probability
from tests.lab.backtest.synthetic import scenario


@pytest.fixture
def month(wild_year):
    bars, minutes = wild_year
    return bars.loc["2023-06-01":"2023-07-31"], minutes


def test_run_backtest_trades_have_the_contract_columns_and_types(month):
    bars, minutes = month
    trades = run_backtest(bars, direction_signals(random_probability(bars, 1)), minutes).trades
    assert tuple(trades.columns) == TRADE_COLUMNS
    assert str(trades["entry_time"].dt.tz) == "America/New_York" and str(trades["exit_time"].dt.tz) == "America/New_York"
    assert set(trades["side"]) == {"long", "short"} and set(trades["confidence_tier"]) <= {"full", "half"}
    assert set(trades["time_of_day"]) == {"first_hour", "midday", "last_hour"}
    assert trades["contracts"].dtype == np.int64 and trades["resolved_by_minutes"].dtype == bool
    assert (trades["pnl_usd"] == trades["pnl_usd"].round(2)).all()


def test_run_backtest_empty_signals_give_an_empty_table_with_the_columns(month):
    bars, minutes = month
    result = run_backtest(bars, direction_signals(pd.Series(np.nan, index=bars.index)), minutes)
    assert result.trades.empty and tuple(result.trades.columns) == TRADE_COLUMNS
    assert tuple(empty_trades().columns) == TRADE_COLUMNS
    assert len(result.session_dates) == 41 and result.diagnostics["bars"] == len(bars)


def test_run_backtest_session_dates_cover_every_session(month):
    bars, minutes = month
    result = run_backtest(bars, direction_signals(random_probability(bars, 2)), minutes)
    assert result.session_dates.equals(pd.DatetimeIndex(sorted(set(bars["session"])), name="session"))


def test_run_backtest_refuses_misaligned_signals(month):
    bars, minutes = month
    p = random_probability(bars, 3).iloc[:-1]
    with pytest.raises(BacktestInputError, match=r"signals.signal is not aligned to the bars .*reindex"):
        run_backtest(bars, direction_signals(p), minutes)


def test_run_backtest_refuses_missing_columns(month):
    bars, minutes = month
    with pytest.raises(BacktestInputError, match=r"bars lack column\(s\) session_close"):
        run_backtest(bars.drop(columns="session_close"), direction_signals(random_probability(bars, 4)), minutes)


def test_run_backtest_refuses_a_naive_index(month):
    bars, minutes = month
    naive = bars.tz_localize(None)
    signals = direction_signals(pd.Series(0.5, index=naive.index))
    with pytest.raises(BacktestInputError, match="tz-aware DatetimeIndex"):
        run_backtest(naive, signals, minutes)


def test_run_backtest_refuses_unsorted_bars(month):
    bars, minutes = month
    shuffled = bars.iloc[::-1]
    with pytest.raises(BacktestInputError, match="sorted and unique"):
        run_backtest(shuffled, direction_signals(pd.Series(0.5, index=shuffled.index)), minutes)


def test_run_backtest_refuses_bad_exit_parameters(month):
    bars, minutes = month
    signals = dataclasses.replace(direction_signals(random_probability(bars, 5)), exits=ExitParams(6.0, 0.0, 6))
    with pytest.raises(BacktestInputError, match="stop_loss_ticks = 0.0 must be a positive number of ticks"):
        run_backtest(bars, signals, minutes)


def test_run_backtest_errors_are_lab_errors():
    assert issubclass(BacktestInputError, LabError) and issubclass(BacktestInputError, ValueError)


def test_trades_to_csv_writes_iso_times_with_offsets():
    bars, minutes = scenario("2023-07-05", [("10:00", 4000.0, 4000.0, 4000.0, 4000.0), ("10:05", 4000.0, 4002.0, 4000.0, 4002.0)])
    p = pd.Series(np.nan, index=bars.index)
    p.iloc[6] = 0.65  # the 10:00 bar
    trades = run_backtest(bars, direction_signals(p), minutes).trades
    text = trades_to_csv(trades)
    header, row = text.splitlines()[:2]
    assert header.split(",")[:9] == list(TRADE_COLUMNS[:9])
    assert row.startswith("2023-07-05T10:05:00-04:00,2023-07-05T10:05:00-04:00,long,1,4000.25,4001.75,target,6.66,0.65")
    back = pd.read_csv(io.StringIO(text))
    assert pd.to_datetime(back["entry_time"]).iloc[0] == trades["entry_time"].iloc[0]


def test_trades_to_csv_winter_offset_and_missing_columns():
    bars, minutes = scenario("2023-01-05", [("10:00", 4000.0, 4000.0, 4000.0, 4000.0)])
    p = pd.Series(np.nan, index=bars.index)
    p.iloc[6] = 0.9
    text = trades_to_csv(run_backtest(bars, direction_signals(p), minutes).trades)
    assert "2023-01-05T10:05:00-05:00" in text
    with pytest.raises(BacktestInputError, match=r"lacks column\(s\) pnl_usd"):
        trades_to_csv(pd.DataFrame({c: [] for c in TRADE_COLUMNS if c != "pnl_usd"}))


def test_run_backtest_results_stay_intact_when_a_later_call_reuses_the_trades_buffer(wild_year):
    """run_backtest reuses one trades record buffer per thread: each result owns its copies."""
    from lab.backtest import run_backtest
    from lab.strategies import direction_signals
    from tests.lab.backtest.helpers import random_probability

    bars, minutes = wild_year
    may, june = bars.loc["2023-05-01":"2023-05-31"], bars.loc["2023-06-01":"2023-06-30"]
    first = run_backtest(may, direction_signals(random_probability(may, 3)), minutes)
    kept = first.trades.copy(deep=True)
    second = run_backtest(june, direction_signals(random_probability(june, 4)), minutes)
    assert len(first.trades) > 1 and len(second.trades) > 1
    pd.testing.assert_frame_equal(first.trades, kept)


def test_exit_minutes_are_found_in_any_order_of_the_trades_and_lie_inside_the_exit_bar(month):
    bars, minutes = month
    rules = RulesConfig()
    signals = direction_signals(random_probability(bars, 1))
    arrays = prepare_arrays(bars, signals, minutes, rules)
    params = engine_params(rules, CostsConfig(), get_instrument("MES"), 5, signals.exits)
    count, records, _ = engine.simulate(*arrays.kernel_arrays(), params)
    minute_arrays = (arrays.minute_ns, arrays.minute_open, arrays.minute_high, arrays.minute_low)
    in_order, reversed_order = records[:count].copy(), records[:count][::-1].copy()
    engine.fill_exit_minutes(in_order, params, *minute_arrays)
    engine.fill_exit_minutes(reversed_order, params, *minute_arrays)
    assert np.array_equal(in_order["exit_minute_ns"], reversed_order["exit_minute_ns"][::-1])
    inside = records[:count]["exit_minute_ns"] == np.iinfo(np.int64).min  # fills inside a bar, before the search
    found = in_order["exit_minute_ns"][inside]
    assert inside.sum() > 10 and (found >= in_order["exit_ns"][inside]).all()
    assert (found < in_order["exit_ns"][inside] + params.bar_ns).all()
    trades = run_backtest(bars, signals, minutes).trades
    assert (pd.DatetimeIndex(trades["exit_minute"]).asi8 == in_order["exit_minute_ns"]).all()
