"""``lab init FILE``: what a minute file is, and the ``lab.toml`` that fits it.

Pure: a minute frame in, a :class:`FileProfile` and the text of a commented configuration out
(``cli`` reads the file and writes ``lab.toml``). The inference:

* **instrument**: the file name's root symbol (``NQ_full_1min...`` -> NQ) when the lab knows it,
  else the price level (S&P 500 prices -> MES, Nasdaq-100 prices -> MNQ: the plan trades micros);
* **timezone** of naive stamps: the empty hour of a Globex-hours file is the 17:00-18:00 ET
  maintenance break (16:00 in Chicago, 21:00/22:00 in UTC); a regular-hours file opens at 09:30
  ET (08:30 Chicago, 13:30/14:30 UTC);
* **windows** split by regular sessions after the warm-up: train 60 %, validation 20 %, test
  20 % (the test window is looked at once, by final-eval); a file shorter than
  :func:`minimum_sessions` is refused, naming the minimum;
* **walk-forward months**: half the training months (2..12), validation one month at a time;
* **model name** from the instrument (``nq-scalper``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab.errors import DataError
from lab.market.instruments import INSTRUMENTS, price_level_mismatch, symbol_in_filename
from lab.market.sessions import MARKET_TZ, regular_sessions

__all__ = ["FileProfile", "WindowPlan", "MIN_TRAIN_SESSIONS", "MIN_VALIDATION_SESSIONS", "MIN_TEST_SESSIONS",
           "warmup_sessions", "minimum_sessions", "profile_minutes", "plan_windows", "config_text", "next_commands",
           "infer_timezone", "infer_instrument"]

#: Regular-session 5-minute bars of a full session (09:30-16:00 ET).
_BARS_PER_SESSION = 78
#: Sessions to train on at least: three calendar months, so walk-forward has two training months and one to score.
MIN_TRAIN_SESSIONS = 60
#: Sessions to validate on at least: four weeks (SPA needs 3 weekly AUCs, PBO 2).
MIN_VALIDATION_SESSIONS = 20
#: Sessions held out for the one final evaluation at least.
MIN_TEST_SESSIONS = 20
_SHARES = {"train": 0.6, "validation": 0.2, "test": 0.2}


def warmup_sessions(warmup_bars: int, bar_minutes: int = 5) -> int:
    """Sessions the warm-up takes, with one to spare for early closes and missing bars.

    >>> warmup_sessions(1400)
    19
    """
    per_session = _BARS_PER_SESSION * 5 // bar_minutes
    return math.ceil(warmup_bars / per_session) + 1


def minimum_sessions(warmup_bars: int = 1400, bar_minutes: int = 5) -> int:
    """Regular sessions a file needs: the warm-up plus the three windows' minimums.

    >>> minimum_sessions()
    119
    """
    return warmup_sessions(warmup_bars, bar_minutes) + MIN_TRAIN_SESSIONS + MIN_VALIDATION_SESSIONS + MIN_TEST_SESSIONS


@dataclass(frozen=True)
class FileProfile:
    """What ``lab init`` found in a minute file.

    Attributes
    ----------
    name : str
        The file's name.
    instrument, instrument_reason : str
        The inferred ``[data] instrument`` and why.
    timezone, timezone_reason : str
        The inferred ``[data] timezone`` of naive stamps and why.
    sessions : tuple of date
        Regular sessions (exchange calendar) with at least one minute in 09:30-16:00 ET.
    price_median : float
        Median close (index points).
    """

    name: str
    instrument: str
    instrument_reason: str
    timezone: str
    timezone_reason: str
    sessions: tuple[dt.date, ...]
    price_median: float


@dataclass(frozen=True)
class WindowPlan:
    """Windows (inclusive ET dates), warm-up and walk-forward months that fit a file."""

    train: tuple[dt.date, dt.date]
    validation: tuple[dt.date, dt.date]
    test: tuple[dt.date, dt.date]
    sessions: dict[str, int]
    warmup_sessions: int
    min_train_months: int
    train_months: int


def infer_timezone(wall_clock: pd.DatetimeIndex) -> tuple[str, str]:
    """The zone of naive stamps from their wall-clock hours (stamps as written in the file).

    Returns ``(zone, reason)``; America/New_York when nothing decides.
    """
    weekday = wall_clock[wall_clock.day_of_week < 5]
    if len(weekday) == 0:
        return MARKET_TZ, "no weekday minute: assumed US/Eastern"
    counts = np.bincount(weekday.hour, minlength=24)
    if (counts > 0).sum() >= 20:  # around the clock: the daily maintenance break is the emptiest hour
        candidates = (17, 16, 22, 21)  # the break's hour in ET, Chicago, UTC (winter, summer); ties: ET
        empty = candidates[int(np.argmin(counts[list(candidates)]))]
        if counts[empty] <= 0.05 * counts.max():
            zone = {17: MARKET_TZ, 16: "America/Chicago", 21: "UTC", 22: "UTC"}[empty]
            return zone, f"the daily trading break is at {empty}:00 in the file's stamps (17:00 ET)"
        return MARKET_TZ, "no empty hour where a maintenance break would be: assumed US/Eastern"
    first = pd.Series(weekday.hour * 60 + weekday.minute).groupby(weekday.normalize()).min()
    opening = int(first.mode().iloc[0])
    zone = {570: MARKET_TZ, 510: "America/Chicago", 810: "UTC", 870: "UTC"}.get(opening)
    clock = f"{opening // 60:02d}:{opening % 60:02d}"
    if zone is not None:
        return zone, f"regular-hours file whose sessions start at {clock} in its stamps (09:30 ET)"
    return MARKET_TZ, f"sessions start at {clock}, not a known opening: assumed US/Eastern"


def infer_instrument(name: str, yearly_median: dict[int, float]) -> tuple[str, str]:
    """``[data] instrument`` from the file name's root, else from the price level."""
    named = symbol_in_filename(name)
    if named in INSTRUMENTS:
        return named, f"the file name says {named}"
    for symbol, index in (("MES", "S&P 500"), ("MNQ", "Nasdaq-100")):
        if yearly_median and price_level_mismatch(symbol, yearly_median) is None:
            checked = [y for y in yearly_median if 2008 <= y <= 2025]
            if checked:
                return symbol, (f"prices at the {index} level (the micro contract; ES/NQ have the same prices: "
                                "change it if the file is the full-size contract)")
    known = ", ".join(sorted(INSTRUMENTS))
    raise DataError(f"{name}: neither the name nor the price level tells the instrument (the lab knows {known}); "
                    "name the file after its root (e.g. MES_1min.txt) or write [data] instrument yourself")


