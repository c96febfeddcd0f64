"""Seeded synthetic 1-minute futures data: the lab's embedded default when no vendor file is given.

The generator is honest by construction. Direction is a martingale: the latent log price moves
by zero-mean, symmetric Gaussian innovations whose scale never depends on past returns, so no
feature can forecast the sign of a future return. Volatility is partly predictable, as in real
index futures: it clusters (a log-volatility AR(1) across trading days and another across
minutes) and follows the intraday U-shape, so recent range, ATR and time of day forecast
future range.

Model, per minute ``t`` of trading day ``d`` (natural log price ``x``, innovations N(0, 1))::

    x_close[t] = x_close[t-1] + gap[t] + sigma[t] * z[t]
    sigma[t]   = daily_vol * exp(a[d]) * exp(h[t] - s_h**2) * u(t) / sqrt(sum of u**2 over a day)
    a[d]       = 0.97 * a[d-1] + eta[d]       (daily log-volatility, stationary sd 0.40)
    h[t]       = phi * h[t-1] + eps[t]        (minute log-volatility, half-life ~62 min, sd s_h)

``u`` is the U-shaped intraday profile (low overnight, spikes at 18:00, 08:30 and the 09:30
open, a midday trough, a rise into the 16:00 close). ``gap`` is non-zero only on the first
minute of each Globex day (scaled by the square root of the hours the market was shut, so
weekends gap more than the daily halt) and on the first regular-session minute (the opening
auction). The high and low of each minute are drawn from the exact distribution of a Brownian
bridge's maximum and minimum between open and close. Prices are the latent path rounded to
ticks (never rounded increments), so rounding adds at most half a tick of noise and no
bounce pattern that a model could trade.
"""

from __future__ import annotations

import datetime as dt
import warnings

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from lab.configfile import as_date
from lab.errors import ConfigError
from lab.instruments import Instrument

__all__ = ["generate_minutes"]

_TIMEZONE = "America/New_York"
_MINUTE_NS = 60 * 1_000_000_000

# Globex day in minutes after 18:00 ET of the previous evening (k = 0 is the 18:00 minute).
_K_EUROPE = 9 * 60  # 03:00 ET
_K_PREMARKET_SPAN = 60  # economic data at 08:30 ET, one hour before the 09:30 open
_K_GLOBEX_END = 23 * 60  # 17:00 ET
_EARLY_CLOSE_EXTRA_MIN = 15  # CME equity futures stop 15 minutes after an early stock close

# Volatility (natural-log returns).
_DAILY_VOL = 0.0105  # median daily sd, ~16.7 % a year
_DAILY_PHI, _DAILY_SD = 0.97, 0.40
_MINUTE_PHI, _MINUTE_SD = float(np.exp(-1.0 / 90.0)), 0.35
_GAP_SD_PER_SQRT_HOUR = 0.06  # in daily sd: a 1 h halt gaps 0.06, a 49 h weekend 0.42
_OPEN_AUCTION_SD = 0.08  # in daily sd, added to the 09:30 minute

# Volume (contracts per minute at the midday profile level, once the contract is mature).
_VOLUME_MIDDAY = 1200.0
_VOLUME_PROFILE_POWER = 2.5  # volume ~ u**2.5: overnight a few % of the open
_VOLUME_VOL_POWER = 0.8  # busier on volatile days and hours
_VOLUME_NOISE_SD = 0.5
_MES_LAUNCH = dt.date(2019, 5, 6)

# Approximate front-month levels (index points) the random walk starts from; no drift after.
_LEVELS = {
    "ES": ((2019, 5, 2930), (2020, 1, 3230), (2021, 1, 3750), (2022, 1, 4770), (2023, 1, 3850),
           (2024, 1, 4800), (2025, 1, 5900), (2026, 1, 6850)),
    "NQ": ((2019, 5, 7800), (2020, 1, 8750), (2021, 1, 12900), (2022, 1, 16300), (2023, 1, 11000),
           (2024, 1, 16900), (2025, 1, 21200), (2026, 1, 25500)),
}


