"""The Phase 4 analysis functions on hand-made trades and bars, where every number can be checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.study.analysis import (SWEEP_THRESHOLDS, analysis_summary, auc_overfitting, by_month, by_volatility_regime,
                          feature_correlations, stability, threshold_sweep, trailing_volatility, winners_and_losers)
from lab.errors import LabError

TZ = "America/New_York"


def _trades(entries: list[str], pnl: list[float], **columns) -> pd.DataFrame:
    return pd.DataFrame({"entry_time": pd.DatetimeIndex(entries).tz_localize(TZ),
                         "exit_time": pd.DatetimeIndex(entries).tz_localize(TZ) + pd.Timedelta(minutes=10),
                         "pnl_usd": pnl, **columns})


def test_sweep_thresholds_are_the_plans_0_50_to_0_75_by_0_01():
    assert len(SWEEP_THRESHOLDS) == 26 and SWEEP_THRESHOLDS[0] == 0.50 and SWEEP_THRESHOLDS[-1] == 0.75


def test_threshold_sweep_backtests_once_per_threshold_and_measures_each():
    calls = []
    sessions = pd.DatetimeIndex(["2023-01-03", "2023-01-04"])

    def backtest_at(threshold):
        calls.append(threshold)
        if threshold > 0.6:
            return _trades([], [], session=[], exit_reason=[]), sessions
        return _trades(["2023-01-03 10:00", "2023-01-04 11:00"], [10.0, -5.0], session=sessions,
                       exit_reason=["target", "stop"]), sessions

    sweep = threshold_sweep(backtest_at, [0.55, 0.65])
    assert calls == [0.55, 0.65]
    first, second = sweep.iloc[0], sweep.iloc[1]
    assert (first["trades"], first["win_rate"], first["profit_factor"], first["total_pnl_usd"]) == (2, 0.5, 2.0, 5.0)
    assert first["trades_per_day"] == 1.0
    assert second["trades"] == 0 and second["total_pnl_usd"] == 0.0


def test_by_month_and_stability_count_what_each_month_earned():
    trades = _trades(["2023-01-05 10:00", "2023-01-06 10:00", "2023-02-01 10:00"], [4.0, -2.0, -1.0])
    monthly = by_month(trades)
    assert monthly["month"].tolist() == ["2023-01", "2023-02"]
    assert monthly["total_pnl_usd"].tolist() == [2.0, -1.0]
    assert monthly["profit_factor"].tolist() == [2.0, 0.0]
    steady = stability(monthly)
    assert steady["months"] == 2 and steady["profitable_months_share"] == 0.5
    assert steady["monthly_pnl_std_usd"] == pytest.approx(np.std([2.0, -1.0], ddof=1))
    assert steady["worst_month_usd"] == -1.0


def test_trailing_volatility_uses_only_the_past():
    index = pd.date_range("2023-01-03 09:30", periods=300, freq="5min", tz=TZ)
    close = pd.Series(100 + np.cumsum(np.random.default_rng(1).normal(0, 0.1, 300)), index=index)
    bars = pd.DataFrame({"close": close})
    full = trailing_volatility(bars)
    cut = trailing_volatility(bars.iloc[:200])
    pd.testing.assert_series_equal(full.iloc[:200], cut)


def test_by_volatility_regime_labels_a_trade_by_the_bar_closed_before_its_entry():
    index = pd.date_range("2023-01-03 09:30", periods=240, freq="5min", tz=TZ)
    steps = np.r_[np.full(80, 0.001), np.full(80, 0.004), np.full(80, 0.016)] * np.tile([1, -1], 120)
    bars = pd.DataFrame({"close": 100 * np.exp(np.cumsum(steps))}, index=index)
    trades = _trades([str(index[70].tz_localize(None)), str(index[230].tz_localize(None))], [1.0, -1.0])
    table = by_volatility_regime(trades, bars, lookback_bars=10)
    assert dict(zip(table["volatility_regime"], table["trades"])) == {"1 low": 1, "3 high": 1}


def test_winners_and_losers_split_each_group():
    trades = _trades(["2023-01-03 10:00"] * 3, [5.0, -3.0, 1.0], bars_held=[1, 1, 2])
    table = winners_and_losers(trades, "bars_held")
    one = table[table["bars_held"] == 1].iloc[0]
    assert (one["winners"], one["losers"], one["avg_winner_usd"], one["avg_loser_usd"]) == (1, 1, 5.0, -3.0)
    with pytest.raises(LabError, match="lack the column 'side'"):
        winners_and_losers(trades, "side")


def test_feature_correlations_rank_the_informative_feature_first_and_join_gain():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000).astype(float)
    table = pd.DataFrame({"noise": rng.normal(size=2000), "signal": y + rng.normal(0, 1, 2000), "t": y})
    table.loc[::10, "t"] = np.nan
    importance = pd.DataFrame({"feature": ["noise", "signal"], "gain": [1.0, 9.0], "split": [1, 1]})
    frame = feature_correlations(table, ["noise", "signal"], "t", importance)
    assert frame["feature"].tolist() == ["signal", "noise"]
    assert frame.loc[0, "pearson"] == pytest.approx(np.corrcoef(table.dropna()["signal"], table.dropna()["t"])[0, 1])
    assert frame.loc[0, "gain_rank"] == 1


def test_auc_overfitting_and_summary_put_the_three_aucs_side_by_side():
    folds = pd.DataFrame({"auc": [0.52, 0.50]})
    frame = auc_overfitting(0.70, 0.55, folds)
    assert frame["auc"].tolist() == [0.70, 0.55, 0.51]
    assert frame["gap_to_train"].tolist() == pytest.approx([0.0, 0.15, 0.19])
    sweep = pd.DataFrame({"threshold": [0.5, 0.6], "trades": [3, 0], "total_pnl_usd": [-2.0, 0.0]})
    correlations = pd.DataFrame({"abs_pearson": [0.019, 0.01]})
    monthly = pd.DataFrame({"total_pnl_usd": [1.0], "win_rate": [0.5]})
    summary = analysis_summary(sweep, monthly, frame, correlations)
    assert summary["sweep_best_threshold"] == 0.6 and summary["sweep_thresholds_with_trades"] == 1
    assert summary["auc_walk_forward"] == 0.51 and summary["max_abs_feature_correlation"] == 0.019
