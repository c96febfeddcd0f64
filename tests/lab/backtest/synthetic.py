"""Small synthetic bars and minutes for the backtest tests (no dependency on lab.bars).

A random walk on ticks over the XNYS sessions (early closes included), with occasional jumps at
a minute's open so that 5-minute bars gap through stops, plus a helper to build hand-made
scenarios bar by bar.
"""

from __future__ import annotations

import datetime as dt
import functools

import exchange_calendars as xcals
import numpy as np
import pandas as pd

NY = "America/New_York"
TICK = 0.25


@functools.lru_cache(maxsize=4)
def xnys_sessions(start: str, end: str) -> pd.DataFrame:
    """XNYS sessions between two dates: index naive session date, open/close tz-aware NY."""
    calendar = xcals.get_calendar("XNYS", start="2018-01-01", end="2027-12-31")
    schedule = calendar.schedule.loc[start:end]
    return pd.DataFrame(
        {
            "session_open": schedule["open"].dt.tz_convert(NY).dt.as_unit("ns"),
            "session_close": schedule["close"].dt.tz_convert(NY).dt.as_unit("ns"),
        },
        index=pd.DatetimeIndex(schedule.index, name="session").as_unit("ns"),
    )


def random_minutes(
    start: str, end: str, seed: int = 0, overnight_minutes: int = 20, step_ticks: int = 3, jump_rate: float = 0.02,
    wide_rate: float = 0.0,
) -> pd.DataFrame:
    """1-minute OHLCV on ticks for every session; ``overnight_minutes`` before each open too.

    Each minute moves by a uniform whole number of ticks in [-step_ticks, step_ticks]; with
    probability ``jump_rate`` it also opens up to 12 ticks away from the previous close; with
    probability ``wide_rate`` its high and low reach up to 10 more ticks out (so a target and a
    stop can both lie inside one minute).
    """
    rng = np.random.default_rng(seed)
    sessions = xnys_sessions(start, end)
    pieces = [
        pd.date_range(row.session_open - pd.Timedelta(minutes=overnight_minutes), row.session_close - pd.Timedelta(minutes=1), freq="min")
        for row in sessions.itertuples()
    ]
    index = pd.DatetimeIndex(pieces[0].append(pieces[1:]), name="time").as_unit("ns")
    n = len(index)
    steps = rng.integers(-step_ticks, step_ticks + 1, n)
    jumps = np.where(rng.random(n) < jump_rate, rng.integers(-12, 13, n), 0)
    close_ticks = 16000 + np.cumsum(steps + jumps)
    open_ticks = np.r_[close_ticks[0], close_ticks[:-1]] + jumps  # a jump happens at the open
    wide = rng.random(n) < wide_rate
    high_ticks = np.maximum(open_ticks, close_ticks) + rng.integers(0, 3, n) + wide * rng.integers(0, 11, n)
    low_ticks = np.minimum(open_ticks, close_ticks) - rng.integers(0, 3, n) - wide * rng.integers(0, 11, n)
    return pd.DataFrame(
        {
            "open": open_ticks * TICK,
            "high": high_ticks * TICK,
            "low": low_ticks * TICK,
            "close": close_ticks * TICK,
            "volume": rng.integers(1, 400, n).astype("int64"),
        },
        index=index,
    )


def five_minute_bars(minutes: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """Regular-session 5-minute bars (stamp = start) with session columns, from minutes."""
    sessions = xnys_sessions(start, end)
    stamp = minutes.index.floor("5min")
    grouped = minutes.groupby(stamp)
    bars = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum().astype("int64"),
        }
    )
    bars.index = pd.DatetimeIndex(bars.index, name="time").tz_convert(NY).as_unit("ns")
    session = pd.DatetimeIndex(bars.index.tz_localize(None).normalize()).as_unit("ns")
    bars["session"] = session
    info = sessions.reindex(session)
    bars["session_open"] = info["session_open"].to_numpy()
    bars["session_close"] = info["session_close"].to_numpy()
    keep = info["session_open"].notna().to_numpy() & np.asarray(
        (bars.index >= pd.DatetimeIndex(bars["session_open"])) & (bars.index < pd.DatetimeIndex(bars["session_close"]))
    )
    return bars[keep]