def generate_minutes(
    start: dt.date,
    end: dt.date,
    seed: int,
    instrument: Instrument,
    calendar_name: str = "XNYS",
) -> pd.DataFrame:
    """Generate a synthetic 1-minute OHLCV frame on the CME Globex schedule.

    Parameters
    ----------
    start, end : datetime.date
        First and last trade date, inclusive (``end`` must be after ``start``). A Globex trade
        date D runs from 18:00 ET on the evening before D to 17:00 ET on D, so the first stamp
        is 18:00 ET on the evening before the first session in the range.
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments give a bit-identical frame.
    instrument : Instrument
        Supplies the tick size (index points); prices are whole multiples of it. The starting
        level follows the contract's history (S&P 500 futures for ES/MES and unknown symbols,
        Nasdaq-100 for NQ/MNQ), near 2,900 points for MES in May 2019.
    calendar_name : str, default "XNYS"
        ``exchange_calendars`` calendar whose sessions are the trade dates: a holiday has no
        minutes at all, and on an early close (e.g. 13:00 ET) the Globex day stops 15 minutes
        after the close (13:15 ET).

    Returns
    -------
    pandas.DataFrame
        Index ``time``: tz-aware America/New_York, unit ns, the start of each minute, sorted
        and unique. Columns ``open``, ``high``, ``low``, ``close`` (float64, index points,
        multiples of the tick, ``low <= min(open, close) <= max(open, close) <= high``) and
        ``volume`` (int64 contracts, >= 1). Like FirstRate files, overnight minutes with no
        simulated trade are omitted (a fraction of a percent, mostly in 2019); every minute of
        the regular session (calendar open to close) is present.

    Raises
    ------
    ConfigError
        ``end <= start``, an unknown calendar, or a range holding no session of the calendar.

    Examples
    --------
    >>> from lab.instruments import get_instrument
    >>> frame = generate_minutes(dt.date(2023, 3, 6), dt.date(2023, 3, 10), 7, get_instrument("MES"))
    >>> len(frame), str(frame.index[0]), str(frame.index[-1])
    (6900, '2023-03-05 18:00:00-05:00', '2023-03-10 16:59:00-05:00')
    """
    start, end = _as_date(start, "start"), _as_date(end, "end")
    if end <= start:
        raise ConfigError(f"synthetic data: end = {end} must be after start = {start}; pass a later end date")
    days = _globex_days(start, end, calendar_name)
    rng = np.random.default_rng(seed)
    n_days = len(days["start_ns"])

    # The minute grid: k counts minutes after 18:00 ET of the evening before each trade date.
    # US clocks change at 02:00 on a Sunday, while Globex is shut, so the UTC offset is constant
    # within a trading day and a UTC minute grid is also a wall-clock minute grid.
    counts = days["minutes"]
    first_row = np.concatenate(([0], np.cumsum(counts)[:-1]))
    day_of = np.repeat(np.arange(n_days), counts)
    k = np.arange(counts.sum(), dtype=np.int64) - first_row[day_of]
    stamps = days["start_ns"][day_of] + k * _MINUTE_NS
    k_open, k_close = days["k_open"][day_of], days["k_close"][day_of]
    rth = (k >= k_open) & (k < k_close)

    # Volatility: daily regime x minute cluster x intraday profile.
    profile = _intraday_profile(k, k_open, k_close)
    regular = np.arange(_K_GLOBEX_END)
    day_norm = np.sqrt(np.sum(_intraday_profile(regular, 930, 1320) ** 2))
    daily_log_vol = _ar1(rng.standard_normal(n_days), _DAILY_PHI, _DAILY_SD, rng.standard_normal())
    minute_log_vol = _ar1(rng.standard_normal(len(k)), _MINUTE_PHI, _MINUTE_SD, rng.standard_normal())
    regime = np.exp(daily_log_vol[day_of] + minute_log_vol - _MINUTE_SD**2)  # mean-square 1 within a day
    sigma = (_DAILY_VOL / day_norm) * regime * profile

    # Gaps at the Globex open of each day (scaled by hours shut) and at the 09:30 auction.
    gap = np.zeros(len(k))
    day_sd = _DAILY_VOL * np.exp(daily_log_vol)
    gap[first_row] = day_sd * _GAP_SD_PER_SQRT_HOUR * np.sqrt(days["hours_shut"]) * rng.standard_normal(n_days)
    open_rows = first_row + days["k_open"]
    gap[open_rows] += day_sd * _OPEN_AUCTION_SD * rng.standard_normal(n_days)

    # Latent log path; open = previous close + gap; high/low from the Brownian bridge extremes.
    step = sigma * rng.standard_normal(len(k))
    x_close = np.log(_start_level(instrument.symbol, days["dates"][0])) + np.cumsum(gap + step)
    x_open = np.empty_like(x_close)  # bit-equal to the previous close where there is no gap
    x_open[0] = x_close[0] - step[0]
    x_open[1:] = x_close[:-1] + gap[1:]
    mid, spread2 = x_open + x_close, (x_close - x_open) ** 2
    var2 = -2.0 * sigma * sigma
    x_high = 0.5 * (mid + np.sqrt(spread2 + var2 * np.log1p(-rng.random(len(k)))))
    x_low = 0.5 * (mid - np.sqrt(spread2 + var2 * np.log1p(-rng.random(len(k)))))

    # Volume: profile ** power x volatility ** power x lognormal noise x contract adoption, Poisson.
    adoption = _adoption(days["dates"])[day_of]
    lam = _VOLUME_MIDDAY * adoption * profile**_VOLUME_PROFILE_POWER * regime**_VOLUME_VOL_POWER
    lam *= np.exp(_VOLUME_NOISE_SD * rng.standard_normal(len(k)) - 0.5 * _VOLUME_NOISE_SD**2)
    volume = rng.poisson(lam).astype(np.int64)
    keep = rth | (volume > 0)
    volume[rth] = np.maximum(volume[rth], 1)

    tick = float(instrument.tick_size)
    ticks = {}
    for name, x in (("open", x_open), ("high", x_high), ("low", x_low), ("close", x_close)):
        ticks[name] = np.maximum(np.rint(np.exp(x[keep]) / tick), 1.0)  # whole ticks, >= 1 tick
    # Rounding is monotone, so this only guards against last-ulp float effects.
    ticks["high"] = np.maximum(ticks["high"], np.maximum(ticks["open"], ticks["close"]))
    ticks["low"] = np.minimum(ticks["low"], np.minimum(ticks["open"], ticks["close"]))
    columns = {name: values * tick for name, values in ticks.items()}
    columns["volume"] = volume[keep]
    index = pd.DatetimeIndex(stamps[keep].view("datetime64[ns]"), name="time")
    index = index.tz_localize("UTC").tz_convert(_TIMEZONE)
    return pd.DataFrame(columns, index=index)


