"""The HTML report reads like a report: a header saying what it is about, integers, money, no -0."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd

from lab.backtest import bootstrap_trades, breakdown, compute_metrics, evaluate_criteria, monte_carlo_metrics
from lab.backtest.engine import COUNTER_NAMES
from lab.backtest.metrics import verdict
from lab.reports.backtest import _format, drawdown_percent, figure_name, format_figure, html_report, report_header
from lab.config import LabConfig

NY = "America/New_York"
SESSIONS = pd.DatetimeIndex(["2023-03-01", "2023-03-02", "2023-03-03"])


def _trades() -> pd.DataFrame:
    """Five trades on two of three sessions: a bad 2023-03-01 whose last trade crosses the $100 limit."""
    entry = pd.DatetimeIndex(["2023-03-01 10:00", "2023-03-01 10:30", "2023-03-01 11:00", "2023-03-02 10:05",
                              "2023-03-02 14:00"]).tz_localize(NY)
    exit_time = entry.copy()
    exit_minute = entry + pd.to_timedelta([3, 1, 4, 0, 2], unit="min")
    exit_minute = exit_minute.where([True, True, True, False, True])  # one exit minute unknown (no 1-minute bars)
    return pd.DataFrame({
        "entry_time": entry, "exit_time": exit_time, "side": pd.Categorical(["long", "short", "long", "long", "short"]),
        "contracts": [2, 2, 2, 1, 1], "entry_price": [4000.25, 4010.0, 4005.0, 4001.0, 4020.0],
        "exit_price": [3998.0, 4012.25, 4002.75, 4002.5, 4018.5], "pnl_usd": [-24.18, -24.18, -64.18, 6.66, 6.66],
        "exit_reason": pd.Categorical(["stop", "stop", "stop", "target", "target"]),
        "probability": [0.75, 0.25, 0.8, 0.65, 0.35], "confidence": [0.75, 0.75, 0.8, 0.65, 0.65],
        "confidence_tier": pd.Categorical(["full", "full", "full", "half", "half"]),
        "mfe_ticks": [1.0, 0.0, 2.0, 6.0, 6.0], "mae_ticks": [8.0, 8.0, 8.0, 1.0, 2.0], "bars_held": [1, 1, 1, 1, 1],
        "resolved_by_minutes": [False] * 5, "session": pd.DatetimeIndex(["2023-03-01"] * 3 + ["2023-03-02"] * 2),
        "time_of_day": pd.Categorical(["first_hour", "midday", "midday", "first_hour", "last_hour"]),
        "exit_minute": exit_minute,
    })


def _page(trades: pd.DataFrame) -> str:
    metrics = compute_metrics(trades, SESSIONS)
    criteria = evaluate_criteria(metrics)
    return html_report("Validation backtest", metrics, criteria=criteria, verdict=verdict(criteria),
                       monte_carlo=bootstrap_trades(trades["pnl_usd"]), trades=trades, session_dates=SESSIONS,
                       breakdowns={by: breakdown(trades, by) for by in ("confidence_tier", "time_of_day", "exit_reason",
                                                                       "side")},
                       figures={"Equity and drawdown": b"png"}, daily_loss_limit_usd=100.0)


class _Cells(HTMLParser):
    """Collects the text of every <th> and <td>, and the verdict paragraph."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.verdict = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if tag in ("th", "td"):
            self._in, self.cells = tag, self.cells + [""]
        elif tag == "p" and "verdict" in classes:
            self._in = "verdict"

    def handle_endtag(self, tag):
        if tag in ("th", "td", "p"):
            self._in = None

    def handle_data(self, data):
        if self._in in ("th", "td"):
            self.cells[-1] += data
        elif self._in == "verdict":
            self.verdict += data


def _parse(page: str) -> _Cells:
    parser = _Cells()
    parser.feed(page)
    return parser


