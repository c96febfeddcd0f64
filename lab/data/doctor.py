"""The data doctor: per-session findings on a minute frame, checked against the exchange calendar.

Pure computation (minute frame and sessions in, findings and statistics out); the ``lab data
check`` command prints them and featurize logs them. One vectorized pass over the minutes
(counts, volumes and ranges binned by session and clock slot), so it costs a small fraction of
featurize on a multi-million-row file.

Finding kinds (one :class:`Finding` per session and kind):

``missing_minutes``
    The regular session (the calendar's open..close, early closes honoured) lacks more than
    ``missing_minutes_share`` of its minutes, or has none at all. FirstRate omits minutes without
    trades, so a few missing minutes are normal in thin markets; whole stretches are not.
``missing_slots``
    Five-minute slots of the regular session with no minute at all (a missing 5-minute bar).
``shifted_hours``
    The session's clock profile fits stamps shifted by whole hours better than the calendar:
    the volume and range steps at the 09:30 open and the 16:00 close, and the empty 17:00-18:00
    ET daily halt (CME equity futures), score best at another hour. The known vendor defect is
    stamps one hour early in the weeks when US and European clock changes differ.
``zero_volume`` / ``constant_volume``
    Every regular-session minute has volume 0, or the same volume.
``stale_prices``
    At least ``stale_run_minutes`` consecutive regular-session minutes, in whole 5-minute bars,
    whose price does not move (high = low = close = previous close).
``price_spike``
    A 5-minute bar whose close jumps by more than ``spike_sigmas`` local standard deviations and
    comes back the next bar, or whose high/low wick reaches that far from its body: a bad print,
    not a move; the finding names the minute. Checked at all hours (Globex included).
``roll``
    A contract switch of an unadjusted continuous file near a scheduled roll (the instrument's
    roll schedule), with its gap in points (:mod:`lab.data.rolls`). Information, not a defect:
    a roll session is never counted as flagged nor dropped; ``[data] roll_adjust`` handles it.

Sessions are named by their regular-session date (``YYYY-MM-DD``); Globex minutes from 18:00 ET
belong to the next session.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lab.data.rolls import adjust_rolls, detect_rolls, empty_roll_table, roll_findings_text
from lab.market.instruments import instrument_warnings
from lab.market.sessions import epoch_ns, regular_sessions

__all__ = ["Finding", "DoctorSettings", "DataReport", "FINDING_KINDS", "diagnose", "data_statistics",
           "findings_table", "flagged_sessions", "drop_sessions", "report_summary",
           "examine_for_featurize", "featurize_rolls", "findings_warning", "roll_table", "yearly_median_close"]

FINDING_KINDS = ("missing_minutes", "missing_slots", "shifted_hours", "zero_volume", "constant_volume",
                 "stale_prices", "price_spike", "roll")
#: Kinds that describe the file without flagging its session (never counted as flagged, never dropped).
INFORMATION_KINDS = ("roll",)

_NS_MIN = 60_000_000_000
_NS_DAY = 86_400_000_000_000
_SLOT30 = 48  # half-hour slots in a day
_SLOT5 = 288  # five-minute slots in a day
_SHIFTS_H = (-2, -1, 1, 2)


@dataclass(frozen=True)
class Finding:
    """One problem of one session.

    Attributes
    ----------
    session : str
        Regular-session date, ``YYYY-MM-DD`` (ET).
    kind : str
        One of :data:`FINDING_KINDS`.
    detail : str
        What was seen, with numbers and ET clock times.
    """

    session: str
    kind: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DoctorSettings:
    """Thresholds of the checks (defaults quiet on clean vendor data, loud on real defects).

    Attributes
    ----------
    missing_minutes_share : float, default 0.02
        Flag a session missing more than this share of its regular-session minutes.
    stale_run_minutes : int, default 10
        Flag a run of at least this many unmoving regular-session minutes.
    spike_sigmas : float, default 30
        A spike is a reverting close jump or a wick beyond this many local 5-minute sds.
    shift_margin : float, default 1.0
        A shift is reported when its profile score beats the calendar's by this much (log units).
    """

    missing_minutes_share: float = 0.02
    stale_run_minutes: int = 10
    spike_sigmas: float = 30.0
    shift_margin: float = 1.0


@dataclass
class DataReport:
    """What the doctor found: findings, a per-session table and the file's statistics."""

    findings: list[Finding]
    sessions: pd.DataFrame
    statistics: dict[str, float]
    clock_profile: pd.DataFrame = field(default_factory=pd.DataFrame)
    rolls: pd.DataFrame = field(default_factory=empty_roll_table)

    def counts(self) -> dict[str, int]:
        """Findings per kind (every kind present, zeros included)."""
        out = {kind: 0 for kind in FINDING_KINDS}
        for finding in self.findings:
            out[finding.kind] += 1
        return out

    def as_json(self) -> list[dict[str, str]]:
        """The findings as a list of ``{session, kind, detail}`` (the ``--json`` output)."""
        return [f.as_dict() for f in self.findings]