def profile_minutes(name: str, minutes: pd.DataFrame, calendar: str = "XNYS") -> FileProfile:
    """Profile a minute frame read with naive stamps taken as UTC (so every stamp of any zone parses)."""
    if len(minutes) == 0:
        raise DataError(f"{name}: the file holds no minute")
    wall = minutes.index.tz_convert("UTC").tz_localize(None)  # the stamps' text (offset stamps: their UTC time)
    zone, zone_reason = infer_timezone(wall)
    local = pd.DatetimeIndex(wall).tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    keep = ~local.isna()
    et = local[keep].tz_convert(MARKET_TZ)
    clock = et.hour * 60 + et.minute
    rth_days = pd.DatetimeIndex(et[(clock >= 570) & (clock < 960)].tz_localize(None).normalize().unique())
    sessions = regular_sessions(calendar, et[0].date(), et[-1].date()).index
    held = tuple(d.date() for d in sessions.intersection(rth_days))
    close = minutes["close"].to_numpy()[keep]
    years = pd.Series(close).groupby(et.year).median()
    instrument, reason = infer_instrument(name, {int(y): float(v) for y, v in years.items()})
    return FileProfile(name, instrument, reason, zone, zone_reason, held, float(np.median(close)))


def plan_windows(profile: FileProfile, warmup_bars: int = 1400, bar_minutes: int = 5) -> WindowPlan:
    """Train, validation and test windows by sessions after the warm-up, and walk-forward months.

    Raises
    ------
    DataError
        The file holds fewer sessions than :func:`minimum_sessions` (the message names both).
    """
    sessions = profile.sessions
    warm = warmup_sessions(warmup_bars, bar_minutes)
    need = minimum_sessions(warmup_bars, bar_minutes)
    if len(sessions) < need:
        span = f" ({sessions[0]}..{sessions[-1]})" if sessions else ""
        raise DataError(
            f"{profile.name} holds {len(sessions)} regular sessions{span}; the lab needs at least {need}: {warm} for "
            f"the {warmup_bars:,}-bar indicator warm-up, {MIN_TRAIN_SESSIONS} to train (walk-forward: 2 training "
            f"months and 1 to score), {MIN_VALIDATION_SESSIONS} to validate (SPA needs 3 weeks, PBO 2) and "
            f"{MIN_TEST_SESSIONS} to test once: about {math.ceil(need / 21)} months of minutes")
    rest = len(sessions) - warm
    n_test = max(MIN_TEST_SESSIONS, round(rest * _SHARES["test"]))
    n_val = max(MIN_VALIDATION_SESSIONS, round(rest * _SHARES["validation"]))
    n_train = rest - n_test - n_val
    cut_val, cut_test = warm + n_train, warm + n_train + n_val
    trained = sessions[warm:cut_val]
    months = len({(d.year, d.month) for d in trained})
    min_train = max(2, min(12, months // 2))
    return WindowPlan(train=(sessions[0], sessions[cut_val - 1]), validation=(sessions[cut_val], sessions[cut_test - 1]),
                      test=(sessions[cut_test], sessions[-1]),
                      sessions={"warmup": warm, "train": n_train, "validation": n_val, "test": n_test},
                      warmup_sessions=warm, min_train_months=min_train, train_months=months)


def _model_name(instrument: str) -> str:
    return f"{instrument.lower()}-scalper"


def config_text(profile: FileProfile, plan: WindowPlan, data_path: str, warmup_bars: int = 1400) -> str:
    """The commented ``lab.toml`` for the file (every key not written keeps the lab's default)."""
    s = plan.sessions
    return f'''# lab.toml written by `lab init {profile.name}`: the lab's defaults, fitted to this file.
# Every key not written here keeps its default (see the lab's own lab.toml for all of them).
# Units are in the key names: *_ticks, *_usd, *_bars (5-minute bars), *_months; times are US/Eastern.

[data]
path = "{data_path}"
instrument = "{profile.instrument}"          # {profile.instrument_reason}
timezone = "{profile.timezone}"    # of naive stamps: {profile.timezone_reason}
roll_adjust = "back"             # contract switches of a continuous file: shift the history by each gap

[windows]
# {len(profile.sessions)} regular sessions {profile.sessions[0]}..{profile.sessions[-1]}: the first {s['warmup']} form the
# indicators (warm-up), then {s['train']} train, {s['validation']} validate and {s['test']} test.
train = ["{plan.train[0]}", "{plan.train[1]}"]
validation = ["{plan.validation[0]}", "{plan.validation[1]}"]
# The test window is held out: only final-eval reads it, ONCE, for the champion. Do not look at it
# before; a second look is refused (its dates are then sealed for this market).
test = ["{plan.test[0]}", "{plan.test[1]}"]

[session]
warmup_bars = {warmup_bars}             # EMA 200 keeps < 1e-6 of its start value after 1,383 bars

[walk_forward]
min_train_months = {plan.min_train_months}             # half of the {plan.train_months} training months; each fold scores the next month
rolling_train_months = {plan.min_train_months}
validation_months = 1

[promotion]
model_name = "{_model_name(profile.instrument)}"
'''


def next_commands(target: str = "target_6bar") -> list[str]:
    """The five commands from the configured file to a champion (``<tune run>``: the id tune prints)."""
    return ["lab featurize",
            f"lab run tune -P target={target}",
            f"lab run walk-forward -P params_from=<tune run> -P target={target}",
            "lab run backtest -P run_id=<tune run>",
            "lab promote --run-id <tune run>"]