def year_of_data(
    seed: int = 7, start: str = "2023-01-01", end: str = "2023-12-31", step_ticks: int = 3, jump_rate: float = 0.02,
    wide_rate: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(bars, minutes)`` for a year of XNYS sessions (see :func:`random_minutes`)."""
    minutes = random_minutes(start, end, seed=seed, step_ticks=step_ticks, jump_rate=jump_rate, wide_rate=wide_rate)
    return five_minute_bars(minutes, start, end), minutes


def scenario(
    session: str,
    rows: list[tuple[str, float, float, float, float]],
    close: str = "16:00",
    fill_to_close: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-built ``(bars, minutes)`` for one session.

    Parameters
    ----------
    session : str
        ``YYYY-MM-DD``.
    rows : list of (time, open, high, low, close)
        5-minute bars by start time ``HH:MM``; other bars of the session are flat at the last
        close (when ``fill_to_close``). Minutes are derived: each bar's first minute opens at the
        bar's open, and the minutes walk open -> high -> low -> close in the order given by the
        bar's ``close >= open`` (low first for up bars, high first for down bars) unless the row
        supplies its own minutes via :func:`with_minutes`.
    close : str
        Session close ``HH:MM`` (``"13:00"`` on an early close).
    """
    day = pd.Timestamp(session)
    open_ts = pd.Timestamp(f"{session} 09:30", tz=NY)
    close_ts = pd.Timestamp(f"{session} {close}", tz=NY)
    given = {pd.Timestamp(f"{session} {t}", tz=NY): (o, h, lo, c) for t, o, h, lo, c in rows}
    stamps = pd.date_range(open_ts, close_ts - pd.Timedelta(minutes=5), freq="5min")
    if not fill_to_close:
        stamps = stamps[stamps <= max(given)]
    last = next(iter(given.values()))[0]
    records = []
    for ts in stamps:
        if ts in given:
            o, h, lo, c = given[ts]
            last = c
        else:
            o = h = lo = c = last
        records.append((o, h, lo, c))
    bars = pd.DataFrame(records, columns=["open", "high", "low", "close"], index=pd.DatetimeIndex(stamps, name="time").as_unit("ns"))
    bars["volume"] = np.int64(100)
    bars["session"] = day
    bars["session"] = bars["session"].astype("datetime64[ns]")
    bars["session_open"] = open_ts
    bars["session_close"] = close_ts
    minute_rows, minute_index = [], []
    for ts, (o, h, lo, c) in zip(bars.index, records):
        path = [o, lo, h, c] if c >= o else [o, h, lo, c]
        for k in range(5):
            a, b = path[min(k, 3)], path[min(k + 1, 3)]
            minute_rows.append((a, max(a, b), min(a, b), b))
            minute_index.append(ts + pd.Timedelta(minutes=k))
    minutes = pd.DataFrame(minute_rows, columns=["open", "high", "low", "close"], index=pd.DatetimeIndex(minute_index, name="time"))
    minutes["volume"] = np.int64(20)
    return bars, minutes


def set_minutes(minutes: pd.DataFrame, bar_time: pd.Timestamp, rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    """Replace the five 1-minute bars of the 5-minute bar starting at ``bar_time``."""
    out = minutes.copy()
    for k, (o, h, lo, c) in enumerate(rows):
        out.loc[bar_time + pd.Timedelta(minutes=k), ["open", "high", "low", "close"]] = (o, h, lo, c)
    return out


def at(session: str, hhmm: str) -> pd.Timestamp:
    """A New York timestamp."""
    return pd.Timestamp(f"{session} {hhmm}", tz=NY)


def as_date(session: str) -> dt.date:
    return dt.date.fromisoformat(session)
