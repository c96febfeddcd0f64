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

from lab.backtest.metrics import daily_pnl, equity_curve

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (it costs 0.25 s to import)
    from matplotlib.figure import Figure

    from lab.config import LabConfig

__all__ = ["equity_figure", "figure_png", "html_report", "barrier_sentence", "report_header"]


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
    from matplotlib.backends.backend_agg import FigureCanvasAgg

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


_COUNT_SUFFIXES = ("trades", "sessions", "days", "contracts", "bars", "rows", "count", "trials")


def _format(value: object, name: str = "") -> str:
    """One cell: money (``*_usd``) with two decimals, counts as integers, no ``-0``.

    ``name`` is the metric or column the value belongs to; whole numbers whose name says they
    count something (``trades``, ``sessions``, ``engine_*`` counters ...) print without decimals.
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,d}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        key = name.lower()
        if key.endswith("_usd"):
            text = f"{value:,.2f}"
            return "0.00" if text in ("-0.00",) else text
        if value.is_integer() and (key.endswith(_COUNT_SUFFIXES) or key.startswith(("engine_", "n_"))):
            return f"{int(value):,d}"
        if abs(value) >= 1000:
            return f"{value:,.2f}"
        text = f"{value:,.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return html.escape(str(value))


def _table(frame: pd.DataFrame, index: bool = True) -> str:
    head = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    rows = ["<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    # Metric and Monte Carlo tables name their unit in the row (``total_pnl_usd``); others in the column.
    by_row = list(frame.columns) == ["value"] or str(frame.index.name or "") == "bootstrap"
    for key, row in frame.iterrows():
        cells = ([f"<th>{_format(key)}</th>"] if index else [])
        for column, v in row.items():
            css = html.escape(str(v)).lower() if v in ("PASS", "FAIL") else ""
            name = str(key) if by_row else str(column)
            if column in ("threshold", "value") and "metric" in row.index:  # criteria: the row names the metric
                name = str(row["metric"])
            cells.append(f'<td class="{css}">{_format(v, name)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


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
    from lab.strategies import entry_rule_text, strategy_exits  # lazy: lab.strategies imports lab.backtest

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


def _header(header: Mapping[str, str], verdict: str | None) -> str:
    parts = []
    if verdict:
        css = "pass" if verdict.upper().startswith("PASS") else "fail"
        parts.append(f"<p class='verdict {css}'>Verdict: {html.escape(verdict)}</p>")
    if header:
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td class='about'>{html.escape(str(v))}</td></tr>"
                       for k, v in header.items())
        parts.append(f"<table class='about'>{rows}</table>")
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.pass{background:#d8f5d8}td.fail{background:#f8d8d8}img{max-width:100%}
table.about th{text-align:left}td.about{text-align:left;font-family:ui-monospace,monospace;font-size:0.9em}
p.verdict{font-size:1.4em;font-weight:bold;padding:0.4em 0.8em;display:inline-block}
p.verdict.pass{background:#d8f5d8}p.verdict.fail{background:#f8d8d8}
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
    fill_line: str | None = None,
) -> str:
    """A self-contained HTML page: metrics, criteria, Monte Carlo, breakdowns, figures, trades.

    Parameters
    ----------
    title : str
        Page title.
    metrics : mapping
        From :func:`lab.backtest.compute_metrics`.
    criteria, monte_carlo : pandas.DataFrame, optional
        From :func:`lab.backtest.evaluate_criteria` and :func:`lab.backtest.bootstrap_trades`.
    breakdowns : mapping of str to DataFrame, optional
        Titled tables, e.g. ``{"by confidence tier": breakdown(trades, "confidence_tier")}``.
    trades : pandas.DataFrame, optional
        Drawn as the equity/drawdown figure (unless ``figures`` has one) and listed (first
        ``max_trade_rows`` rows).
    figures : mapping of str to bytes, optional
        Titled PNG images to embed.
    diagnostics : mapping, optional
        ``BacktestResult.diagnostics``: adds the both-barriers sentence.
    session_dates : array-like, optional
        With ``trades``: adds the worst five sessions.
    max_trade_rows : int, default 200
        Rows of the trade list shown.
    header : mapping of str to str, optional
        What the page is about, shown first: model name, version and alias, the run ids of tune,
        walk-forward and backtest, data source and digest, windows, rules and costs (see
        :func:`report_header`).
    verdict : str, optional
        The final evaluation's verdict, shown above everything (``PASS ...`` or ``FAIL ...``).
    fill_line : str, optional
        The fill rule and what the other one makes (:meth:`lab.backtest.FillSensitivity.line`).

    Returns
    -------
    str
        The HTML document.
    """
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             _header(header or {}, verdict)] + ([f"<p>{html.escape(fill_line)}</p>"] if fill_line else [])
    if diagnostics is not None:
        parts.append(f"<p>{html.escape(barrier_sentence(diagnostics))}</p>")
    if criteria is not None:
        parts.append("<h2>Success criteria</h2>" + _table(criteria, index=False))
    metric_frame = pd.DataFrame({"value": list(metrics.values())}, index=pd.Index(list(metrics), name="metric"))
    parts.append("<h2>Metrics</h2>" + _table(metric_frame))
    if monte_carlo is not None:
        mc = monte_carlo.copy()
        mc.index.name = "bootstrap"
        parts.append("<h2>Monte Carlo bootstrap</h2>" + _table(mc))
    for name, frame in (breakdowns or {}).items():
        parts.append(f"<h2>{html.escape(name)}</h2>" + _table(frame))
    images = dict(figures or {})
    if trades is not None and not images:
        images["Equity and drawdown"] = figure_png(equity_figure(trades))
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    if trades is not None and session_dates is not None and len(trades):
        worst = daily_pnl(trades, session_dates).nsmallest(5).to_frame()
        worst.index = worst.index.strftime("%Y-%m-%d")
        worst.index.name = "session"
        parts.append("<h2>Worst sessions</h2>" + _table(worst))
    if trades is not None:
        shown = trades.head(max_trade_rows).copy()
        for column in ("entry_time", "exit_time"):
            if column in shown.columns:
                shown[column] = [t.isoformat() for t in shown[column]]
        if "session" in shown.columns:
            shown["session"] = pd.DatetimeIndex(shown["session"]).strftime("%Y-%m-%d")
        parts.append(f"<h2>Trades (first {len(shown)} of {len(trades)})</h2>" + _table(shown, index=False))
    parts.append("</body></html>")
    return "".join(parts)
