"""Futures contract specifications: tick size (index points) and tick value (USD), and the checks
that a minute file is of the configured instrument (its file name's symbol, its price level)."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Callable, Mapping

from lab.errors import ConfigError
from lab.market.sessions import regular_sessions

__all__ = ["Instrument", "INSTRUMENTS", "get_instrument", "symbol_in_filename", "price_level_mismatch",
           "instrument_warnings", "RollSchedule", "ROLL_SCHEDULES", "MONTH_CODES", "roll_schedule", "third_friday",
           "expiry_date", "roll_date", "ScheduledRoll", "SessionDays", "scheduled_rolls", "contract_name", "parse_contract_name"]


@dataclass(frozen=True)
class Instrument:
    """A futures contract.

    Attributes
    ----------
    symbol : str
        Root symbol, e.g. ``"MES"``.
    tick_size : float
        Minimum price increment in index points (MES: 0.25).
    tick_value_usd : float
        Dollar value of one tick for one contract (MES: 1.25).
    """

    symbol: str
    tick_size: float
    tick_value_usd: float

    @property
    def point_value_usd(self) -> float:
        """Dollar value of a one-point move for one contract (MES: 5.0)."""
        return self.tick_value_usd / self.tick_size


INSTRUMENTS: dict[str, Instrument] = {
    "MES": Instrument("MES", 0.25, 1.25),
    "ES": Instrument("ES", 0.25, 12.50),
    "MNQ": Instrument("MNQ", 0.25, 0.50),
    "NQ": Instrument("NQ", 0.25, 5.00),
}


def get_instrument(symbol: str) -> Instrument:
    """Return the built-in :class:`Instrument` for ``symbol`` (case-insensitive)."""
    try:
        return INSTRUMENTS[symbol.upper()]
    except KeyError:
        known = ", ".join(sorted(INSTRUMENTS))
        raise ConfigError(
            f"[data] instrument = {symbol!r} is not a built-in instrument; use one of {known}"
        ) from None


#: Root symbols a vendor file name may carry (FirstRate: ``NQ_full_1min_continuous_UNadjusted.txt``).
KNOWN_ROOTS = frozenset({*INSTRUMENTS, "YM", "MYM", "RTY", "M2K", "EMD", "NKD", "CL", "MCL", "GC", "MGC", "SI",
                         "ZN", "ZB", "ZF", "ZT", "6E", "6J", "VX"})

#: The underlying index of each built-in instrument.
_INDEX = {"MES": "S&P 500", "ES": "S&P 500", "MNQ": "Nasdaq-100", "NQ": "Nasdaq-100"}

#: Approximate yearly low and high of each index (index points), rounded outward; futures trade
#: within a few percent of it. Years outside the table are not checked.
INDEX_YEARLY_RANGE: dict[str, dict[int, tuple[float, float]]] = {
    "S&P 500": {2008: (750, 1470), 2009: (666, 1130), 2010: (1010, 1260), 2011: (1070, 1370), 2012: (1260, 1470),
                2013: (1430, 1850), 2014: (1730, 2100), 2015: (1860, 2140), 2016: (1810, 2280), 2017: (2240, 2700),
                2018: (2340, 2950), 2019: (2440, 3250), 2020: (2190, 3760), 2021: (3660, 4820), 2022: (3490, 4820),
                2023: (3780, 4800), 2024: (4680, 6100), 2025: (4830, 7000)},
    "Nasdaq-100": {2008: (1040, 2050), 2009: (1040, 1870), 2010: (1700, 2240), 2011: (2030, 2440),
                   2012: (2440, 2880), 2013: (2650, 3600), 2014: (3400, 4300), 2015: (3950, 4720),
                   2016: (3900, 4990), 2017: (4860, 6500), 2018: (5900, 7700), 2019: (6300, 8750),
                   2020: (6770, 12900), 2021: (12600, 16600), 2022: (10400, 16500), 2023: (10700, 16900),
                   2024: (16300, 21900), 2025: (16500, 26200)},
}
_LEVEL_TOLERANCE = 0.2  # a yearly median price this far outside the year's range disagrees


def symbol_in_filename(name: str) -> str | None:
    """The first known futures root among the file name's ``_``/``-``/``.``-separated upper-case
    words (``NQ_full_1min_UNadjusted.zip`` -> ``"NQ"``), or None."""
    for word in re.split(r"[_\-. ]+", name):
        if word in KNOWN_ROOTS:
            return word
    return None


def price_level_mismatch(symbol: str, yearly_median: Mapping[int, float]) -> str | None:
    """Why prices do not look like ``symbol``'s (None when they do, or cannot be checked).

    Parameters
    ----------
    symbol : str
        Configured instrument (``[data] instrument``).
    yearly_median : mapping
        Calendar year -> median close of the file in that year (index points).
    """
    table = INDEX_YEARLY_RANGE.get(_INDEX.get(symbol.upper(), ""), {})
    for year, median in sorted(yearly_median.items()):
        if year not in table:
            continue
        low, high = table[year]
        if not low * (1 - _LEVEL_TOLERANCE) <= median <= high * (1 + _LEVEL_TOLERANCE):
            return (f"the median price in {year} is {median:,.2f}, but {symbol} ({_INDEX[symbol.upper()]}) traded about "
                    f"{low:,.0f}..{high:,.0f} that year")
    return None


def instrument_warnings(file_name: str, symbol: str, yearly_median: Mapping[int, float]) -> list[str]:
    """Warnings when a minute file does not look like the configured instrument: its name's symbol
    differs (MES and ES, MNQ and NQ share their index and so their prices, not their names), or its
    price level is off."""
    out = []
    named = symbol_in_filename(file_name)
    if named is not None and named != symbol.upper():
        out.append(f"{file_name}: the file name says {named}, but [data] instrument = {symbol!r}; tick size and "
                   f"value are {symbol}'s: set [data] instrument = \"{named}\" if the file is {named}")
    level = price_level_mismatch(symbol, yearly_median)
    if level is not None:
        out.append(f"{file_name}: {level}; is [data] instrument = {symbol!r} right for this file?")
    return out


# --- Contract rolls -------------------------------------------------------------------------------
#
# Where a root's roll schedule goes: one :class:`RollSchedule` entry in :data:`ROLL_SCHEDULES`
# (its contract months, its expiry rule and its roll rule). A root with other rules (CL: monthly,
# expiry three business days before the 25th of the prior month; ZN: H/M/U/Z, rolled at the end
# of the month before delivery) brings its own ``expiry`` and ``roll`` functions of
# ``(year, month, calendar)``; the data doctor, the roll adjustment and the contract stitcher read
# nothing else.

#: CME month codes, January..December.
MONTH_CODES = "FGHJKMNQUVXZ"


def third_friday(year: int, month: int) -> dt.date:
    """The third Friday of a month.

    >>> third_friday(2024, 3)
    datetime.date(2024, 3, 15)
    >>> third_friday(2023, 12)
    datetime.date(2023, 12, 15)
    """
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


@functools.lru_cache(maxsize=16)
def _sessions_of_decade(calendar: str, decade: int) -> tuple[dt.date, ...]:
    """The sessions of a decade and of the month before it (one calendar build per decade: a
    build costs about 0.1 s, a roll table asks for two dates per quarter)."""
    first, last = dt.date(decade * 10, 1, 1), dt.date(decade * 10 + 9, 12, 31)
    sessions = regular_sessions(calendar, first - dt.timedelta(days=31), last)
    return tuple(d.date() for d in sessions.index)


@dataclass(frozen=True)
class SessionDays:
    """Known session dates of a calendar (sorted); outside them, Monday..Friday stand in.

    A caller that already holds a file's sessions passes them here (no calendar is built again);
    roll dates past the file's end then use weekdays, which only matters where there is no data.
    """

    dates: tuple[dt.date, ...]

    def on_or_before(self, day: dt.date) -> dt.date:
        """``day`` when it is a session, else the latest session before it."""
        if self.dates and self.dates[0] <= day <= self.dates[-1]:
            return self.dates[bisect.bisect_right(self.dates, day) - 1]
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
        return day


def _session_days(calendar: "str | SessionDays", year: int) -> SessionDays:
    if isinstance(calendar, SessionDays):
        return calendar
    return SessionDays(_sessions_of_decade(calendar, year // 10))


def _session_on_or_before(day: dt.date, calendar: "str | SessionDays") -> dt.date:
    """``day`` when it is a session of ``calendar``, else the latest session before it."""
    return _session_days(calendar, day.year).on_or_before(day)


def _equity_index_expiry(year: int, month: int, calendar: "str | SessionDays") -> dt.date:
    """CME equity index futures: the third Friday, or the session before it when that Friday is an
    exchange holiday (Good Friday 2008-03-21: the March 2008 contracts expired Thursday the 20th)."""
    return _session_on_or_before(third_friday(year, month), calendar)


def _equity_index_roll(year: int, month: int, calendar: "str | SessionDays") -> dt.date:
    """CME equity index roll: the Thursday eight days before the third Friday (the session before
    when that Thursday is a holiday)."""
    return _session_on_or_before(third_friday(year, month) - dt.timedelta(days=8), calendar)


@dataclass(frozen=True)
class RollSchedule:
    """When a root's contracts expire and when the market rolls to the next one.

    Attributes
    ----------
    months : str
        Contract month codes listed (:data:`MONTH_CODES` letters), e.g. ``"HMUZ"``.
    expiry : callable
        ``expiry(year, month, calendar) -> date`` (``calendar``: an exchange_calendars name or
        :class:`SessionDays`): the last trading day of a contract.
    roll : callable
        ``roll(year, month, calendar) -> date``: the session on which volume moves from this
        contract to the next listed one (the continuous series switches there).
    """

    months: str
    expiry: Callable[[int, int, "str | SessionDays"], dt.date]
    roll: Callable[[int, int, "str | SessionDays"], dt.date]


#: CME equity index: quarterly H/M/U/Z, expiry the third Friday, roll the Thursday eight days before.
CME_EQUITY_INDEX = RollSchedule("HMUZ", _equity_index_expiry, _equity_index_roll)

#: The roll schedule of each root the lab knows (add a root here: see the comment above).
ROLL_SCHEDULES: dict[str, RollSchedule] = {root: CME_EQUITY_INDEX for root in ("ES", "MES", "NQ", "MNQ")}


def roll_schedule(root: str) -> RollSchedule:
    """The :class:`RollSchedule` of a root symbol (case-insensitive)."""
    try:
        return ROLL_SCHEDULES[root.upper()]
    except KeyError:
        raise ConfigError(f"no roll schedule for {root!r}; the lab knows {', '.join(sorted(ROLL_SCHEDULES))} "
                          "(add one to ROLL_SCHEDULES in lab/market/instruments.py)") from None


def expiry_date(root: str, year: int, month: int, calendar: "str | SessionDays" = "XNYS") -> dt.date:
    """The last trading day of ``root``'s contract of ``year``-``month``.

    >>> expiry_date("MES", 2024, 3)
    datetime.date(2024, 3, 15)
    >>> expiry_date("ES", 2008, 3)  # the third Friday was Good Friday
    datetime.date(2008, 3, 20)
    """
    return roll_schedule(root).expiry(year, month, calendar)


def roll_date(root: str, year: int, month: int, calendar: "str | SessionDays" = "XNYS") -> dt.date:
    """The session on which ``root`` rolls out of its ``year``-``month`` contract into the next.

    >>> roll_date("MES", 2024, 3)  # Thursday, eight days before Friday 2024-03-15
    datetime.date(2024, 3, 7)
    >>> roll_date("NQ", 2023, 12)
    datetime.date(2023, 12, 7)
    """
    return roll_schedule(root).roll(year, month, calendar)


@dataclass(frozen=True)
class ScheduledRoll:
    """One roll of a root: out of ``front`` into ``next`` on ``date``; ``front`` expires on ``expiry``."""

    date: dt.date
    expiry: dt.date
    front: str
    next: str


def contract_name(root: str, year: int, month: int) -> str:
    """The vendor-style contract name: root, month code, two-digit year.

    >>> contract_name("MES", 2024, 3)
    'MESH24'
    """
    return f"{root.upper()}{MONTH_CODES[month - 1]}{year % 100:02d}"


_CONTRACT = re.compile(r"^(?P<root>[A-Z0-9]*?[A-Z])[_\-. ]?(?P<code>[FGHJKMNQUVXZ])(?P<year>\d{1,4})$")


def parse_contract_name(name: str) -> tuple[str, int, int] | None:
    """``(root, year, month)`` of a vendor contract name, or None.

    Accepts ``MESH24``, ``MES_H24``, ``MES-H2024``, ``mesh4`` (one digit: the decade nearest 2020s)
    and file names around them (``MESH24.txt``, ``MES_H24_1min.csv``: the first word that parses).

    >>> parse_contract_name("MESH24")
    ('MES', 2024, 3)
    >>> parse_contract_name("MES_H24_1min.txt")
    ('MES', 2024, 3)
    >>> parse_contract_name("ES-Z2019.csv")
    ('ES', 2019, 12)
    >>> parse_contract_name("notes.txt") is None
    True
    """
    stem = name.upper()
    for suffix in (".ZIP", ".GZ"):
        stem = stem.removesuffix(suffix)
    stem = re.sub(r"\.(TXT|CSV|PARQUET|PQ)$", "", stem)
    words = re.split(r"[_\-. ]+", stem)
    candidates = ["".join(words[i:i + 2]) for i in range(len(words) - 1)] + words
    for word in candidates:
        match = _CONTRACT.match(word)
        if match is None or match["root"] not in KNOWN_ROOTS:
            continue
        digits = match["year"]
        year = int(digits) if len(digits) == 4 else (2000 + int(digits) if len(digits) == 2 else 2020 + int(digits))
        if len(digits) == 3:
            continue
        return match["root"], year, MONTH_CODES.index(match["code"]) + 1
    return None


def scheduled_rolls(root: str, start: dt.date, end: dt.date, calendar: "str | SessionDays" = "XNYS"
                    ) -> list[ScheduledRoll]:
    """Every roll of ``root`` whose roll date lies in ``start..end`` (inclusive), oldest first.

    >>> [(r.date.isoformat(), r.front, r.next) for r in scheduled_rolls("MES", dt.date(2024, 1, 1), dt.date(2024, 7, 1))]
    [('2024-03-07', 'MESH24', 'MESM24'), ('2024-06-13', 'MESM24', 'MESU24')]
    """
    schedule = roll_schedule(root)
    months = [MONTH_CODES.index(code) + 1 for code in schedule.months]
    out = []
    for year in range(start.year, end.year + 2):
        for i, month in enumerate(months):
            day = roll_date(root, year, month, calendar)
            if start <= day <= end:
                nxt_year, nxt_month = (year, months[i + 1]) if i + 1 < len(months) else (year + 1, months[0])
                out.append(ScheduledRoll(day, expiry_date(root, year, month, calendar), contract_name(root, year, month),
                                         contract_name(root, nxt_year, nxt_month)))
    return out
