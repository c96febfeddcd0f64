"""Metrics, criteria, Monte Carlo and the report, on small hand-made trade tables."""

from __future__ import annotations

import base64
import math

import numpy as np
import pandas as pd
import pytest

from lab.backtest import (
    BacktestInputError,
    bootstrap_trades,
    breakdown,
    compute_metrics,
    criteria_passed,
    daily_pnl,
    empty_trades,
    evaluate_criteria,
    max_drawdown_usd,
    monte_carlo_metrics,
    profit_factor,
    run_backtest,
)
from lab.reports.backtest import equity_figure, figure_png, html_report
from lab.config import CriteriaConfig
from lab.strategies import direction_signals
from tests.lab.backtest.helpers import random_probability

NY = "America/New_York"
SESSIONS = pd.DatetimeIndex(["2023-03-01", "2023-03-02", "2023-03-03", "2023-03-06"])


def make_trades(rows):
    """rows: (session, entry HH:MM, pnl, tier, time_of_day, reason)."""
    records = []
    for session, hhmm, pnl, tier, tod, reason in rows:
        entry = pd.Timestamp(f"{session} {hhmm}", tz=NY)
        records.append(dict(
            entry_time=entry, exit_time=entry + pd.Timedelta(minutes=10), side="long", contracts=1,
            entry_price=4000.0, exit_price=4000.0, exit_reason=reason, pnl_usd=pnl, probability=0.65,
            confidence=0.65, confidence_tier=tier, mfe_ticks=4.0, mae_ticks=2.0, bars_held=2,
            resolved_by_minutes=False, session=pd.Timestamp(session), time_of_day=tod,
        ))
    return pd.DataFrame(records)


@pytest.fixture
def trades():
    return make_trades([
        ("2023-03-01", "09:35", 10.0, "full", "first_hour", "target"),
        ("2023-03-01", "12:00", -5.0, "half", "midday", "stop"),
        ("2023-03-02", "15:10", 20.0, "full", "last_hour", "target"),
        ("2023-03-06", "11:00", -10.0, "half", "midday", "time"),
    ])


def test_compute_metrics_headline_numbers(trades):
    m = compute_metrics(trades, SESSIONS)
    assert m["total_trades"] == 4 and m["win_rate"] == 0.5
    assert m["profit_factor"] == 2.0 and m["total_pnl_usd"] == 15.0
    assert m["max_drawdown_usd"] == 10.0  # equity 10, 5, 25, 15
    assert m["avg_daily_pnl_usd"] == 15.0 / 4  # the idle 2023-03-03 counts as 0
    assert m["sessions"] == 4 and m["trading_days"] == 3 and m["trades_per_day"] == 1.0
    assert m["profitable_days_pct"] == pytest.approx(200.0 / 3)
    assert m["worst_day_usd"] == -10.0 and m["best_day_usd"] == 20.0
    daily = np.array([5.0, 20.0, 0.0, -10.0])
    assert m["sharpe_ratio"] == pytest.approx(daily.mean() / daily.std(ddof=1) * math.sqrt(252))
    assert m["sortino_ratio"] == pytest.approx(daily.mean() / math.sqrt(np.mean(np.minimum(daily, 0) ** 2)) * math.sqrt(252))
    assert m["exit_target_count"] == 2 and m["exit_stop_count"] == 1 and m["exit_time_count"] == 1
    assert m["tier_full_trades"] == 2 and m["tier_full_win_rate"] == 1.0 and m["tier_half_pnl_usd"] == -15.0
    assert m["tod_midday_trades"] == 2 and m["tod_last_hour_pnl_usd"] == 20.0
    assert m["mean_mfe_ticks"] == 4.0 and m["mean_mae_ticks"] == 2.0


def test_compute_metrics_without_trades_is_nan_not_an_error():
    m = compute_metrics(empty_trades(), SESSIONS)
    assert m["total_trades"] == 0 and m["total_pnl_usd"] == 0.0 and m["trades_per_day"] == 0.0
    assert math.isnan(m["win_rate"]) and math.isnan(m["profit_factor"]) and math.isnan(m["sharpe_ratio"])


def test_daily_pnl_fills_idle_sessions_and_refuses_foreign_ones(trades):
    days = daily_pnl(trades, SESSIONS)
    assert days.tolist() == [5.0, 20.0, 0.0, -10.0]
    with pytest.raises(BacktestInputError, match="2023-03-06 which is not among session_dates"):
        daily_pnl(trades, SESSIONS[:3])