def test_format_figure_prints_counts_as_integers_money_in_dollars_and_rates_in_percent():
    assert format_figure(19428.0, "total_trades") == "19,428"
    assert _format(np.int64(7), "anything") == "7"
    assert format_figure(3.0, "engine_both_barriers_in_bar") == "3"
    assert format_figure(-0.0, "total_pnl_usd") == "$0.00"
    assert format_figure(-0.001, "avg_trade_pnl_usd") == "$0.00"
    assert format_figure(-1234.5, "worst_day_usd") == "-$1,234.50"
    assert format_figure(0.123456, "win_rate") == "12.3 %"
    assert format_figure(61.25, "profitable_days_pct") == "61.2 %"
    assert format_figure(-0.00001, "sharpe_ratio") == "0"
    assert format_figure(2.456, "profit_factor") == "2.46" and format_figure(24.1, "sharpe_ratio") == "24.10"


def test_format_figure_says_infinite_and_missing_values_in_words():
    assert format_figure(float("inf"), "profit_factor") == "no losing trade"
    assert format_figure(float("nan"), "profit_factor") == "no trades"
    assert format_figure(float("nan"), "win_rate") == "no trades"
    assert format_figure(float("nan"), "sharpe_ratio").startswith("not defined")
    assert format_figure(float("inf"), "mc_profit_factor_p95") == "no losing trade"
    assert _format(float("nan"), "mfe_ticks") == "no trades"


def test_every_metric_of_a_backtest_has_a_plain_name_and_a_definition():
    trades = _trades()
    names = list(compute_metrics(trades, SESSIONS)) + list(monte_carlo_metrics(bootstrap_trades(trades["pnl_usd"])))
    names += [f"engine_{k}" for k in COUNTER_NAMES] + ["direction_auc", "volatility_brier_score",
                                                       "daily_pnl_skewness", "daily_pnl_kurtosis"]
    for name in names:
        plain, unit, definition = figure_name(name)
        assert "_" not in plain.replace("lambda_", "") and definition, name


def test_report_header_names_model_runs_data_windows_rules_and_costs():
    config = LabConfig()
    header = report_header(config, runs={"tune": "abc123", "walk-forward": "", "backtest": "def456"},
                           data_source="data/raw/x.txt", digest="d1g35t", model="mes-scalper v3 @champion",
                           window="2023-01-01..2023-12-31")
    page = html_report("Validation backtest", {"total_trades": 12.0, "total_pnl_usd": -0.0}, header=header,
                       verdict="FAIL: 2 of 4 minimum criteria failed")
    parsed = _parse(page)
    cells = parsed.cells
    for label, value in (("model", "mes-scalper v3 @champion"), ("tune run", "abc123"), ("backtest run", "def456"),
                         ("dataset digest", "d1g35t")):
        assert cells[cells.index(label) + 1] == value
    assert "walk-forward run" not in cells  # empty run ids are left out
    rules = cells[cells.index("rules") + 1]
    assert "target 6 ticks, stop 8 ticks" in rules and "time stop 6 bars" in rules
    assert "$0.84 per contract" in cells[cells.index("costs") + 1]
    assert "test 2024-01-01..2025-12-31" in cells[cells.index("windows") + 1]
    assert parsed.verdict.startswith("Verdict on the plan's criteria: FAIL")
    assert cells[cells.index("trades") + 1] == "12"
    assert cells[cells.index("net P&L") + 1] == "$0.00"