def _as_date(value: dt.date, name: str) -> dt.date:
    try:
        return as_date(value)
    except ValueError:
        raise ConfigError(f"synthetic data: {name} = {value!r} is not a date; pass a datetime.date or 'YYYY-MM-DD'") from None


def _globex_days(start: dt.date, end: dt.date, calendar_name: str) -> dict[str, np.ndarray]:
    """One row per trade date: UTC start (ns), minute count, RTH open/close k, hours shut before."""
    try:
        with warnings.catch_warnings():  # exchange_calendars 4.13 reads Series.values (pandas 3.1)
            warnings.filterwarnings("ignore", message="Series.values returning", category=DeprecationWarning)
            calendar = xcals.get_calendar(calendar_name, start=start, end=end)
    except xcals.errors.NoSessionsError:
        calendar = None
    except xcals.errors.InvalidCalendarName:
        raise ConfigError(
            f"synthetic data: calendar_name = {calendar_name!r} is not an exchange_calendars name; use e.g. 'XNYS'"
        ) from None
    except ValueError as exc:  # dates outside the calendar's bounds
        raise ConfigError(f"synthetic data: calendar {calendar_name!r} cannot cover {start}..{end}: {exc}") from None
    schedule = None if calendar is None else calendar.schedule.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    if schedule is None or schedule.empty:
        raise ConfigError(
            f"synthetic data: {start}..{end} holds no {calendar_name} session (weekend or holidays only); widen the range"
        )
    sessions = schedule.index
    evening = (sessions - pd.Timedelta(days=1)) + pd.Timedelta(hours=18)
    start_ns = _utc_ns(evening.tz_localize(_TIMEZONE))
    stop_ns = _utc_ns((sessions + pd.Timedelta(hours=17)).tz_localize(_TIMEZONE))
    open_ns, close_ns = _utc_ns(schedule["open"]), _utc_ns(schedule["close"])
    regular_close_ns = _utc_ns((sessions + pd.Timedelta(hours=16)).tz_localize(_TIMEZONE))
    early = close_ns < regular_close_ns
    stop_ns = np.where(early, close_ns + _EARLY_CLOSE_EXTRA_MIN * _MINUTE_NS, stop_ns)
    hours_shut = np.empty(len(sessions))
    hours_shut[0] = 1.0
    hours_shut[1:] = (start_ns[1:] - stop_ns[:-1]) / (60.0 * _MINUTE_NS)
    return {
        "dates": np.array([d.date() for d in sessions]),
        "start_ns": start_ns,
        "minutes": (stop_ns - start_ns) // _MINUTE_NS,
        "k_open": (open_ns - start_ns) // _MINUTE_NS,
        "k_close": (close_ns - start_ns) // _MINUTE_NS,
        "hours_shut": hours_shut,
    }


