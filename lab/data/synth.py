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

import numpy as np
import pandas as pd

from lab.config.parsing import as_date
from lab.errors import ConfigError
from lab.market.instruments import Instrument
from lab.market.sessions import regular_sessions

__all__ = ["generate_minutes", "random_walk_minutes", "edge_strength", "MAX_EDGE_AUC"]

_TIMEZONE = "America/New_York"
_MINUTE_NS = 60 * 1_000_000_000

# Globex day in minutes after 18:00 ET of the previous evening (k = 0 is the 18:00 minute).
_K_EUROPE = 9 * 60  # 03:00 ET
_K_PREMARKET_SPAN = 60  # economic data at 08:30 ET, one hour before the 09:30 open
_K_GLOBEX_END = 23 * 60  # 17:00 ET
_EARLY_CLOSE_EXTRA_MIN = 15  # CME equity futures stop 15 minutes after an early stock close

# Volatility (natural-log returns).
_DAILY_VOL = 0.0054  # scale of the daily sd; with the U-shape, MES-like ranges (3.5 bp a minute)
_DAILY_PHI, _DAILY_SD = 0.97, 0.40
_MINUTE_PHI, _MINUTE_SD = float(np.exp(-1.0 / 90.0)), 0.5
_GAP_SD_PER_SQRT_HOUR = 0.06  # in daily sd: a 1 h halt gaps 0.06, a 49 h weekend 0.42
_OPEN_AUCTION_SD = 0.08  # in daily sd, added to the 09:30 minute

# Volume (contracts per minute at the midday profile level, once the contract is mature).
_VOLUME_MIDDAY = 1200.0
_VOLUME_PROFILE_POWER = 2.5  # volume ~ u**2.5: overnight a few % of the open
_VOLUME_VOL_POWER = 0.8  # busier on volatile days and hours
_VOLUME_NOISE_SD = 0.5
_MES_LAUNCH = dt.date(2019, 5, 6)

# Approximate front-month levels (index points) the path is pinned to (a Brownian bridge between
# consecutive anchors, so the 2019-2025 path stays within the range the contract really traded).
_LEVELS = {
    "ES": ((2019, 5, 1, 2930), (2019, 8, 15, 2850), (2020, 1, 2, 3250), (2020, 2, 19, 3390), (2020, 3, 23, 2240),
           (2020, 6, 8, 3230), (2020, 10, 1, 3350), (2021, 1, 4, 3700), (2021, 4, 1, 4000), (2021, 7, 1, 4320),
           (2021, 10, 4, 4300), (2022, 1, 3, 4780), (2022, 3, 8, 4170), (2022, 6, 16, 3670), (2022, 10, 12, 3580),
           (2023, 1, 3, 3850), (2023, 4, 3, 4120), (2023, 7, 31, 4610), (2023, 10, 27, 4140), (2024, 1, 2, 4800),
           (2024, 4, 1, 5300), (2024, 7, 16, 5700), (2024, 10, 1, 5750), (2025, 1, 2, 5900), (2025, 4, 8, 4980),
           (2025, 7, 1, 6250), (2025, 10, 1, 6750), (2025, 11, 20, 6600), (2025, 12, 31, 6850)),
    "NQ": ((2019, 5, 1, 7800), (2020, 1, 2, 8750), (2020, 3, 23, 6950), (2021, 1, 4, 12900), (2022, 1, 3, 16300),
           (2023, 1, 3, 11000), (2024, 1, 2, 16900), (2025, 1, 2, 21200), (2025, 4, 8, 17200), (2026, 1, 2, 25500)),
}

#: Planted edge (see the module docstring): the state's log-volume loading, and the largest AUC
#: the mechanism can plant (its unknown future states add drift noise: rho < 1 / sqrt(6)).
_EDGE_VOLUME_LOADING = 1.0
_EDGE_HORIZON_BARS = 6
#: What the lab's LightGBM loses reading the state through the 24 features (volume_ratio_20 mostly,
#: with time of day for the volume profile), in AUC: measured on the default data, oracle 0.565 ->
#: validation 0.547, oracle 0.580 -> 0.568, oracle 0.633 -> 0.624. The planted oracle AUC is
#: ``edge_auc + _MODEL_AUC_LOSS`` so that the model's AUC is near ``edge_auc``.
_MODEL_AUC_LOSS = 0.012
_MAX_ORACLE_AUC = 0.5 + 2.0 / np.pi * float(np.arcsin(1.0 / np.sqrt(2.0 * _EDGE_HORIZON_BARS)))
MAX_EDGE_AUC = round(_MAX_ORACLE_AUC - _MODEL_AUC_LOSS - 0.004, 2)