def test_report_criteria_and_monte_carlo_cells_use_the_metric_units():
    criteria = pd.DataFrame([("minimum", "no day loses more than the limit", "worst_day_usd", ">=", -100.0, -0.0, "PASS"),
                             ("minimum", "trades per day", "trades_per_day", ">=", 3.0, 2.5, "FAIL")],
                            columns=["level", "criterion", "metric", "comparison", "threshold", "value", "result"])
    mc = pd.DataFrame({"p05": [-10.5, 0.9], "p50": [1.0, 1.1], "p95": [20.0, 1.3]},
                      index=pd.Index(["total_pnl_usd", "profit_factor"]))
    cells = _parse(html_report("t", {}, criteria=criteria, monte_carlo=mc)).cells
    row = cells.index("no day loses more than the limit")
    assert cells[row + 1: row + 4] == [">= -$100.00", "$0.00", "PASS"]
    assert cells[cells.index("trades per day") + 1: cells.index("trades per day") + 4] == [">= 3.00", "2.50", "FAIL"]
    mc_row = cells.index("net P&L")
    assert cells[mc_row + 1: mc_row + 4] == ["-$10.50", "$1.00", "$20.00"]
    pf_row = cells.index("profit factor")
    assert cells[pf_row + 1: pf_row + 4] == ["0.90", "1.10", "1.30"]


def test_verdict_fails_when_a_minimum_criterion_fails_even_if_every_target_passes():
    from lab.backtest.metrics import evaluate_criteria, verdict

    good = {"win_rate": 0.77, "profit_factor": 2.1, "trades_per_day": 25.0, "worst_day_usd": -90.0,
            "profitable_days_pct": 90.0}
    assert verdict(evaluate_criteria(good)) == "PASS-target"
    assert verdict(evaluate_criteria({**good, "worst_day_usd": -111.78})) == "FAIL"  # the demo's test window
    assert verdict(evaluate_criteria({**good, "trades_per_day": 4.0})) == "PASS-minimum"


def test_report_header_states_the_entry_rule_and_exits_of_the_strategy_traded():
    breakout = LabConfig().replace({"strategy.name": "breakout", "strategy.breakout.profit_target_ticks": 10})
    rules = report_header(breakout, runs={}, data_source="x", digest="d")["rules"]
    assert rules.startswith("long when consolidation score >= 0.6, P(high range) >= 0.5")
    assert "target 10 ticks" in rules and "long at P >=" not in rules
    reversion = LabConfig().replace({"strategy.name": "mean_reversion"})
    rules = report_header(reversion, runs={}, data_source="x", digest="d")["rules"]
    assert "RSI(7) < 30" in rules and "target 4 ticks, stop 4 ticks, time stop 3 bars" in rules
    assert "market exit at the next open once P(high range) >= 0.5" in rules
    direction = report_header(LabConfig(), runs={}, data_source="x", digest="d")["rules"]
    assert direction.startswith("long at P >= 0.60, short at P <= 0.40; 2 contracts at confidence >= 0.70, else 1")


def test_report_opens_with_the_verdict_banner_then_criteria_then_headline_figures_in_units():
    trades = _trades()
    page = _page(trades)
    parsed = _parse(page)
    assert parsed.verdict.startswith("Verdict on the plan's criteria: FAIL: 4 of 4 minimum criteria missed")
    order = [page.index(marker) for marker in ("class='verdict", "<h2>Success criteria", "<h2>Headline figures",
                                               "<h2>By confidence tier", "<h2>By time of day", "<h2>By exit reason",
                                               "<h2>By side", "<h2>Monte Carlo", "<h2>Trades")]
    assert order == sorted(order)
    cells = parsed.cells
    headline = cells.index("net P&L")  # the criteria above name some of the same figures
    value = {label: cells[cells.index(label, headline) + 1] for label in
             ("net P&L", "trades a day", "win rate", "worst day", "max drawdown", "max drawdown, % of the peak",
              "Sharpe ratio, per day", "Sharpe ratio, annualised")}
    assert value["net P&L"] == "-$99.22" and value["trades a day"] == "1.67" and value["win rate"] == "40.0 %"
    assert value["worst day"] == "-$112.54" and value["max drawdown"] == "$112.54"
    assert value["max drawdown, % of the peak"] == "no peak above $0 to fall from"
    sharpe = compute_metrics(trades, SESSIONS)["sharpe_ratio"]
    assert value["Sharpe ratio, annualised"] == format_figure(sharpe, "sharpe_ratio")
    assert value["Sharpe ratio, per day"] == format_figure(sharpe / 252 ** 0.5, "sharpe_ratio")
    assert "title='gross profit / gross loss; above 1 the winners outweigh the losers'" in page  # hover definition
    for raw in ("total_pnl_usd</th>", "sharpe_ratio</th>", ">inf<", ">nan<", "n/a"):
        assert raw not in page