def _lookup_runs(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``np.searchsorted(table, values)`` for sorted ``values`` with long runs of equal values
    (one search per run: ~2,000 days instead of millions of minutes)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    found = np.searchsorted(table, values[starts])
    return np.repeat(found, np.diff(np.r_[starts, len(values)]))


def _session_frame(minutes: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-minute arrays: ET wall-clock minute of day, calendar-day position, trading session."""
    local = epoch_ns(minutes.index.tz_localize(None))
    return _positions(local, sessions)


def _positions(local: np.ndarray, sessions: pd.DataFrame) -> dict[str, np.ndarray]:
    """Calendar-day position, whether that day is a session, ET minute of day and trading session
    (Globex evenings from 18:00 belong to the next session) of sorted local wall-clock stamps (ns)."""
    day = local // _NS_DAY
    minute_of_day = (local - day * _NS_DAY) // _NS_MIN
    session_day = epoch_ns(sessions.index) // _NS_DAY
    pos = _lookup_runs(day, session_day)
    clipped = np.minimum(pos, len(session_day) - 1)
    on_session_day = (pos < len(session_day)) & (session_day[clipped] == day)
    trading_day = day + (minute_of_day >= 18 * 60)
    trading = _lookup_runs(trading_day, session_day)
    return {"day_pos": clipped, "on_session_day": on_session_day, "minute": minute_of_day, "trading": trading}


@dataclass
class _Bars:
    """Five-minute aggregates of the minutes (one pass): what every check reads."""

    starts: np.ndarray  # first minute of each bar
    count: np.ndarray  # minutes in the bar
    local: np.ndarray  # bar start, ET wall clock, ns
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    volume_sq: np.ndarray  # sum of squared minute volumes (constant-volume check)


def _five_minute_bars(minutes: pd.DataFrame) -> _Bars:
    bucket = epoch_ns(minutes.index) // (5 * _NS_MIN)  # ET offsets are whole hours: UTC and ET buckets agree
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    volume = minutes["volume"].to_numpy().astype(np.float64)  # our copy: squared in place below
    volume_sum = np.add.reduceat(volume, starts)
    volume_sq = np.add.reduceat(np.square(volume, out=volume), starts)
    utc_starts = pd.DatetimeIndex((bucket[starts] * 5 * _NS_MIN).view("datetime64[ns]")).tz_localize("UTC")
    local = epoch_ns(utc_starts.tz_convert(minutes.index.tz).tz_localize(None))  # the bar starts' ET wall clock only
    return _Bars(starts=starts, count=np.diff(np.r_[starts, len(bucket)]), local=local,
                 open=minutes["open"].to_numpy()[starts], high=np.maximum.reduceat(minutes["high"].to_numpy(), starts),
                 low=np.minimum.reduceat(minutes["low"].to_numpy(), starts), close=minutes["close"].to_numpy()[ends],
                 volume=volume_sum, volume_sq=volume_sq)


def diagnose(minutes: pd.DataFrame, sessions: pd.DataFrame, settings: DoctorSettings = DoctorSettings(),
             tick_size: float = 0.25, profit_target_ticks: float = 6.0, stop_loss_ticks: float = 8.0,
             entry_slippage_ticks: float = 1.0, instrument: str | None = None, calendar: str = "XNYS",
             rolls: pd.DataFrame | None = None) -> DataReport:
    """Check a minute frame session by session against the calendar.

    The minutes are aggregated once into 5-minute bars with their minute counts; every check reads
    those (a price spike is then pinned to its minute).

    Parameters
    ----------
    minutes : DataFrame
        Minute-frame contract (see :mod:`lab.readers`).
    sessions : DataFrame
        :func:`lab.market.sessions.regular_sessions` covering the minutes' dates.
    settings : DoctorSettings
    tick_size, profit_target_ticks, stop_loss_ticks, entry_slippage_ticks : float
        Instrument tick (index points) and the plan's barriers (ticks), for the statistic
        ``entry_bar_exit_share``.
    instrument : str, optional
        Root symbol whose roll schedule the contract switches are looked for near
        (:func:`lab.data.rolls.detect_rolls` on ``calendar``); None: no roll check.
    rolls : DataFrame, optional
        A known roll table (a stitched file's, measured from both contracts): reported as is
        instead of detected.

    Returns
    -------
    DataReport
        Findings sorted by session then kind; ``sessions`` has one row per calendar session the
        file covers entirely (columns ``minutes_present``, ``minutes_expected``, ``missing_slots``,
        ``shift_hours``, ``volume``, ``stale_run_minutes``, ``spikes``); ``statistics`` see
        :func:`data_statistics`.
    """
    bars = _five_minute_bars(minutes)
    where = _positions(bars.local, sessions)
    n_sessions = len(sessions)
    stamps = epoch_ns(minutes.index[[0, -1]])
    covered = (epoch_ns(sessions["session_open"]) >= stamps[0]) & (epoch_ns(sessions["session_close"]) <= stamps[1] + _NS_MIN)
    naive_open = epoch_ns(sessions["session_open"].dt.tz_localize(None))
    naive_close = epoch_ns(sessions["session_close"].dt.tz_localize(None))
    day_ns = naive_open // _NS_DAY * _NS_DAY
    open_min = ((naive_open - day_ns) // _NS_MIN).astype(np.int64)
    close_min = ((naive_close - day_ns) // _NS_MIN).astype(np.int64)

    on_day = where["on_session_day"]
    d = where["day_pos"][on_day]
    mod = where["minute"][on_day]
    bar_range = (bars.high - bars.low) / bars.close * 1e4

    # Clock-slot tables per session day: 5-minute slots hold at most one bar each.
    count5 = np.zeros((n_sessions, _SLOT5), dtype=np.int64)
    count5[d, mod // 5] = bars.count[on_day]
    key30 = d * _SLOT30 + mod // 30
    count30 = count5.reshape(n_sessions, _SLOT30, 6).sum(axis=2).astype(np.float64)
    vol30 = np.bincount(key30, bars.volume[on_day], n_sessions * _SLOT30).reshape(n_sessions, _SLOT30)
    rng30 = np.bincount(key30, bar_range[on_day], n_sessions * _SLOT30).reshape(n_sessions, _SLOT30)
    bars30 = np.bincount(key30, minlength=n_sessions * _SLOT30).reshape(n_sessions, _SLOT30)

    # Regular-session bars (by calendar day; opens and closes sit on 5-minute marks).
    in_rth = np.zeros(len(bars.local), dtype=bool)
    in_rth[on_day] = (mod >= open_min[d]) & (mod < close_min[d])
    rth_session = where["day_pos"][in_rth]
    present = np.bincount(rth_session, bars.count[in_rth], n_sessions).astype(np.int64)
    expected = close_min - open_min
    slot_idx = np.arange(_SLOT5)
    in_rth_slot = (slot_idx[None, :] >= (open_min // 5)[:, None]) & (slot_idx[None, :] < (close_min // 5)[:, None])
    missing_slots = ((count5 == 0) & in_rth_slot).sum(axis=1)
    rth_volume = np.bincount(rth_session, bars.volume[in_rth], n_sessions)
    rth_volume_sq = np.bincount(rth_session, bars.volume_sq[in_rth], n_sessions)

    constant = rth_volume_sq * present == rth_volume ** 2  # zero or constant volume: no volume profile
    mean_range = np.divide(rng30, bars30, out=np.zeros_like(rng30), where=bars30 > 0)
    shift, shift_gain = _shift_scores(count30, np.where(constant[:, None], 0.0, vol30), mean_range, open_min // 30,
                                      close_min // 30, covered & (present > 0), settings.shift_margin)
    stale_run = _stale_runs(bars.high[in_rth], bars.low[in_rth], bars.close[in_rth], rth_session, n_sessions) * 5
    spike_bars = _spike_bars(bars, settings.spike_sigmas, where["trading"] * 2 + in_rth)
    spike_pos, spike_text = _spike_minutes(minutes, bars, spike_bars, settings.spike_sigmas)
    spike_session = where["trading"][spike_bars]
    spikes = np.bincount(spike_session[spike_session < n_sessions], minlength=n_sessions)

    names = sessions.index.strftime("%Y-%m-%d").to_numpy()
    findings: list[Finding] = []
    for i in np.flatnonzero(covered):
        name, clock = names[i], f"{open_min[i] // 60:02d}:{open_min[i] % 60:02d}-{close_min[i] // 60:02d}:{close_min[i] % 60:02d}"
        missing = int(expected[i] - present[i])
        if present[i] == 0:
            findings.append(Finding(name, "missing_minutes", f"no minute in the regular session {clock} ET, "
                                                             "which the exchange calendar has"))
            continue
        if missing > settings.missing_minutes_share * expected[i]:
            findings.append(Finding(name, "missing_minutes", f"{missing} of {expected[i]} regular-session minutes "
                                                             f"({clock} ET) missing"))
        if missing_slots[i]:
            first = np.flatnonzero((count5[i] == 0) & in_rth_slot[i])[0] * 5
            findings.append(Finding(name, "missing_slots", f"{missing_slots[i]} five-minute slot(s) of {clock} ET "
                                                           f"without a minute (first at {first // 60:02d}:{first % 60:02d})"))
        if shift[i]:
            direction = "early" if shift[i] < 0 else "late"
            findings.append(Finding(name, "shifted_hours", f"stamps look {abs(shift[i])} hour(s) {direction}: the "
                                    f"open/close volume and range steps and the 17:00-18:00 halt fit a {shift[i]:+d} h "
                                    f"clock (score gain {shift_gain[i]:.1f} over the calendar)"))
        if rth_volume[i] == 0:
            findings.append(Finding(name, "zero_volume", f"all {present[i]} regular-session minutes have volume 0"))
        elif present[i] >= 30 and constant[i]:
            findings.append(Finding(name, "constant_volume", f"all {present[i]} regular-session minutes have volume "
                                                             f"{rth_volume[i] / present[i]:g}"))
        if stale_run[i] >= settings.stale_run_minutes:
            findings.append(Finding(name, "stale_prices", f"{stale_run[i]} consecutive regular-session minutes "
                                    f"({stale_run[i] // 5} whole five-minute bars) without a price change"))
    for pos, text in zip(spike_pos, spike_text):
        i = where["trading"][pos]
        if i < n_sessions:
            findings.append(Finding(names[i], "price_spike", text))
    if rolls is None:
        rolls = roll_table(minutes, instrument, calendar, tick_size)
    for _, row in rolls.iterrows():
        local = row["minute"].tz_convert("America/New_York")
        session = (local + pd.Timedelta(hours=6)).strftime("%Y-%m-%d")  # Globex evenings: the next session
        findings.append(Finding(session, "roll", roll_findings_text(row, tick_size)))
    findings.sort(key=lambda f: (f.session, FINDING_KINDS.index(f.kind)))

    table = pd.DataFrame(
        {"minutes_present": present, "minutes_expected": expected, "missing_slots": missing_slots,
         "shift_hours": shift, "volume": rth_volume.astype(np.int64), "stale_run_minutes": stale_run,
         "spikes": spikes},
        index=sessions.index,
    ).loc[covered]
    profile = _clock_profile(vol30, count30, shift, covered & (present > 0))
    stats = data_statistics(minutes, bars, in_rth, rth_session, tick_size, profit_target_ticks, stop_loss_ticks,
                            entry_slippage_ticks)
    stats["sessions_checked"] = int(covered.sum())
    stats["sessions_flagged"] = len({f.session for f in findings if f.kind not in INFORMATION_KINDS})
    return DataReport(findings, table, stats, profile, rolls)


def _shift_scores(count30: np.ndarray, vol30: np.ndarray, mean_range: np.ndarray, open_slot: np.ndarray,
                  close_slot: np.ndarray, usable: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Best whole-hour shift per session and its score gain over no shift.

    Score of a shift ``s`` hours: log steps of volume and of mean 5-minute bar range at the shifted
    open (up) and close (down), half-hour slots either side (only where both hold minutes), minus
    3x the share of minutes present in the shifted 17:00-18:00 halt hour, plus 10x the share of
    minutes present in the shifted regular session.
    """
    rows = np.arange(len(count30))
    range_floor = max(float(np.median(mean_range[count30 > 0])) * 0.05, 1e-9) if (count30 > 0).any() else 1e-9

    def step(values: np.ndarray, up: np.ndarray, down: np.ndarray) -> np.ndarray:
        # Only slot pairs with minutes on both sides: an empty slot (a halt, an RTH-only file)
        # is the presence terms' evidence, not a step.
        both = (count30[rows, up] > 0) & (count30[rows, down] > 0) & (values[rows, up] != values[rows, down])
        return np.where(both, np.log(values[rows, up]) - np.log(values[rows, down]), 0.0)

    log_volume = vol30 + 1.0
    log_range = mean_range + range_floor

    def score(hours: int) -> np.ndarray:
        o, c = open_slot + 2 * hours, close_slot + 2 * hours
        total = step(log_volume, o, o - 1) + step(log_volume, c - 1, c)
        total += step(log_range, o, o - 1) + step(log_range, c - 1, c)
        halt = 34 + 2 * hours
        total -= 3.0 * (count30[:, halt] + count30[:, halt + 1]) / 60.0
        inside = np.arange(_SLOT30)[None, :]
        window = (inside >= o[:, None]) & (inside < c[:, None])
        total += 10.0 * (count30 * window).sum(axis=1) / (30.0 * np.maximum(window.sum(axis=1), 1))
        return total

    base = score(0)
    best_gain = np.zeros(len(count30))
    best = np.zeros(len(count30), dtype=np.int64)
    for hours in _SHIFTS_H:
        gain = score(hours) - base
        better = gain > best_gain
        best_gain[better], best[better] = gain[better], hours
    best[~usable | (best_gain < margin)] = 0
    return best, best_gain


def _stale_runs(high: np.ndarray, low: np.ndarray, close: np.ndarray, session: np.ndarray, n_sessions: int) -> np.ndarray:
    """Longest run per session of consecutive bars with high = low = close = previous close (in bars)."""
    out = np.zeros(n_sessions, dtype=np.int64)
    if len(close) < 2:
        return out
    flat = np.zeros(len(close), dtype=bool)
    flat[1:] = (high[1:] == low[1:]) & (close[1:] == close[:-1]) & (session[1:] == session[:-1])
    if not flat.any():
        return out
    edges = np.diff(np.r_[0, flat.view(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    np.maximum.at(out, session[starts], ends - starts)
    return out


def _spike_bars(bars: _Bars, sigmas: float, group: np.ndarray) -> np.ndarray:
    """Bars holding a bad print: a close that jumps beyond ``sigmas`` local sds and comes back the
    next bar, or a wick that far from the bar's body.

    The local scale is the mean absolute 5-minute return of the bar's group (its trading session,
    regular hours apart from Globex hours) times sqrt(pi/2), so a quiet night does not make the
    open look like a spike.
    """
    if len(bars.close) < 3:
        return np.zeros(0, dtype=np.int64)
    log_close = np.log(bars.close)
    ret = np.r_[0.0, np.diff(log_close)]
    size = np.bincount(group).astype(np.float64)
    mean_abs = np.bincount(group, np.abs(ret)) / np.maximum(size, 1)
    scale = mean_abs[group] * np.sqrt(np.pi / 2)
    limit = sigmas * np.where(scale > 0, scale, np.inf)
    jump = np.zeros(len(ret), dtype=bool)
    r_in, r_out = ret[1:-1], ret[2:]
    jump[1:-1] = (np.abs(r_in) > limit[1:-1]) & (r_out * r_in < 0) & (np.abs(r_out) > 0.5 * np.abs(r_in))
    upper = np.log(bars.high / np.maximum(bars.open, bars.close))
    lower = np.log(np.minimum(bars.open, bars.close) / bars.low)
    flagged = jump | (np.maximum(upper, lower) > limit)
    return np.flatnonzero(flagged)


def _spike_minutes(minutes: pd.DataFrame, bars: _Bars, flagged: np.ndarray, sigmas: float) -> tuple[list[int], list[str]]:
    """The minute of each flagged bar farthest from the previous bar's close, and a sentence on it."""
    high, low = minutes["high"].to_numpy(), minutes["low"].to_numpy()
    positions, texts = [], []
    for b in flagged:
        ref = bars.close[b - 1] if b > 0 else bars.open[b]
        first, last = bars.starts[b], bars.starts[b] + bars.count[b]
        away = np.maximum(np.log(high[first:last] / ref), np.log(ref / low[first:last]))
        pos = int(first + np.argmax(away))
        positions.append(b)
        texts.append(f"{minutes.index[pos]:%Y-%m-%d %H:%M} ET: the price reaches {away.max() * 1e4:.0f} bp from "
                     f"the previous close and comes back (beyond {sigmas:g} local 5-minute sds)")
    return positions, texts


def _clock_profile(vol30: np.ndarray, count30: np.ndarray, shift: np.ndarray, usable: np.ndarray) -> pd.DataFrame:
    """Median share of daily volume per half-hour ET slot, for sessions flagged shifted and the others."""
    share = vol30 / np.maximum(vol30.sum(axis=1, keepdims=True), 1.0)
    slots = [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 1440, 30)]
    columns = {}
    for label, rows in (("unflagged", usable & (shift == 0)), ("shifted", usable & (shift != 0))):
        columns[label] = np.median(share[rows], axis=0) if rows.any() else np.full(_SLOT30, np.nan)
    columns["minutes_present_unflagged"] = (count30[usable & (shift == 0)].mean(axis=0)
                                            if (usable & (shift == 0)).any() else np.full(_SLOT30, np.nan))
    return pd.DataFrame(columns, index=pd.Index(slots, name="slot_start_et"))


def data_statistics(minutes: pd.DataFrame, bars: _Bars, in_rth: np.ndarray, rth_session: np.ndarray,
                    tick_size: float, profit_target_ticks: float, stop_loss_ticks: float,
                    entry_slippage_ticks: float) -> dict[str, float]:
    """Statistics a user can compare with the synthetic default (ranges in basis points).

    Returns
    -------
    dict
        ``median_range_1min_bp`` and ``median_range_5min_bp`` (regular-session bars, (high-low)/close),
        ``median_daily_range_bp`` (regular-session high-low over its last close), ``price_min``,
        ``price_max`` (index points), ``price_median`` (regular-session 5-minute closes),
        ``entry_bar_exit_share``: the share of long and short entries at a regular-session
        5-minute bar's open (entry slippage included) whose target or stop lies inside that bar;
        ``entry_minute_exit_share``: the same inside the bar's first minute (the entry minute).
    """
    out: dict[str, float] = {"price_min": float(bars.low.min()), "price_max": float(bars.high.max())}
    if not in_rth.any():
        return {**out, "price_median": float(np.median(bars.close)), "median_range_1min_bp": float("nan"),
                "median_range_5min_bp": float("nan"), "median_daily_range_bp": float("nan"),
                "entry_bar_exit_share": float("nan"), "entry_minute_exit_share": float("nan")}
    minute_rth = np.repeat(in_rth, bars.count)
    high, low, close = (minutes[c].to_numpy()[minute_rth] for c in ("high", "low", "close"))
    out["median_range_1min_bp"] = float(np.median((high - low) / close * 1e4))
    h5, l5, o5, c5 = bars.high[in_rth], bars.low[in_rth], bars.open[in_rth], bars.close[in_rth]
    out["price_median"] = float(np.median(c5))
    out["median_range_5min_bp"] = float(np.median((h5 - l5) / c5 * 1e4))
    day_starts = np.flatnonzero(np.r_[True, rth_session[1:] != rth_session[:-1]])
    day_ends = np.r_[day_starts[1:], len(rth_session)] - 1
    hd, ld = np.maximum.reduceat(h5, day_starts), np.minimum.reduceat(l5, day_starts)
    out["median_daily_range_bp"] = float(np.median((hd - ld) / c5[day_ends] * 1e4))
    slip, target, stop = (entry_slippage_ticks * tick_size, profit_target_ticks * tick_size, stop_loss_ticks * tick_size)
    first = bars.starts[in_rth]  # the entry minute: each bar's first minute
    h1, l1 = (minutes[c].to_numpy()[first] for c in ("high", "low"))

    def exit_share(high: np.ndarray, low: np.ndarray) -> float:
        long_fill, short_fill = o5 + slip, o5 - slip
        long_out = (high >= long_fill + target) | (low <= long_fill - stop)
        short_out = (low <= short_fill - target) | (high >= short_fill + stop)
        return float((long_out.mean() + short_out.mean()) / 2)

    out["entry_bar_exit_share"] = exit_share(h5, l5)
    out["entry_minute_exit_share"] = exit_share(h1, l1)
    return out


def findings_table(report: DataReport) -> pd.DataFrame:
    """The findings as a DataFrame (columns session, kind, detail), for CSV/Parquet."""
    return pd.DataFrame([f.as_dict() for f in report.findings], columns=["session", "kind", "detail"])


def flagged_sessions(findings: pd.DataFrame) -> list[str]:
    """Sorted unique session dates (``YYYY-MM-DD``) with at least one finding that flags a session
    (not the information kinds, :data:`INFORMATION_KINDS`)."""
    if not len(findings):
        return []
    return sorted(set(findings.loc[~findings["kind"].isin(INFORMATION_KINDS), "session"]))


def drop_sessions(minutes: pd.DataFrame, sessions: pd.DataFrame, dates: list[str]) -> pd.DataFrame:
    """The minutes without those of the given trading sessions (their Globex evening included)."""
    if not dates:
        return minutes
    arrays = _session_frame(minutes, sessions)
    names = sessions.index.strftime("%Y-%m-%d").to_numpy()
    trading = arrays["trading"]
    inside = trading < len(names)
    drop = np.zeros(len(minutes), dtype=bool)
    drop[inside] = np.isin(names[trading[inside]], np.asarray(dates))
    return minutes.loc[~drop]


def report_summary(report: DataReport) -> dict[str, Any]:
    """Counts per kind and the statistics, for a manifest or metrics."""
    return {"findings_per_kind": report.counts(), "statistics": report.statistics}


def yearly_median_close(minutes: pd.DataFrame, every: int = 60) -> dict[int, float]:
    """Median close per calendar year (ET), from every ``every``-th minute (cheap on millions of rows)."""
    sample = minutes.iloc[::every]
    if len(sample) == 0:
        return {}
    medians = sample["close"].groupby(sample.index.year).median()
    return {int(year): float(value) for year, value in medians.items()}


def roll_table(minutes: pd.DataFrame, instrument: str | None, calendar: str = "XNYS", tick_size: float = 0.25,
               known: pd.DataFrame | None = None) -> pd.DataFrame:
    """The contract switches the doctor reports and featurize adjusts by: ``known`` (a stitched file's
    measured table) when given, else detected in ``minutes`` (:func:`lab.data.rolls.detect_rolls`), and
    none without an instrument (``[data] instrument`` unset: no roll schedule to look at)."""
    if known is not None:
        return known
    return detect_rolls(minutes, instrument, calendar, tick_size) if instrument else empty_roll_table()


def featurize_rolls(minutes: pd.DataFrame, config: Any, known_rolls: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`roll_table` with ``config``'s instrument, calendar and tick size."""
    return roll_table(minutes, config.data.instrument, config.session.calendar, config.instrument.tick_size, known_rolls)


def examine_for_featurize(minutes: pd.DataFrame, config: Any, source_name: str | None = None,
                          known_rolls: pd.DataFrame | None = None, adjusted: pd.DataFrame | None = None
                          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """What featurize does with the doctor: diagnose, keep or drop the flagged sessions, adjust rolls.

    Parameters
    ----------
    minutes : DataFrame
        The minute frame featurize read (before the test window).
    config : LabConfig
        ``[data] on_bad_sessions`` ("warn" keeps flagged sessions, "drop" removes their minutes),
        ``[data] roll_adjust`` ("back" shifts the minutes before each contract switch by its gap),
        ``[session] calendar``, the instrument and ``[rules]``/``[costs]`` for the statistics.
    source_name : str, optional
        The file's name, checked against ``[data] instrument`` (its symbol and its price level);
        None skips the check (the synthetic default is made for the instrument).
    known_rolls : DataFrame, optional
        The roll table of a stitched file (measured from both contracts), or the one
        :func:`featurize_rolls` resolved; None: detected.
    adjusted : DataFrame, optional
        ``minutes`` already adjusted for ``known_rolls`` as ``[data] roll_adjust`` says (featurize
        adjusts them up front to build the tables while the doctor runs): returned as the minutes
        to featurize (less the dropped sessions) instead of adjusting them a second time.

    Returns
    -------
    (DataFrame, DataFrame, dict, DataFrame)
        The minutes to featurize (roll-adjusted as configured), the findings table (session,
        kind, detail), a summary for the manifest (``findings_per_kind``, ``sessions_checked``,
        ``sessions_flagged``, ``sessions_dropped``, ``minutes_dropped``, ``rolls``,
        ``roll_adjust``, ``instrument_warnings`` and the statistics) and the roll table.
    """
    sessions = regular_sessions(config.session.calendar, minutes.index[0].date(), minutes.index[-1].date())
    report = diagnose(minutes, sessions, tick_size=config.instrument.tick_size,
                      profit_target_ticks=config.rules.profit_target_ticks, stop_loss_ticks=config.rules.stop_loss_ticks,
                      entry_slippage_ticks=config.costs.entry_slippage_ticks, instrument=config.data.instrument,
                      calendar=config.session.calendar, rolls=known_rolls)
    findings = findings_table(report)
    flagged = flagged_sessions(findings)
    if adjusted is not None and known_rolls is None:
        raise ValueError("examine_for_featurize: `adjusted` minutes need the `known_rolls` they were adjusted for")
    base = minutes if adjusted is None else adjusted  # a minute's shift depends only on its time: drop and adjust commute
    kept = drop_sessions(base, sessions, flagged) if config.data.on_bad_sessions == "drop" else base
    if adjusted is None:
        kept = adjust_rolls(kept, report.rolls, config.data.roll_adjust)
    summary = {"findings_per_kind": report.counts(), "sessions_checked": report.statistics["sessions_checked"],
               "sessions_flagged": len(flagged),
               "sessions_dropped": len(flagged) if config.data.on_bad_sessions == "drop" else 0,
               "minutes_dropped": int(len(minutes) - len(kept)),
               "rolls": int(len(report.rolls)), "roll_adjust": config.data.roll_adjust,
               "instrument_warnings": ([] if source_name is None else
                                       instrument_warnings(source_name, config.data.instrument, yearly_median_close(minutes))),
               "statistics": {k: v for k, v in report.statistics.items() if not k.startswith("sessions_")}}
    return kept, findings, summary, report.rolls


def findings_warning(summary: dict[str, Any], on_bad_sessions: str) -> str | None:
    """One line for featurize's warning, or None when nothing was flagged."""
    if not summary["sessions_flagged"]:
        return None
    kinds = ", ".join(f"{kind} {n}" for kind, n in summary["findings_per_kind"].items() if n)
    action = (f"dropped them ({summary['minutes_dropped']:,} minutes)" if on_bad_sessions == "drop"
              else "kept them; set [data] on_bad_sessions = \"drop\" to drop them")
    return (f"the data doctor flagged {summary['sessions_flagged']} of {summary['sessions_checked']} sessions "
            f"({kinds}); {action}. Details: data_findings.csv of the featurize run, or `lab data check <file>`")
