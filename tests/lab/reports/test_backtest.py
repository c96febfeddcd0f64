"""The HTML report reads like a report: a header saying what it is about, integers, money, no -0."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd

from lab.reports.backtest import _format, html_report, report_header
from lab.config import LabConfig


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


def test_format_prints_counts_as_integers_and_money_with_two_decimals():
    assert _format(19428.0, "total_trades") == "19,428"
    assert _format(np.int64(7), "anything") == "7"
    assert _format(3.0, "engine_both_barriers_in_bar") == "3"
    assert _format(-0.0, "total_pnl_usd") == "0.00"
    assert _format(-0.001, "avg_trade_pnl_usd") == "0.00"
    assert _format(-1234.5, "worst_day_usd") == "-1,234.50"
    assert _format(0.123456, "win_rate") == "0.1235"
    assert _format(-0.00001, "sharpe_ratio") == "0"
    assert _format(float("nan"), "profit_factor") == "n/a"


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
    assert parsed.verdict.startswith("Verdict: FAIL")
    assert cells[cells.index("total_trades") + 1] == "12"
    assert cells[cells.index("total_pnl_usd") + 1] == "0.00"


def test_report_criteria_and_monte_carlo_cells_use_the_metric_units():
    criteria = pd.DataFrame([("minimum", "no day loses more than the limit", "worst_day_usd", ">=", -100.0, -0.0, "PASS"),
                             ("minimum", "trades per day", "trades_per_day", ">=", 3.0, 2.5, "FAIL")],
                            columns=["level", "criterion", "metric", "comparison", "threshold", "value", "result"])
    mc = pd.DataFrame({"p05": [-10.5, 0.9], "p50": [1.0, 1.1], "p95": [20.0, 1.3]},
                      index=pd.Index(["total_pnl_usd", "profit_factor"]))
    cells = _parse(html_report("t", {}, criteria=criteria, monte_carlo=mc)).cells
    row = cells.index("no day loses more than the limit")
    assert cells[row + 3: row + 5] == ["-100.00", "0.00"]
    mc_row = cells.index("total_pnl_usd")
    assert cells[mc_row + 1: mc_row + 4] == ["-10.50", "1.00", "20.00"]
    pf_row = cells.index("profit_factor")
    assert cells[pf_row + 1: pf_row + 4] == ["0.9", "1.1", "1.3"]


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


def test_html_report_states_the_fill_rule_line_after_the_header():
    line = "Fill rule: through (1 tick); under touch: 412 trades, $1,234.50, profit factor 1.31"
    page = html_report("Validation backtest", {"total_trades": 12.0}, header={"strategy": "direction"}, fill_line=line)
    assert f"<p>{line}</p>" in page and page.index(line) < page.index("Metrics")
    assert "Fill rule" not in html_report("Validation backtest", {"total_trades": 12.0})