def test_report_says_why_a_day_went_beyond_the_daily_loss_limit():
    page = _page(_trades())
    assert "it does not close a trade already open" in page
    assert "2023-03-01: -$48.36 before its trade 3 of 3, which lost $64.18; the day ended at -$112.54" in page
    calm = _trades().iloc[3:]
    assert "it does not close a trade already open" not in _page(calm)


def test_report_writes_infinite_and_missing_values_as_words():
    winners = _trades().iloc[3:]
    cells = _parse(_page(winners)).cells
    assert cells[cells.index("profit factor", cells.index("net P&L")) + 1] == "no losing trade"
    empty = _trades().iloc[:0]
    metrics = compute_metrics(empty, SESSIONS)
    cells = _parse(html_report("t", metrics, trades=empty, figures={"e": b"png"}, session_dates=SESSIONS,
                               breakdowns={"confidence_tier": breakdown(empty, "confidence_tier")})).cells
    headline = cells.index("net P&L")
    assert cells[cells.index("win rate", headline) + 1] == "no trades"
    assert cells[cells.index("profit factor", headline) + 1] == "no trades"
    tier = cells.index("full size")
    assert cells[tier + 1: tier + 3] == ["0", "no trades"]


def test_report_shows_times_to_the_minute_and_the_exit_minute_inside_the_entry_bar():
    cells = _parse(_page(_trades())).cells
    first = cells.index("2023-03-01 10:00")
    assert cells[first + 1] == "10:03 (in the 10:00 bar)"
    assert cells[cells.index("2023-03-02 10:05") + 1] == "10:05 bar (minute unknown)"
    assert not any(":00-05:00" in c or "T10:" in c for c in cells)  # no ISO seconds and offsets


def test_drawdown_percent_is_measured_from_the_peak_the_fall_started_at():
    trades = pd.DataFrame({"exit_time": pd.date_range("2023-03-01", periods=4, freq="h", tz=NY),
                           "pnl_usd": [200.0, -50.0, 100.0, -150.0]})
    assert drawdown_percent(trades) == 60.0  # from the 250 peak down to 100
    assert np.isnan(drawdown_percent(trades.assign(pnl_usd=[-1.0, -2.0, 0.0, -1.0])))


def test_report_of_other_tables_keeps_every_column_and_skips_an_empty_headline():
    sweep = pd.DataFrame({"threshold": [0.55, 0.6], "trades": [120, 40], "total_pnl_usd": [-12.5, 30.0],
                          "share_of_bars": [0.25, 0.125]})
    page = html_report("Phase 4 analysis", {"sweep_points": 2.0}, breakdowns={"Threshold sweep": sweep.set_index("threshold")})
    cells = _parse(page).cells
    assert "Headline figures" not in page and "<h2>Figures</h2>" in page
    row = cells.index("0.6")
    assert cells[row + 1: row + 4] == ["40", "$30.00", "0.125"] and "share of bars" in cells


def test_html_report_states_the_fill_rule_line():
    line = "Fill rule: through (1 tick); under touch: 412 trades, $1,234.50, profit factor 1.31"
    page = html_report("Validation backtest", {"total_trades": 12.0}, header={"strategy": "direction"}, fill_line=line)
    assert f"<p class='fill-rule'>{line}</p>" in page
    assert "Fill rule" not in html_report("Validation backtest", {"total_trades": 12.0})
