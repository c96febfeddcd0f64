"""Pictures of the Phase 4 analysis: the threshold sweep and the month / regime breakdowns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["threshold_sweep_figure", "group_pnl_figure"]


def threshold_sweep_figure(sweep: pd.DataFrame, configured: float | None = None) -> Figure:
    """Win rate, profit factor, trades per day and P&L (USD) against the entry threshold.

    ``configured`` (the ``[rules] entry_threshold`` in force) is marked on every panel; points
    without trades are left out of the win-rate and profit-factor panels.
    """
    fig = Figure(figsize=(10, 7))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    traded = sweep[sweep["trades"] > 0]
    panels = (("win_rate", "win rate", traded, 0.5), ("profit_factor", "profit factor", traded, 1.0),
              ("trades_per_day", "trades per day", sweep, None), ("total_pnl_usd", "P&L (USD)", sweep, 0.0))
    for ax, (column, label, frame, reference) in zip(axes, panels):
        values = frame[column].replace([np.inf, -np.inf], np.nan)
        ax.plot(frame["threshold"], values, "o-", color="tab:blue", markersize=3)
        if reference is not None:
            ax.axhline(reference, color="grey", lw=0.8, ls="--")
        if configured is not None:
            ax.axvline(configured, color="tab:red", lw=0.8, label=f"configured {configured:.2f}")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    for ax in axes[2:]:
        ax.set_xlabel("entry threshold (P(up) for a long; 1 - it for a short)")
    fig.suptitle("Threshold sweep on the validation window (every point counted as a trial)")
    fig.tight_layout()
    return fig


def group_pnl_figure(table: pd.DataFrame, group: str, title: str) -> Figure:
    """P&L (USD) per group as bars, each labelled with its trades and win rate."""
    fig = Figure(figsize=(max(5, 0.6 * len(table) + 3), 3.8))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    if len(table):
        labels = table[group].astype(str).tolist()
        pnl = table["total_pnl_usd"].to_numpy(float)
        colours = ["tab:green" if v > 0 else "tab:red" for v in pnl]
        ax.bar(labels, pnl, color=colours)
        for x, (value, trades, win) in enumerate(zip(pnl, table["trades"], table["win_rate"])):
            ax.annotate(f"{int(trades):,} tr\n{win:.0%} won", (x, value), ha="center",
                        va="bottom" if value >= 0 else "top", fontsize=7)
        ax.tick_params(axis="x", rotation=45 if len(table) > 6 else 0, labelsize=8)
    else:
        ax.text(0.5, 0.5, "no trades", ha="center", va="center", transform=ax.transAxes)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_ylabel("P&L (USD)")
    ax.set_title(title)
    fig.tight_layout()
    return fig