def generate_minutes(
    start: dt.date,
    end: dt.date,
    seed: int,
    instrument: Instrument,
    calendar_name: str = "XNYS",
    edge_auc: float = 0.0,
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
    edge_auc : float, default 0.0
        Planted direction edge: the ROC AUC of ``target_6bar`` that a model reading the hidden
        state perfectly would reach (see the module docstring). 0 (or 0.5) plants nothing and
        gives the honest martingale; otherwise 0.5 < ``edge_auc`` < :data:`MAX_EDGE_AUC`.

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
    >>> from lab.market.instruments import get_instrument
    >>> frame = generate_minutes(dt.date(2023, 3, 6), dt.date(2023, 3, 10), 7, get_instrument("MES"))
    >>> len(frame), str(frame.index[0]), str(frame.index[-1])  # 5 x 23 h x 60 = 6,900 less one quiet minute
    (6899, '2023-03-05 18:00:00-05:00', '2023-03-10 16:59:00-05:00')
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

    # Planted edge: a hidden state per regular-session 5-minute bar, drift in the next bar.
    state_of_row, drift = _plant_edge(edge_auc, seed, k, k_open, k_close, day_of, rth, sigma)

    # Latent log path; open = previous close + gap; high/low from the Brownian bridge extremes.
    step = sigma * rng.standard_normal(len(k)) + drift
    x_close = np.cumsum(gap + step)
    x_close += _pin_to_levels(x_close, stamps, instrument.symbol, days["dates"][0])
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
    if state_of_row is not None:  # the state shows in its bar's volume (mean-preserving lognormal factor)
        lam[rth] *= np.exp(_EDGE_VOLUME_LOADING * state_of_row - 0.5 * _EDGE_VOLUME_LOADING**2)
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
    import exchange_calendars as xcals  # ~75 ms (every exchange's calendar): only featurize's reads skip it

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


def _anchors(symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """Anchor dates (ordinal days) and log levels of the contract's history."""
    key = "NQ" if symbol.upper() in ("NQ", "MNQ") else "ES"
    rows = _LEVELS[key]
    return (np.array([dt.date(y, m, d).toordinal() for y, m, d, _ in rows], dtype=np.float64),
            np.log(np.array([v for *_, v in rows], dtype=np.float64)))


def _start_level(symbol: str, first: dt.date) -> float:
    """Approximate historical front-month level (index points) at ``first``, log-interpolated."""
    when, levels = _anchors(symbol)
    return float(np.exp(np.interp(first.toordinal(), when, levels)))


def _pin_to_levels(walk: np.ndarray, stamps_ns: np.ndarray, symbol: str, first: dt.date) -> np.ndarray:
    """The log correction that turns a random walk from 0 into a bridge through the anchor levels.

    The walk is pinned at its first minute (the level interpolated at ``first``) and at the first
    minute of each anchor date inside the range; the correction is linear in the minute count
    between pins and constant after the last one. Within a year it is a constant drift of a few
    hundredths of a basis point a minute, far below anything a 5-minute model can use.
    """
    when, levels = _anchors(symbol)
    days = stamps_ns // (86_400 * 1_000_000_000) + dt.date(1970, 1, 1).toordinal()  # UTC day ordinal
    inside = (when > days[0]) & (when <= days[-1])
    pins = np.concatenate(([0], np.searchsorted(days, when[inside])))
    targets = np.concatenate(([np.log(_start_level(symbol, first))], levels[inside]))
    pins, unique = np.unique(pins, return_index=True)
    offsets = targets[unique] - walk[pins]
    return np.interp(np.arange(len(walk), dtype=np.float64), pins.astype(np.float64), offsets)


def edge_strength(edge_auc: float) -> float:
    """Drift of the planted edge, in units of the next bar's diffusion sd, for a target AUC.

    With the state ``s`` ~ N(0, 1), the 6-bar log move in units of the bar sd is
    ``M = c * (s_t + s_{t+1} + ... + s_{t+5}) + N(0, 6)``, so ``corr(s_t, M) = rho =
    c / sqrt(6 (1 + c**2))``, and for a bivariate normal pair the AUC of ``s_t`` for the label
    ``M > 0`` is ``1/2 + (2 / pi) * arcsin(rho / sqrt(2))`` (an orthant probability of three
    normals). Inverted: ``rho = sqrt(2) sin(pi (AUC - 1/2) / 2)``, ``c = sqrt(6 rho**2 / (1 - 6 rho**2))``.
    """
    if not 0.5 < edge_auc < MAX_EDGE_AUC:
        raise ConfigError(f"synthetic data: edge_auc = {edge_auc!r} must be 0 (no edge) or between 0.5 and "
                          f"{MAX_EDGE_AUC:.3f} (the most this mechanism can plant); pass e.g. 0.56")
    oracle = edge_auc + _MODEL_AUC_LOSS
    rho = np.sqrt(2.0) * np.sin(np.pi * (oracle - 0.5) / 2.0)
    n = _EDGE_HORIZON_BARS
    return float(np.sqrt(n * rho * rho / (1.0 - n * rho * rho)))


def _plant_edge(edge_auc: float, seed: int, k: np.ndarray, k_open: np.ndarray, k_close: np.ndarray,
                day_of: np.ndarray, rth: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Hidden state per regular-session minute (its bar's) and the drift per minute; scales ``sigma``.

    Returns ``(None, zeros)`` and leaves ``sigma`` alone when ``edge_auc`` is 0 or 0.5. Otherwise
    ``sigma`` is shrunk in place by ``1 / sqrt(1 + c**2)`` on every drifted minute, so a bar's total
    variance (and every range statistic) is what it is without the edge.
    """
    drift = np.zeros(len(k))
    if edge_auc in (0.0, 0.5):
        return None, drift
    c = edge_strength(edge_auc)
    rows = np.flatnonzero(rth)
    bar_in_day = (k[rows] - k_open[rows]) // 5
    bars_per_day = np.bincount(day_of[rows], minlength=int(day_of[-1]) + 1) // 5
    first_bar = np.concatenate(([0], np.cumsum(bars_per_day)[:-1]))
    bar = first_bar[day_of[rows]] + bar_in_day
    state = np.random.default_rng([seed, 0xED6E]).standard_normal(int(bars_per_day.sum()))
    previous = np.concatenate(([0.0], state[:-1]))
    drifted = bar_in_day > 0  # the first bar of a session has no predecessor in it
    shrink = 1.0 / np.sqrt(1.0 + c * c)
    sd = sigma[rows]
    drift[rows] = np.where(drifted, c * shrink * previous[bar] * sd / np.sqrt(5.0), 0.0)
    sigma[rows] = np.where(drifted, sd * shrink, sd)
    return state[bar], drift


def _adoption(dates: np.ndarray) -> np.ndarray:
    """Volume level of a young contract: 0.2 at the May 2019 launch, ~0.9 after a year, then 1."""
    years = np.array([(d - _MES_LAUNCH).days for d in dates], dtype=np.float64) / 365.25
    return 1.0 / (1.0 + 4.0 * np.exp(-2.5 * np.maximum(years, 0.0)))


def random_walk_minutes(start: str, end: str, seed: int = 0, overnight: bool = False,
                        tick: float = 0.25) -> pd.DataFrame:
    """A plain random walk on ticks for every XNYS session between two ET dates (inclusive), in points.

    Small, fast fixtures for tests and benchmarks (not the synthetic default: :func:`generate_minutes`).
    Regular-session minutes only, unless ``overnight`` adds 18:00 (previous evening) .. 09:29 ET.

    >>> m = random_walk_minutes("2023-03-01", "2023-03-02", seed=1)
    >>> len(m), str(m.index[0]), list(m.columns)
    (780, '2023-03-01 09:30:00-05:00', ['open', 'high', 'low', 'close', 'volume'])
    """
    rng = np.random.default_rng(seed)
    sessions = regular_sessions("XNYS", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    stamps = []
    for _, row in sessions.iterrows():
        first = row.session_open - pd.Timedelta(hours=15, minutes=30) if overnight else row.session_open
        stamps.append(pd.date_range(first, row.session_close - pd.Timedelta(minutes=1), freq="min"))
    index = pd.DatetimeIndex(stamps[0].append(stamps[1:]), name="time").as_unit("ns")
    n = len(index)
    close = 4000.0 + np.cumsum(rng.integers(-2, 3, n)) * tick
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.integers(0, 3, n) * tick
    low = np.minimum(open_, close) - rng.integers(0, 3, n) * tick
    volume = rng.integers(1, 500, n).astype("int64")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)
