"""Pictures of the data doctor's findings: one per finding kind, and findings over time (matplotlib, Agg)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lab.data.doctor import FINDING_KINDS, DataReport  # noqa: E402

__all__ = ["finding_figures", "findings_timeline_figure"]

_FLAG = "tab:red"
_OK = "tab:blue"


def _per_session(report: DataReport, column: str, kinds: tuple[str, ...], ylabel: str, title: str,
                 threshold: float | None = None) -> plt.Figure:
    table = report.sessions
    flagged = {f.session for f in report.findings if f.kind in kinds}
    names = table.index.strftime("%Y-%m-%d")
    colors = np.where(np.isin(names, list(flagged)), _FLAG, _OK)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.scatter(table.index, table[column], s=8, c=colors)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=0.8, label="threshold")
        ax.legend(loc="upper left")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}: {len(flagged)} session(s) flagged (red)")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _shift_figure(report: DataReport) -> plt.Figure:
    profile = report.clock_profile
    fig, ax = plt.subplots(figsize=(9, 3.5))
    x = np.arange(len(profile))
    ax.plot(x, profile["unflagged"], color=_OK, label="sessions on the calendar's clock (median)")
    if profile["shifted"].notna().any():
        ax.plot(x, profile["shifted"], color=_FLAG, label="sessions flagged shifted (median)")
    for clock, label in (("09:30", "open"), ("16:00", "close"), ("17:00", "halt 17-18")):
        pos = list(profile.index).index(clock)
        ax.axvline(pos, color="grey", ls=":", lw=0.8)
        ax.text(pos, ax.get_ylim()[1] * 0.95, f" {label}", fontsize=8, va="top")
    ax.set_xticks(x[::4], profile.index[::4], rotation=45)
    ax.set_xlabel("half-hour slot (ET wall clock of the stamps)")
    ax.set_ylabel("share of the day's volume")
    ax.set_title("Volume by clock time: a shifted session's open, close and halt sit an hour off")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def _spike_figure(minutes: pd.DataFrame, report: DataReport) -> plt.Figure:
    spikes = [f for f in report.findings if f.kind == "price_spike"][:4]
    fig, axes = plt.subplots(1, max(len(spikes), 1), figsize=(9, 3.2), squeeze=False)
    for ax, finding in zip(axes[0], spikes):
        stamp = pd.Timestamp(finding.detail[:16]).tz_localize(minutes.index.tz)
        window = minutes.loc[stamp - pd.Timedelta(minutes=30): stamp + pd.Timedelta(minutes=30)]
        ax.vlines(window.index, window["low"], window["high"], color=_OK, lw=1)
        ax.plot(window.index, window["close"], color="black", lw=0.8)
        ax.axvline(stamp, color=_FLAG, ls="--", lw=0.8)
        ax.set_title(f"{stamp:%Y-%m-%d %H:%M}", fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    if not spikes:
        axes[0][0].text(0.5, 0.5, "no price spike", ha="center", va="center", transform=axes[0][0].transAxes)
    fig.suptitle("Price spikes: minute high-low (blue), close (black), the flagged minute (red)")
    fig.tight_layout()
    return fig


def finding_figures(minutes: pd.DataFrame, report: DataReport) -> dict[str, plt.Figure]:
    """One figure per finding kind present in ``report`` (``kind -> Figure``); close them after saving."""
    present = {f.kind for f in report.findings}
    figures: dict[str, plt.Figure] = {}
    share = 1 - report.sessions["minutes_present"] / report.sessions["minutes_expected"]
    for kind in FINDING_KINDS:
        if kind not in present:
            continue
        if kind == "missing_minutes":
            table = report.sessions.assign(missing_share=share)
            figures[kind] = _per_session(DataReport(report.findings, table, report.statistics), "missing_share",
                                         (kind,), "share of regular-session minutes missing", "Missing minutes")
        elif kind == "missing_slots":
            figures[kind] = _per_session(report, "missing_slots", (kind,), "5-minute slots without a minute",
                                         "Missing 5-minute slots")
        elif kind == "shifted_hours":
            figures[kind] = _shift_figure(report)
        elif kind in ("zero_volume", "constant_volume"):
            figures[kind] = _per_session(report, "volume", (kind,), "regular-session volume (contracts)",
                                         kind.replace("_", " ").capitalize())
        elif kind == "stale_prices":
            figures[kind] = _per_session(report, "stale_run_minutes", (kind,), "longest unmoving run (minutes)",
                                         "Stale prices")
        elif kind == "price_spike":
            figures[kind] = _spike_figure(minutes, report)
    return figures


def findings_timeline_figure(findings: pd.DataFrame) -> plt.Figure:
    """Findings per month and kind (stacked bars), from the findings table alone."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    if len(findings) == 0:
        ax.text(0.5, 0.5, "the data doctor found nothing", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    month = pd.to_datetime(findings["session"]).dt.to_period("M").astype(str)
    counts = pd.crosstab(month, findings["kind"])
    counts.plot.bar(stacked=True, ax=ax, width=0.9)
    ax.set_xlabel("month")
    ax.set_ylabel("findings")
    ax.set_title("Data doctor findings per month (see data_findings.csv)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
