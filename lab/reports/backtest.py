"""Pictures and a self-contained HTML page of a backtest (no files, no global matplotlib state).

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly (pyplot is
never imported, so the caller's backend is untouched); PNG bytes are embedded in the HTML as
base64, so the page needs nothing beside it.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import TYPE_CHECKING, Mapping

import numpy as np
import pandas as pd

from lab.backtest.metrics import TRADING_DAYS_PER_YEAR, daily_pnl, equity_curve
from lab.strategies import entry_rule_text, strategy_exits

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (it costs 0.25 s to import)
    from matplotlib.figure import Figure

    from lab.config import LabConfig

__all__ = ["equity_figure", "figure_png", "html_report", "barrier_sentence", "report_header", "figure_name",
           "format_figure", "drawdown_percent"]


def equity_figure(trades: pd.DataFrame, title: str = "Equity and drawdown") -> Figure:
    """Cumulative P&L (USD) by exit time above its drawdown from the running peak (USD).

    Parameters
    ----------
    trades : pandas.DataFrame
        A trades table (``exit_time``, ``pnl_usd``).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Attached to an Agg canvas; render it with :func:`figure_png`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy: matplotlib, only to draw
    from matplotlib.figure import Figure  # heavy: matplotlib, only to draw

    fig = Figure(figsize=(10, 6), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    equity = equity_curve(trades)
    if len(equity):
        times = equity.index.tz_localize(None)
        values = equity.to_numpy()
        drawdown = np.maximum.accumulate(np.maximum(values, 0.0)) - values
        top.step(times, values, where="post", color="tab:blue", linewidth=1.2)
        bottom.fill_between(times, -drawdown, 0.0, step="post", color="tab:red", alpha=0.4)
    else:
        top.text(0.5, 0.5, "no trades", ha="center", va="center", transform=top.transAxes)
    top.axhline(0.0, color="grey", linewidth=0.6)
    top.set_ylabel("cumulative P&L (USD)")
    top.set_title(title)
    top.grid(alpha=0.3)
    bottom.set_ylabel("drawdown (USD)")
    bottom.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy: matplotlib, only to draw

    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def barrier_sentence(diagnostics: Mapping[str, int]) -> str:
    """One sentence on bars where the target and the stop both lay inside one 5-minute bar."""
    both = int(diagnostics.get("both_barriers_in_bar", 0))
    return (
        f"Target and stop both inside one 5-minute bar: {both} time(s); the 1-minute bars showed the "
        f"target first {int(diagnostics.get('resolved_by_minutes_target', 0))}, the stop first "
        f"{int(diagnostics.get('resolved_by_minutes_stop', 0))} (of which "
        f"{int(diagnostics.get('same_minute_stop', 0))} with both inside one minute: stop taken); "
        f"without usable 1-minute bars (stop taken): {int(diagnostics.get('unresolved_stop', 0))}."
    )


def report_header(
    config: "LabConfig",
    *,
    runs: Mapping[str, str],
    data_source: str,
    digest: str,
    model: str | None = None,
    window: str | None = None,
    ticket: str | None = None,
) -> dict[str, str]:
    """What a report is about, in the order a reader asks: model, runs, data, windows, rules, costs.

    Parameters
    ----------
    config : LabConfig
        The configuration the backtest ran under (its windows, rules, costs and strategy).
    runs : mapping of str to str
        Role -> MLflow run id (``tune``, ``walk-forward``, ``backtest`` ...); empty ids are left out.
    data_source, digest : str
        The minute file and the dataset digest the tables came from.
    model : str, optional
        Registered model name, version and alias (``mes-scalper v3 @champion``).
    window : str, optional
        The dates this report covers (``2023-01-01..2023-12-31``).
    ticket : str, optional
        The final evaluation's ticket (market and dates).
    """
    rules, costs, windows = config.rules, config.costs, config.windows
    out: dict[str, str] = {}
    if model:
        out["model"] = model
    for role, run_id in runs.items():
        if run_id:
            out[f"{role} run"] = run_id
    out["data"] = f"{data_source} (instrument {config.data.instrument})"
    out["dataset digest"] = digest
    if window:
        out["window of this report"] = window
    out["windows"] = f"train {windows.train}, validation {windows.validation}, test {windows.test} (held out)"
    out["strategy"] = config.strategy.name

    exits = strategy_exits(config.strategy, rules)
    out["rules"] = (
        f"{entry_rule_text(config.strategy, rules)}; target {exits.profit_target_ticks:g} ticks, stop "
        f"{exits.stop_loss_ticks:g} ticks, time stop {exits.time_stop_bars} bars; no entry in the last "
        f"{rules.last_entry_minutes_before_close} min, "
        f"flat {rules.flatten_minutes_before_close} min before the close; daily loss limit "
        f"${rules.daily_loss_limit_usd:,.2f}; {rules.pause_minutes} min pause after "
        f"{rules.pause_after_consecutive_losses} losses in a row"
    )
    out["costs"] = (
        f"${costs.commission_per_contract_usd:,.2f} per contract round trip; slippage "
        f"{costs.entry_slippage_ticks:g} tick(s) on entry, {costs.exit_slippage_ticks:g} tick(s) on stop, time and "
        f"flatten exits (targets are limit fills)"
    )
    if ticket:
        out["ticket"] = ticket
    return out


# -- what every figure is called and means ------------------------------------------------------

#: Units a figure is shown in: ``usd`` ($1,234.50), ``fraction`` (0.552 shown as 55.2 %), ``pct``
#: (already in percent), ``count``, ``ratio`` (two decimals), ``score`` (three), ``ticks``, ``bars``, ``number``.
_FIGURES: dict[str, tuple[str, str, str]] = {
    "total_pnl_usd": ("net P&L", "usd", "sum of every trade's P&L after commission and slippage"),
    "gross_profit_usd": ("gross profit", "usd", "sum of the winning trades' P&L"),
    "gross_loss_usd": ("gross loss", "usd", "sum of the losing trades' losses (a positive number)"),
    "total_trades": ("trades", "count", "trades closed in the window"),
    "trades_per_day": ("trades a day", "ratio", "trades / sessions of the window (days without a trade count)"),
    "win_rate": ("win rate", "fraction", "share of trades with a P&L above $0"),
    "profit_factor": ("profit factor", "ratio", "gross profit / gross loss; above 1 the winners outweigh the losers"),
    "avg_trade_pnl_usd": ("average trade", "usd", "net P&L / trades"),
    "avg_daily_pnl_usd": ("average day", "usd", "net P&L / sessions (days without a trade count as $0)"),
    "worst_day_usd": ("worst day", "usd", "the lowest P&L of one session"),
    "best_day_usd": ("best day", "usd", "the highest P&L of one session"),
    "profitable_days_pct": ("profitable days", "pct", "share of the sessions with a trade that ended above $0"),
    "max_drawdown_usd": ("max drawdown", "usd",
                         "largest fall of the cumulative P&L from its running peak (the start counts as $0)"),
    "sharpe_ratio": ("Sharpe ratio, annualised", "ratio",
                     "mean daily P&L / standard deviation of daily P&L (every session, $0 without trades) x sqrt(252)"),
    "sortino_ratio": ("Sortino ratio, annualised", "ratio",
                      "mean daily P&L / root mean square of the losing days' P&L (over all sessions) x sqrt(252)"),
    "sessions": ("sessions", "count", "trading sessions in the window, traded or not"),
    "trading_days": ("days with a trade", "count", "sessions with at least one trade"),
    "mean_mfe_ticks": ("mean best excursion", "ticks", "average of the most a trade was in profit before its exit"),
    "mean_mae_ticks": ("mean worst excursion", "ticks", "average of the most a trade was in loss before its exit"),
    "avg_bars_held": ("average holding", "bars", "5-minute bars a trade was open, the entry bar counting as 1"),
    "resolved_by_minutes_count": ("exits decided by 1-minute bars", "count",
                                  "trades whose target and stop both lay inside one 5-minute bar, ordered by its minutes"),
    "daily_pnl_skewness": ("skew of daily P&L", "ratio", "third standardised moment of the sessions' P&L (0: symmetric)"),
    "daily_pnl_kurtosis": ("kurtosis of daily P&L", "ratio", "fourth standardised moment of the sessions' P&L (normal: 3)"),
    "trials_on_validation": ("evaluations on the validation window", "count",
                             "every look at this market's validation window so far, this run included"),
    "deflated_sharpe_prob": ("deflated Sharpe probability", "fraction",
                             "probability the Sharpe ratio beats the best of that many tries by luck alone"),
    "bars": ("bars", "count", "5-minute bars the backtest walked"),
}
_ENGINE: dict[str, tuple[str, str]] = {
    "both_barriers_in_bar": ("target and stop in one bar", "target and stop both inside one 5-minute bar"),
    "resolved_by_minutes_target": ("... target first by minutes", "of those, the 1-minute bars showed the target first"),
    "resolved_by_minutes_stop": ("... stop first by minutes",
                                 "of those, the 1-minute bars showed the stop first (or a stop gap)"),
    "same_minute_stop": ("... both in one minute", "of those, both inside one 1-minute bar: the stop was taken"),
    "unresolved_stop": ("... no 1-minute bars", "of those, no usable 1-minute bars: the stop was taken"),
    "refused_after_last_entry": ("signals too late to enter", "signals refused: the entry bar was after the last-entry time"),
    "refused_daily_loss_limit": ("signals after the loss limit", "signals refused: the session's loss limit had been reached"),
    "refused_loss_pause": ("signals in a loss pause", "signals refused: pause after consecutive losses"),
    "ignored_in_position": ("signals while in a position", "signals ignored: a position was already open (no pyramiding)"),
    "gap_stop": ("stops filled on a gap", "stops filled at a bar's open that gapped through the stop"),
    "daily_loss_limit_hits": ("days the loss limit was hit", "sessions on which the daily loss limit was reached"),
    "loss_pauses": ("loss pauses", "pauses started after consecutive losses"),
    "bars": ("bars", "5-minute bars the backtest walked"),
}
_MODEL: dict[str, tuple[str, str, str]] = {
    "auc": ("AUC", "score", "probability a random positive is ranked above a random negative (0.5: no skill)"),
    "accuracy": ("accuracy", "fraction", "share of labels predicted right at P = 0.5"),
    "log_loss": ("log loss", "score", "mean negative log-likelihood of the labels (lower is better)"),
    "brier_score": ("Brier score", "score", "mean squared error of the probabilities (lower is better)"),
    "ece": ("calibration error", "score", "mean gap between predicted probability and observed rate over 10 bins"),
}
_STATISTICS = {"total_pnl_usd": "net P&L", "profit_factor": "profit factor", "max_drawdown_usd": "max drawdown"}
_GROUPS = {"full": "full size", "half": "half size", "first_hour": "first hour", "midday": "midday",
           "last_hour": "last hour"}


def figure_name(metric: str) -> tuple[str, str, str]:
    """``(plain name, unit, one-line definition)`` of a logged metric (as :func:`html_report` shows it).

    >>> figure_name("profit_factor")[0]
    'profit factor'
    >>> figure_name("engine_gap_stop")[1]
    'count'
    """
    if metric in _FIGURES:
        return _FIGURES[metric]
    if metric.startswith("engine_") and metric[7:] in _ENGINE:
        return (_ENGINE[metric[7:]][0], "count", _ENGINE[metric[7:]][1])
    if metric.startswith("exit_") and metric.endswith("_count"):
        reason = metric[5:-6]
        return (f"{reason} exits", "count", f"trades closed by the {reason} exit")
    if metric.startswith("mc_"):
        for stat, plain in _STATISTICS.items():
            if metric.startswith(f"mc_{stat}_p"):
                q = metric.rsplit("_p", 1)[1]
                unit = "usd" if stat.endswith("_usd") else "ratio"
                return (f"Monte Carlo {plain}, {int(q)}th percentile", unit,
                        f"{int(q)} % of 1,000 resampled trade sequences did worse or equal")
    for prefix, what in (("tier_", "confidence tier"), ("tod_", "time of day")):
        if metric.startswith(prefix):
            for group, plain in _GROUPS.items():
                for field, (label, unit) in {"trades": ("trades", "count"), "win_rate": ("win rate", "fraction"),
                                             "pnl_usd": ("net P&L", "usd")}.items():
                    if metric == f"{prefix}{group}_{field}":
                        return (f"{plain}: {label}", unit, f"{label} of the trades in the {plain} {what}")
    role, _, kind = metric.partition("_")
    if kind in _MODEL:
        plain, unit, definition = _MODEL[kind]
        return (f"{role} model {plain}", unit, f"on the window's labelled bars: {definition}")
    return (metric.replace("_", " "), "number", "")


def _words_for(metric: str, value: float) -> str | None:
    """A missing or infinite value said in words, or None for a finite one."""
    if math.isinf(value):
        if "profit_factor" in metric:
            return "no losing trade" if value > 0 else "no winning trade"
        return "unbounded" if value > 0 else "unbounded (negative)"
    if math.isnan(value):
        if "profit_factor" in metric or metric.endswith(("win_rate", "avg_trade_pnl_usd", "avg_pnl_usd", "mfe_ticks",
                            "mae_ticks", "bars_held")):
            return "no trades"
        if metric.endswith(("sharpe_ratio", "sortino_ratio", "skewness", "kurtosis")):
            return "not defined (fewer than 2 sessions, or no spread of daily P&L)"
        if metric.endswith("profitable_days_pct"):
            return "no day with a trade"
        if metric.endswith(("trades_per_day", "worst_day_usd", "best_day_usd", "avg_daily_pnl_usd")):
            return "no sessions"
        return "not measured"
    return None


def _money(value: float) -> str:
    text = f"${abs(value):,.2f}"
    return "$0.00" if text == "$0.00" else (f"-{text}" if value < 0 else text)


def format_figure(value: object, metric: str) -> str:
    """One figure in its unit, with words for what a number cannot say.

    >>> format_figure(-111.784, "worst_day_usd"), format_figure(0.5523, "win_rate")
    ('-$111.78', '55.2 %')
    >>> format_figure(float("inf"), "profit_factor"), format_figure(float("nan"), "win_rate")
    ('no losing trade', 'no trades')
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return html.escape(str(value))
    value = float(value)
    words = _words_for(metric, value)
    if words is not None:
        return words
    unit = figure_name(metric)[1]
    if unit == "usd":
        return _money(value)
    if unit == "fraction":
        return f"{value * 100:.1f} %"
    if unit == "pct":
        return f"{value:.1f} %"
    if unit == "count" or (unit == "number" and value.is_integer()):
        return f"{int(round(value)):,d}"
    if unit == "ticks":
        return f"{value:,.2f} ticks"
    if unit == "bars":
        return f"{value:,.2f} bars"
    if unit in ("ratio", "score"):  # scores of a model: three decimals (AUC 0.512)
        text = f"{value:,.2f}" if unit == "ratio" else f"{value:,.3f}"
        return "0" if text.strip("-0.") == "" else text
    return _plain_number(value)


def _plain_number(value: float) -> str:
    text = f"{value:,.2f}" if abs(value) >= 10 else f"{value:,.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "", "-0.00", "0.00") else text


def _format(value: object, name: str = "") -> str:
    """One cell of a plain table: a named metric in its unit; otherwise counts as integers, no ``-0``."""
    if name and name in _FIGURES or name.endswith("_usd"):
        return format_figure(value, name)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,d}"
    if isinstance(value, (float, np.floating)):
        words = _words_for(name, float(value))
        if words is not None:
            return words
        if float(value).is_integer() and name.lower().endswith(_COUNT_SUFFIXES):
            return f"{int(value):,d}"
        return _plain_number(float(value))
    return html.escape(str(value))


_COUNT_SUFFIXES = ("trades", "sessions", "days", "contracts", "bars", "rows", "count", "trials", "held", "points")


# -- HTML pieces ----------------------------------------------------------------------------------


def _cell(text: str, tag: str = "td", title: str = "", css: str = "") -> str:
    attributes = (f" title='{html.escape(title, quote=True)}'" if title else "") + (f" class='{css}'" if css else "")
    return f"<{tag}{attributes}>{text}</{tag}>"


def _rows_table(head: list[str], rows: list[list[str]], css: str = "") -> str:
    """A table from already formatted (escaped) cells; the first cell of each row is a header cell."""
    out = ["<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(row) + "</tr>" for row in rows]
    return f"<table class='{css}'>" + "".join(out) + "</table>" if css else "<table>" + "".join(out) + "</table>"


def _figures_table(metrics: Mapping[str, float], names: list[str]) -> str:
    """Figure | value | what it is: one row a metric, the definition also as the name's hover text."""
    rows = []
    for name in names:
        plain, _, definition = figure_name(name)
        rows.append([_cell(html.escape(plain), "th", definition or name),
                     _cell(format_figure(metrics[name], name), title=name),
                     _cell(html.escape(definition), css="why")])
    return _rows_table(["figure", "value", "what it is"], rows, css="figures")


def _verdict_text(verdict: str, criteria: pd.DataFrame | None) -> str:
    """The banner: the verdict and, from the criteria, which ones decided it."""
    if criteria is None or not len(criteria):
        return verdict
    minimum = criteria[criteria["level"] == "minimum"]
    target = criteria[criteria["level"] == "target"]
    failed = list(minimum.loc[minimum["result"] != "PASS", "criterion"])
    met = int((target["result"] == "PASS").sum())
    if failed:
        return (f"{verdict}: {len(failed)} of {len(minimum)} minimum criteria missed ({', '.join(failed)}); "
                f"{met} of {len(target)} targets met")
    return f"{verdict}: every minimum criterion met; {met} of {len(target)} targets met"


def _criteria_table(criteria: pd.DataFrame) -> str:
    rows = []
    for row in criteria.itertuples(index=False):
        plain, _, definition = figure_name(row.metric)
        css = "pass" if row.result == "PASS" else "fail"
        rows.append([_cell(html.escape(str(row.level)), "th"),
                     _cell(html.escape(str(row.criterion)), title=definition, css="text"),
                     _cell(f"{html.escape(str(row.comparison))} {format_figure(row.threshold, row.metric)}"),
                     _cell(format_figure(row.value, row.metric), title=f"{plain}: {definition}"),
                     _cell(html.escape(str(row.result)), css=css)])
    return _rows_table(["level", "criterion", "needs", "measured", "result"], rows)


def drawdown_percent(trades: pd.DataFrame) -> float:
    """The largest drawdown as a percent of the cumulative P&L peak it fell from (NaN: no peak above $0).

    >>> drawdown_percent(pd.DataFrame({"exit_time": pd.date_range("2023-03-01", periods=3, freq="h"),
    ...                                "pnl_usd": [100.0, -25.0, 10.0]}))
    25.0
    """
    return _drawdown_from_peak(trades)[0]


def _drawdown_from_peak(trades: pd.DataFrame) -> tuple[float, float]:
    """(percent, peak in USD) of the largest drawdown; the percent is NaN without a peak above $0."""
    equity = np.concatenate(([0.0], equity_curve(trades).to_numpy()))
    peak = np.maximum.accumulate(equity)
    fall = peak - equity
    worst = int(fall.argmax())
    if fall[worst] > 0 and peak[worst] > 0:
        return float(fall[worst] / peak[worst] * 100.0), float(peak[worst])
    return math.nan, float(peak[worst])


_HEADLINE = ("total_pnl_usd", "total_trades", "trades_per_day", "win_rate", "profit_factor", "avg_trade_pnl_usd",
             "worst_day_usd", "best_day_usd", "profitable_days_pct", "max_drawdown_usd")


def _headline(metrics: Mapping[str, float], trades: pd.DataFrame | None) -> str:
    names = [n for n in _HEADLINE if n in metrics]
    table = _figures_table(metrics, names)
    rows = []
    if "max_drawdown_usd" in metrics and trades is not None:
        pct, peak = _drawdown_from_peak(trades) if len(trades) else (math.nan, 0.0)
        # the peak beside the percent: a fall from a small early peak is a large percent of little
        text = f"{pct:,.1f} % of a {_money(peak)} peak" if math.isfinite(pct) else "no peak above $0 to fall from"
        rows.append([_cell("max drawdown, % of the peak", "th", "the max drawdown as a share of the peak it fell from"),
                     _cell(text), _cell("the max drawdown as a percent of the cumulative P&L peak it fell from",
                                        css="why")])
    if "sharpe_ratio" in metrics:
        sharpe = float(metrics["sharpe_ratio"])
        per_day = sharpe / math.sqrt(TRADING_DAYS_PER_YEAR) if math.isfinite(sharpe) else sharpe
        definition = "mean daily P&L / standard deviation of daily P&L, every session counted ($0 without trades)"
        rows.append([_cell("Sharpe ratio, per day", "th", definition), _cell(format_figure(per_day, "sharpe_ratio")),
                     _cell(html.escape(definition), css="why")])
        rows.append([_cell("Sharpe ratio, annualised", "th", "per day x sqrt(252)"),
                     _cell(format_figure(sharpe, "sharpe_ratio"), title="sharpe_ratio"),
                     _cell(f"the daily Sharpe ratio x sqrt({TRADING_DAYS_PER_YEAR}) (sessions a year)", css="why")])
    extra = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return table.replace("</table>", extra + "</table>")


def _daily_limit_note(trades: pd.DataFrame, session_dates: object, limit: float) -> str:
    """Why a day lost more than the limit: the trade that crossed it ran to its exit. Empty when none did."""
    days = daily_pnl(trades, session_dates)
    beyond = days[days < -limit - 1e-9]
    if not len(beyond):
        return ""
    items, shown = [], 10
    ordered = trades.sort_values("exit_time", kind="stable")
    sessions = pd.DatetimeIndex(ordered["session"]).as_unit("ns")
    for day, total in beyond.iloc[:shown].items():
        pnl = ordered.loc[sessions == day, "pnl_usd"].to_numpy(np.float64)
        running = np.cumsum(pnl)
        k = int(np.argmax(running <= -limit + 1e-9))
        before = running[k - 1] if k else 0.0
        items.append(f"<li>{day:%Y-%m-%d}: {_money(before)} before its trade {k + 1} of {len(pnl)}, which "
                     f"{'lost' if pnl[k] < 0 else 'made'} {_money(abs(pnl[k]))}; the day ended at {_money(total)}</li>")
    return (f"<p class='note'>The daily loss limit stops new entries once a session's realised loss reaches "
            f"{_money(limit)}; it does not close a trade already open, so the trade that crosses the limit runs to "
            f"its target, stop or time exit and its whole loss counts. {len(beyond)} session(s) went beyond "
            f"{_money(-limit)}:</p><ul>" + "".join(items)
            + (f"<li>and {len(beyond) - shown} more (the worst sessions are listed below)</li>" if len(beyond) > shown
               else "") + "</ul>")


_BREAKDOWN_TITLES = {"confidence_tier": "By confidence tier", "time_of_day": "By time of day",
                     "exit_reason": "By exit reason", "side": "By side"}
_BREAKDOWN_COLUMNS = {"trades": ("trades", "total_trades"), "win_rate": ("win rate", "win_rate"),
                      "total_pnl_usd": ("net P&L", "total_pnl_usd"), "avg_pnl_usd": ("average trade", "avg_trade_pnl_usd"),
                      "profit_factor": ("profit factor", "profit_factor")}


def _breakdown_table(frame: pd.DataFrame) -> str:
    """A breakdown by :func:`lab.backtest.breakdown` with plain headers; any other table cell by cell."""
    if not set(frame.columns) <= set(_BREAKDOWN_COLUMNS):
        return _plain_table(frame)
    columns = list(frame.columns)
    head = [str(frame.index.name or "").replace("_", " ")] + [_BREAKDOWN_COLUMNS[c][0] for c in columns]
    rows = []
    for group, row in frame.iterrows():
        cells = [_cell(html.escape(_GROUPS.get(str(group), str(group).replace("_", " "))), "th")]
        for c in columns:
            metric = _BREAKDOWN_COLUMNS[c][1]
            cells.append(_cell(format_figure(row[c], metric), title=figure_name(metric)[2]))
        rows.append(cells)
    return _rows_table(head, rows)


def _plain_table(frame: pd.DataFrame) -> str:
    """Any titled table: headers with spaces for underscores, each cell in the unit its column names."""
    head = [str(frame.index.name or "").replace("_", " ")] + [str(c).replace("_", " ") for c in frame.columns]
    rows = [[_cell(html.escape(str(key)), "th")] + [_cell(_format(v, str(c))) for c, v in row.items()]
            for key, row in frame.iterrows()]
    return _rows_table(head, rows)


def _monte_carlo_table(table: pd.DataFrame) -> str:
    head = ["statistic"] + [f"{int(c[1:])}th percentile" for c in table.columns]
    rows = [[_cell(html.escape(_STATISTICS.get(str(stat), str(stat))), "th", figure_name(str(stat))[2])]
            + [_cell(format_figure(table.loc[stat, c], str(stat))) for c in table.columns] for stat in table.index]
    return _rows_table(head, rows)


def _minute(stamp: object) -> str:
    return "" if pd.isna(stamp) else pd.Timestamp(stamp).strftime("%Y-%m-%d %H:%M")


_TRADE_COLUMNS = (("side", "side"), ("contracts", "contracts"), ("entry_price", "entry price"),
                  ("exit_price", "exit price"), ("exit_reason", "exit reason"), ("pnl_usd", "P&L"),
                  ("probability", "model P"), ("confidence_tier", "size"), ("mfe_ticks", "best ticks"),
                  ("mae_ticks", "worst ticks"), ("bars_held", "bars held"))


def _trades_table(trades: pd.DataFrame) -> str:
    rows = []
    for t in trades.to_dict("records"):
        exit_minute = t.get("exit_minute")
        entry, bar = pd.Timestamp(t["entry_time"]), pd.Timestamp(t["exit_time"])
        known = exit_minute is not None and not pd.isna(exit_minute)
        stamp = pd.Timestamp(exit_minute) if known else bar
        exit_text = f"{stamp:%H:%M}" if stamp.date() == entry.date() else _minute(stamp)  # the date once a row
        if known and stamp != bar:
            exit_text += f" (in the {bar:%H:%M} bar)"
        elif not known and "exit_minute" in t:
            exit_text += " bar (minute unknown)"
        cells = [_cell(_minute(entry), "th"), _cell(html.escape(exit_text), css="text")]
        for column, _ in _TRADE_COLUMNS:
            if column in t:
                value = t[column]
                text = (_money(value) if column == "pnl_usd" else f"{value:.3f}" if column == "probability"
                        else _format(value, column))
                cells.append(_cell(text))
        rows.append(cells)
    head = ["entry (bar start)", "exit (minute of the fill)"] + [label for c, label in _TRADE_COLUMNS if c in trades.columns]
    return _rows_table(head, rows, css="trades")


def _header(header: Mapping[str, str]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td class='about'>{html.escape(str(v))}</td></tr>"
                   for k, v in header.items())
    return f"<table class='about'>{rows}</table>" if rows else ""


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4;text-align:left}td.pass{background:#d8f5d8}td.fail{background:#f8d8d8}img{max-width:100%}
td.about{text-align:left;font-family:ui-monospace,monospace;font-size:0.9em}
td.why{text-align:left;color:#555;font-size:0.9em}td.text{text-align:left}th[title],td[title]{cursor:help}
p.verdict{font-size:1.3em;font-weight:bold;padding:0.4em 0.8em;margin:0.5em 0}
p.verdict.pass{background:#d8f5d8}p.verdict.fail{background:#f8d8d8}p.note{max-width:60em}
table.trades td,table.trades th{font-size:0.85em}table.trades td,table.trades tr+tr th{white-space:nowrap}
"""


def html_report(
    title: str,
    metrics: Mapping[str, float],
    *,
    criteria: pd.DataFrame | None = None,
    monte_carlo: pd.DataFrame | None = None,
    breakdowns: Mapping[str, pd.DataFrame] | None = None,
    trades: pd.DataFrame | None = None,
    figures: Mapping[str, bytes] | None = None,
    diagnostics: Mapping[str, int] | None = None,
    session_dates: object | None = None,
    max_trade_rows: int = 200,
    header: Mapping[str, str] | None = None,
    verdict: str | None = None,
    daily_loss_limit_usd: float | None = None,
    fill_line: str | None = None,
) -> str:
    """A self-contained HTML page a trader reads top down (no network: images are embedded).

    Order: the verdict banner and the criteria table; the headline figures with units (net P&L,
    trades a day, win rate, profit factor, worst day, max drawdown in $ and %, Sharpe per day and
    annualised); the days beyond the daily loss limit and why; what the page is about (``header``);
    the breakdowns by tier, time of day, exit reason and side; Monte Carlo; the equity figure; the
    worst sessions; every other figure; the trades, times to the minute. Each figure has a plain
    name and a one-line definition (beside it and as hover text); infinite and missing values are
    words ("no losing trade", "no trades").

    Parameters
    ----------
    title : str
        Page title.
    metrics : mapping
        From :func:`lab.backtest.compute_metrics` (plus engine counters, model and Monte Carlo
        metrics; see :func:`figure_name`).
    criteria, monte_carlo : pandas.DataFrame, optional
        From :func:`lab.backtest.evaluate_criteria` and :func:`lab.backtest.bootstrap_trades`.
    breakdowns : mapping of str to DataFrame, optional
        ``{"confidence_tier": breakdown(trades, "confidence_tier"), ...}`` (a known grouping
        column gets a plain title, any other key is the title).
    trades : pandas.DataFrame, optional
        Drawn as the equity/drawdown figure (unless ``figures`` has one) and listed (first
        ``max_trade_rows`` rows).
    figures : mapping of str to bytes, optional
        Titled PNG images to embed.
    diagnostics : mapping, optional
        ``BacktestResult.diagnostics``: adds the both-barriers sentence to the exit reasons.
    session_dates : array-like, optional
        With ``trades``: adds the worst five sessions and the days beyond the loss limit.
    max_trade_rows : int, default 200
        Rows of the trade list shown.
    header : mapping of str to str, optional
        What the page is about (see :func:`report_header`).
    verdict : str, optional
        The plan's verdict on ``criteria`` (``PASS-target``, ``PASS-minimum`` or ``FAIL``), shown
        first as a banner with the criteria that decided it.
    daily_loss_limit_usd : float, optional
        The rules' daily loss limit (USD): sessions that lost more are explained.
    fill_line : str, optional
        The fill rule and what the other one makes (:meth:`lab.backtest.FillSensitivity.line`).

    Returns
    -------
    str
        The HTML document.
    """
    metrics = dict(metrics)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if verdict:
        css = "pass" if verdict.upper().startswith("PASS") else "fail"
        parts.append(f"<p class='verdict {css}'>Verdict on the plan's criteria: "
                     f"{html.escape(_verdict_text(verdict, criteria))}</p>")
    if fill_line:
        parts.append(f"<p class='fill-rule'>{html.escape(fill_line)}</p>")
    if criteria is not None:
        parts.append("<h2>Success criteria</h2>" + _criteria_table(criteria))
    headline = [n for n in _HEADLINE if n in metrics]
    if headline:
        parts.append("<h2>Headline figures</h2>" + _headline(metrics, trades))
    if trades is not None and session_dates is not None and daily_loss_limit_usd and len(trades):
        parts.append(_daily_limit_note(trades, session_dates, float(daily_loss_limit_usd)))
    if header:
        parts.append("<h2>About this report</h2>" + _header(header))
    for key, frame in (breakdowns or {}).items():
        parts.append(f"<h2>{html.escape(_BREAKDOWN_TITLES.get(key, key))}</h2>" + _breakdown_table(frame))
        if key == "exit_reason" and diagnostics is not None:
            parts.append(f"<p class='note'>{html.escape(barrier_sentence(diagnostics))}</p>")
    if diagnostics is not None and "exit_reason" not in (breakdowns or {}):
        parts.append(f"<p class='note'>{html.escape(barrier_sentence(diagnostics))}</p>")
    if monte_carlo is not None:
        parts.append("<h2>Monte Carlo: 1,000 resampled trade sequences</h2><p class='note'>Each sequence draws as many "
                     "trades as were made, with replacement, in random order: the spread is the luck of the draw."
                     "</p>" + _monte_carlo_table(monte_carlo))
    images = dict(figures or {})
    if trades is not None and not images:
        images["Equity and drawdown"] = figure_png(equity_figure(trades))
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    if trades is not None and session_dates is not None and len(trades):
        worst = daily_pnl(trades, session_dates).nsmallest(5)
        counts = trades.groupby(pd.DatetimeIndex(trades["session"]).as_unit("ns")).size()
        rows = [[_cell(f"{day:%Y-%m-%d}", "th"), _cell(_money(pnl)), _cell(f"{int(counts.get(day, 0)):,d}")]
                for day, pnl in worst.items()]
        parts.append("<h2>Worst sessions</h2>" + _rows_table(["session", "P&L", "trades"], rows))
    shown = {"total_trades", "profitable_days_pct", *_HEADLINE, "sharpe_ratio"}
    if monte_carlo is not None:
        shown |= {k for k in metrics if k.startswith("mc_")}
    if breakdowns:
        shown |= {k for k in metrics if k.startswith(("tier_", "tod_")) or (k.startswith("exit_") and k.endswith("_count"))}
    others = [k for k in metrics if k not in shown]
    if others:
        parts.append(f"<h2>{'Every other figure' if headline else 'Figures'}</h2>" + _figures_table(metrics, others))
    if trades is not None:
        head = trades.head(max_trade_rows)
        parts.append(f"<h2>Trades (first {len(head)} of {len(trades)})</h2><p class='note'>Times are New York time. "
                     "The exit is the minute of the fill (its date only when it is not the entry's): a target or "
                     "stop reached inside a 5-minute bar shows the 1-minute bar that reached it (the bar it belongs "
                     "to in brackets); a fill at a bar's open shows that open, a time stop the bar's close. "
                     "P&amp;L is after commission and slippage; model P is the model's probability at the signal.</p>"
                     + _trades_table(head))
    parts.append("</body></html>")
    return "".join(parts)
