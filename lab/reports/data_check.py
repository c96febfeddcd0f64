"""``lab data check``: read a minute file, run the data doctor, and say what was found.

The command in :mod:`lab.cli` only parses flags and prints; this module reads, checks and
formats. Only rows before the configured test window are read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from lab.config import DateRange, LabConfig
from lab.data.contracts import is_contract_set, stitch_source
from lab.data.doctor import DataReport, diagnose, yearly_median_close
from lab.data.readers import MinuteFile, read_minutes
from lab.data.rolls import read_roll_table, roll_table_path
from lab.market.instruments import instrument_warnings
from lab.market.sessions import regular_sessions
from lab.paths import find_minute_file, raw_dir

__all__ = ["CheckResult", "check_file", "summary_lines", "write_pictures"]


@dataclass
class CheckResult:
    """A checked minute file: what the reader did, the doctor's report, instrument warnings, timings (s)."""

    path: Path
    minute_file: MinuteFile
    report: DataReport
    instrument_warnings: list[str]
    timings_s: dict[str, float] = field(default_factory=dict)


def check_file(name: str, config: LabConfig, tz: str | None = None, on_bad_rows: str = "error",
               exclude: Sequence[DateRange] = (), max_bad_share: float | None = None) -> CheckResult:
    """Read ``name`` (a path, or a bare file name in ``data/raw/``; .txt/.csv/.zip/.gz/.parquet; a
    folder or zip of per-contract files is stitched first, :mod:`lab.data.contracts`)
    before the test window and outside ``exclude`` (the market's sealed ranges), and diagnose it
    against ``[session] calendar``. ``max_bad_share`` (default ``[data] max_bad_share``): the share of
    rows ``on_bad_rows="drop"`` may drop."""
    path = find_minute_file(name)
    if is_contract_set(path):  # per-contract files: check their stitched series, as featurize reads it
        path, _ = stitch_source(path, raw_dir(), tz=tz or config.data.timezone, on_bad_rows=on_bad_rows,
                                rule=config.data.roll_rule, calendar=config.session.calendar,
                                tick_size=config.instrument.tick_size)
    began = time.perf_counter()
    share = config.data.max_bad_share if max_bad_share is None else max_bad_share
    minute_file = read_minutes(path, tz=tz or config.data.timezone, on_bad_rows=on_bad_rows, max_bad_share=share,
                               until=config.windows.test.start, exclude=[(r.start, r.end) for r in exclude])
    read_s = time.perf_counter() - began
    minutes = minute_file.minutes
    sessions = regular_sessions(config.session.calendar, minutes.index[0].date(), minutes.index[-1].date())
    began = time.perf_counter()
    report = diagnose(minutes, sessions, tick_size=config.instrument.tick_size,
                      profit_target_ticks=config.rules.profit_target_ticks, stop_loss_ticks=config.rules.stop_loss_ticks,
                      entry_slippage_ticks=config.costs.entry_slippage_ticks, instrument=config.data.instrument,
                      calendar=config.session.calendar, rolls=known_rolls(path))
    warnings = instrument_warnings(path.name, config.data.instrument, yearly_median_close(minutes))
    return CheckResult(path, minute_file, report, warnings,
                       {"read_s": read_s, "doctor_s": time.perf_counter() - began})


def known_rolls(path: Path):
    """The measured roll table beside a stitched file (``<file>.rolls.csv``), or None: detect."""
    table = roll_table_path(path)
    return read_roll_table(table) if table.is_file() else None


def summary_lines(result: CheckResult, config: LabConfig, shown_per_kind: int = 5) -> list[str]:
    """The human report: reading, span, statistics to compare with the synthetic data, findings."""
    minute_file, report, stats = result.minute_file, result.report, result.report.statistics
    minutes = minute_file.minutes
    lines = [f"{result.path}: {minute_file.rows_read:,} rows read in {result.timings_s['read_s']:.2f} s, "
             f"{len(minutes):,} valid"]
    if minute_file.rows_outside:
        lines.append(f"  {minute_file.rows_outside:,} rows from the held-out test window ({config.windows.test}) were not read")
    if minute_file.rows_dropped:
        lines.append("  dropped: " + ", ".join(f"{rule}: {n:,}" for rule, n in minute_file.rows_dropped.items()))
    lines.append(f"  span: {minutes.index[0].isoformat()} .. {minutes.index[-1].isoformat()} ({minutes.index.tz})")
    lines.append(f"  price: min {stats['price_min']:,.2f}, median {stats['price_median']:,.2f}, "
                 f"max {stats['price_max']:,.2f}; volume total {int(minutes['volume'].sum()):,}")
    lines.append(f"  regular-session ranges (median, bp): 1-minute {stats['median_range_1min_bp']:.1f}, "
                 f"5-minute {stats['median_range_5min_bp']:.1f}, daily {stats['median_daily_range_bp']:.0f}")
    rules = config.rules
    lines.append(f"  plan-rule entries at a bar's open ({rules.profit_target_ticks:g}-tick target, "
                 f"{rules.stop_loss_ticks:g}-tick stop, {config.data.instrument} ticks) whose target or stop lies inside "
                 f"the entry bar: {100 * stats['entry_bar_exit_share']:.0f} %, inside its first minute: "
                 f"{100 * stats['entry_minute_exit_share']:.0f} %")
    for warning in result.instrument_warnings:
        lines.append(f"  warning: {warning}")
    counts = report.counts()
    flagged = stats["sessions_flagged"]
    lines.append(f"  data doctor ({config.session.calendar} calendar, {stats['sessions_checked']:,} sessions checked, "
                 f"{result.timings_s['doctor_s']:.2f} s): "
                 + (f"{flagged:,} session(s) flagged" if flagged else "no session flagged"))
    for kind, n in counts.items():
        if not n:
            continue
        lines.append(f"    {kind}: {n:,}")
        for finding in [f for f in report.findings if f.kind == kind][:shown_per_kind]:
            lines.append(f"      {finding.session}  {finding.detail}")
        if n > shown_per_kind:
            lines.append(f"      ... and {n - shown_per_kind:,} more (--json lists them all)")
    return lines


def write_pictures(result: CheckResult, folder: str | Path) -> list[Path]:
    """One PNG per finding kind found, ``doctor_<kind>.png`` in ``folder``; returns the paths."""
    import matplotlib.pyplot as plt  # heavy: matplotlib, only to draw

    from lab.plots.doctor import finding_figures  # heavy: loads matplotlib

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, figure in finding_figures(result.minute_file.minutes, result.report).items():
        target = folder / f"doctor_{kind}.png"
        figure.savefig(target, dpi=80)
        plt.close(figure)
        written.append(target)
    return written
