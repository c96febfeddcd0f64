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

__all__ = ["equity_figure", "figure_png", "html_report", "barrier_sentence"]


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


def _format(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.2f}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame, index: bool = True) -> str:
    head = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    rows = ["<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for key, row in frame.iterrows():
        cells = ([f"<th>{_format(key)}</th>"] if index else []) + [
            f'<td class="{html.escape(str(v)).lower() if v in ("PASS", "FAIL") else ""}">{_format(v)}</td>' for v in row
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.pass{background:#d8f5d8}td.fail{background:#f8d8d8}img{max-width:100%}
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

    Returns
    -------
    str
        The HTML document.
    """
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
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