def _utc_ns(times: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of tz-aware times, as int64."""
    index = pd.DatetimeIndex(times).tz_convert("UTC").as_unit("ns")
    return index.tz_localize(None).to_numpy().view(np.int64)


def _intraday_profile(k: np.ndarray, k_open: np.ndarray | int, k_close: np.ndarray | int) -> np.ndarray:
    """Relative volatility (midday regular session = 1) of minute ``k`` after 18:00 ET.

    Overnight ~0.3 with a bump at the 18:00 reopen and at the 03:00 European open; ~0.55 in the
    hour before the open with a spike at 08:30 (economic releases); 2.6 at the 09:30 open
    decaying to ~1.0 by midday; ~1.8 into the close; ~0.7 decaying to 0.3 after it.
    """
    k = np.asarray(k, dtype=np.float64)
    overnight = 0.28 + 0.35 * np.exp(-k / 15.0)
    overnight += np.where(k >= _K_EUROPE, 0.12 * np.exp(-np.abs(k - _K_EUROPE) / 120.0), 0.0)
    since_pre = k - (k_open - _K_PREMARKET_SPAN)
    premarket = 0.55 + 0.6 * np.exp(-np.abs(since_pre) / 8.0)
    session = 1.0 + 1.6 * np.exp(-(k - k_open) / 25.0) + 0.8 * np.exp(-(k_close - 1 - k) / 25.0)
    after = 0.3 + 0.4 * np.exp(-(k - k_close) / 10.0)
    profile = np.where(since_pre >= 0, premarket, overnight)
    profile = np.where(k >= k_open, session, profile)
    return np.where(k >= k_close, after, profile)


def _ar1(innovations: np.ndarray, phi: float, stationary_sd: float, initial_draw: float) -> np.ndarray:
    """Stationary AR(1) ``y[t] = phi * y[t-1] + e[t]`` started from its stationary law, vectorized.

    Blocks of ``b`` steps are solved in closed form, ``y[j] = phi**j * cumsum(e[i] * phi**-i)``,
    with ``phi**-b`` kept below ``e**8`` for accuracy; only the block carries loop in Python.
    """
    n = len(innovations)
    e = innovations * (stationary_sd * np.sqrt(1.0 - phi * phi))
    b = int(max(1, min(1024, 8.0 / -np.log(phi))))
    n_blocks = -(-n // b)
    padded = np.zeros(n_blocks * b)
    padded[:n] = e
    powers = phi ** np.arange(b, dtype=np.float64)
    local = np.cumsum(padded.reshape(n_blocks, b) / powers, axis=1) * powers  # zero start per block
    carry = np.empty(n_blocks)
    state, phi_b = stationary_sd * initial_draw, phi**b
    for j in range(n_blocks):
        carry[j] = state  # value just before block j
        state = phi_b * state + local[j, -1]
    out = local + carry[:, None] * (powers * phi)[None, :]
    return out.reshape(-1)[:n]


def _start_level(symbol: str, first: dt.date) -> float:
    """Approximate historical front-month level (index points) at ``first``, log-interpolated."""
    key = "NQ" if symbol.upper() in ("NQ", "MNQ") else "ES"
    anchors = _LEVELS[key]
    when = [dt.date(y, m, 1).toordinal() for y, m, _ in anchors]
    return float(np.exp(np.interp(first.toordinal(), when, [np.log(v) for _, _, v in anchors])))


def _adoption(dates: np.ndarray) -> np.ndarray:
    """Volume level of a young contract: 0.2 at the May 2019 launch, ~0.9 after a year, then 1."""
    years = np.array([(d - _MES_LAUNCH).days for d in dates], dtype=np.float64) / 365.25
    return 1.0 / (1.0 + 4.0 * np.exp(-2.5 * np.maximum(years, 0.0)))
