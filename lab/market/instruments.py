"""Futures contract specifications: tick size (index points) and tick value (USD), and the checks
that a minute file is of the configured instrument (its file name's symbol, its price level)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from lab.errors import ConfigError

__all__ = ["Instrument", "INSTRUMENTS", "get_instrument", "symbol_in_filename", "price_level_mismatch",
           "instrument_warnings"]


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
