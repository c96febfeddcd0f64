"""Futures contract specifications: tick size (index points) and tick value (USD)."""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import ConfigError

__all__ = ["Instrument", "INSTRUMENTS", "get_instrument"]


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
