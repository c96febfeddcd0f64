"""The market model: contract specifications, the exchange's regular sessions, and which market a file is."""

from lab.market.identity import DataSource, instrument_family, is_synthetic_market, market_id
from lab.market.instruments import INSTRUMENTS, Instrument, get_instrument
from lab.market.sessions import regular_sessions

__all__ = ["DataSource", "INSTRUMENTS", "Instrument", "get_instrument", "instrument_family", "is_synthetic_market",
           "market_id", "regular_sessions"]