def test_profit_factor_edge_cases():
    assert profit_factor([1.0, 2.0]) == math.inf
    assert profit_factor([-1.0]) == 0.0
    assert math.isnan(profit_factor([]))
    assert max_drawdown_usd([-5.0, 10.0]) == 5.0  # the start counts as the first peak


def test_breakdown_lists_every_tier_and_refuses_unknown_columns(trades):
    table = breakdown(trades, "confidence_tier")
    assert list(table.index) == ["full", "half"] and table.loc["half", "trades"] == 2
    assert table.loc["full", "profit_factor"] == math.inf
    assert list(breakdown(trades, "time_of_day").index) == ["first_hour", "midday", "last_hour"]
    with pytest.raises(BacktestInputError, match="breakdown by='weekday' is not one of"):
        breakdown(trades, "weekday")


def test_evaluate_criteria_pass_fail_table(trades):
    m = compute_metrics(trades, SESSIONS)
    table = evaluate_criteria(m, CriteriaConfig())
    assert list(table.columns) == ["level", "criterion", "metric", "comparison", "threshold", "value", "result"]
    result = dict(zip(zip(table["level"], table["metric"]), table["result"]))
    assert result[("minimum", "win_rate")] == "FAIL"  # 0.50 < 0.55
    assert result[("minimum", "profit_factor")] == "PASS"  # 2.0 >= 1.2
    assert result[("minimum", "trades_per_day")] == "FAIL"  # 1.0 < 3
    assert result[("minimum", "worst_day_usd")] == "PASS"  # -10 >= -100
    assert result[("target", "profitable_days_pct")] == "PASS"  # 66.7 % >= 60 %
    assert not criteria_passed(table, "minimum")
    loose = CriteriaConfig(min_win_rate=0.5, min_trades_per_day=1.0)
    assert criteria_passed(evaluate_criteria(m, loose), "minimum")


def test_evaluate_criteria_nan_fails_and_missing_metric_raises():
    m = compute_metrics(empty_trades(), SESSIONS)
    assert (evaluate_criteria(m).set_index("metric").loc["win_rate", "result"] == "FAIL").all()
    with pytest.raises(BacktestInputError, match="metrics lack 'win_rate'"):
        evaluate_criteria({"profit_factor": 1.0})


def test_bootstrap_trades_is_seeded_and_ordered(trades):
    first = bootstrap_trades(trades["pnl_usd"], n_simulations=500, seed=3)
    again = bootstrap_trades(trades["pnl_usd"], n_simulations=500, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert list(first.columns) == ["p05", "p50", "p95"]
    assert list(first.index) == ["total_pnl_usd", "profit_factor", "max_drawdown_usd"]
    assert (first["p05"] <= first["p50"]).all() and (first["p50"] <= first["p95"]).all()
    assert first.loc["total_pnl_usd", "p05"] >= -40.0 and first.loc["total_pnl_usd", "p95"] <= 80.0
    assert monte_carlo_metrics(first)["mc_total_pnl_usd_p50"] == first.loc["total_pnl_usd", "p50"]


def test_bootstrap_trades_empty_and_invalid():
    assert bootstrap_trades([]).isna().all().all()
    with pytest.raises(BacktestInputError, match="n_simulations = 0 must be >= 1"):
        bootstrap_trades([1.0], n_simulations=0)


def test_report_html_embeds_the_figure_and_the_barrier_sentence(wild_year):
    bars, minutes = wild_year
    window = bars.loc["2023-05-01":"2023-05-31"]
    result = run_backtest(window, direction_signals(random_probability(window, 1)), minutes)
    metrics = compute_metrics(result.trades, result.session_dates)
    page = html_report(
        "May 2023", metrics, criteria=evaluate_criteria(metrics), monte_carlo=bootstrap_trades(result.trades["pnl_usd"]),
        breakdowns={"by confidence tier": breakdown(result.trades, "confidence_tier")}, trades=result.trades,
        diagnostics=result.diagnostics, session_dates=result.session_dates,
    )
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert "Target and stop both inside one 5-minute bar" in page and "FAIL" in page
    png = base64.b64decode(page.split("data:image/png;base64,")[1].split("'")[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_equity_figure_draws_without_trades():
    png = figure_png(equity_figure(empty_trades()))
    assert png[:4] == b"\x89PNG"
