"""The paper trader's state machine: completed bars and probabilities in, trades and orders out.

The rules are the backtest engine's, not a copy: :class:`PaperTrader` holds the engine's book,
counters and a one-record trade buffer (:func:`lab.backtest.engine.new_book`, ...) and calls the
same compiled :func:`lab.backtest.engine.on_bar_open` and :func:`lab.backtest.engine.on_bar_close`
that :func:`lab.backtest.engine.simulate` loops over, one completed bar at a time. Fed the bars and
probabilities a backtest sees, it books the same trades (``tests/lab/paper`` proves it to the cent).

One thing a stream does not know at a bar's close is whether that bar is its session's last
(``simulate`` looks at the next array element). A bar that reaches the session close is; any
other bar is closed provisionally as "not last", and the book and counters are snapshot first.
If the next bar belongs to another session, a minute at or after the session close arrives
(:meth:`PaperTrader.on_time`), or the stream ends (:meth:`PaperTrader.finish`), the bar is
re-closed from the snapshot as the last one (a missing flatten bar: flatten at its close; no exit
scheduled for a next open that will not come). Orders of the provisional close stand: a target,
stop or time exit inside the bar does not depend on it.

Units: times in int64 ns since the epoch (UTC), prices in index points, P&L in USD.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lab.backtest import engine
from lab.backtest.run import BacktestResult, reason_names, trades_frame, engine_params
from lab.config import CostsConfig, RulesConfig, StrategyConfig
from lab.market.instruments import Instrument, get_instrument
from lab.live.signal import BarRule
from lab.paper.orders import Order
from lab.rules import entry_cutoffs_ns

__all__ = ["PaperBar", "PaperTrader", "SIGNAL_COLUMNS"]

NY = ZoneInfo("America/New_York")
_EPOCH = dt.date(1970, 1, 1)
_EMPTY_NS = np.empty(0, np.int64)
_EMPTY_PRICES = np.empty(0, np.float64)

#: Columns of the paper run's ``signals.csv`` (one row per completed bar traded on).
SIGNAL_COLUMNS = ("time", "probability", "side", "contracts", "stopped_by")


class PaperBar(NamedTuple):
    """A completed regular-session bar and the 1-minute bars inside it.

    ``minute_*`` hold the minutes starting in ``[start_ns, start_ns + bar length)`` (sorted; used
    only when a target and a stop both lie inside the bar). Times ns since the epoch (UTC).
    """

    start_ns: int
    open: float
    high: float
    low: float
    close: float
    session_open_ns: int
    session_close_ns: int
    minute_ns: np.ndarray = _EMPTY_NS
    minute_open: np.ndarray = _EMPTY_PRICES
    minute_high: np.ndarray = _EMPTY_PRICES
    minute_low: np.ndarray = _EMPTY_PRICES



class _Provisional(NamedTuple):
    j: int
    bar: PaperBar
    book: np.ndarray
    counters: np.ndarray
    closed: bool


class _Columns(NamedTuple):
    """What the trades table needs per bar (duck-types the backtest's prepared arrays)."""

    start_ns: np.ndarray
    open_ns: np.ndarray
    close_ns: np.ndarray
    session: np.ndarray
    probability: np.ndarray
    confidence: np.ndarray


class PaperTrader:
    """A strategy under the backtest's rules, one completed bar at a time.

    Parameters
    ----------
    rules : RulesConfig
        Entry threshold, size tiers, exits, cut-off times, risk limits.
    costs : CostsConfig
        Commission and slippage.
    instrument : Instrument, optional
        Tick size and value; default MES.
    bar_minutes : int, default 5
    long_only : bool, default False
        No short signals (a ``target_trade`` model; direction only).
    strategy : StrategyConfig, optional
        The strategy (default direction); breakout and mean reversion take P(high range) as the
        probability and the values of :attr:`features` with each bar, and trade their own exits.

    Examples
    --------
    >>> from lab.market.sessions import regular_sessions
    >>> day = regular_sessions("XNYS", dt.date(2023, 3, 6), dt.date(2023, 3, 6)).iloc[0]
    >>> open_ns, close_ns, five = day.session_open.value, day.session_close.value, 5 * 60_000_000_000
    >>> trader = PaperTrader(RulesConfig(), CostsConfig())
    >>> trader.on_bar(PaperBar(open_ns, 4000.0, 4000.5, 3999.5, 4000.0, open_ns, close_ns), 0.65)  # P(up) 0.65
    []
    >>> orders = trader.on_bar(PaperBar(open_ns + five, 4000.0, 4002.0, 3999.75, 4001.5, open_ns, close_ns), 0.5)
    >>> [(order.action, order.price, order.reason) for order in orders]  # long at the open + 1 tick, 6-tick target
    [('entry', 4000.25, 'signal'), ('exit', 4001.75, 'target')]
    >>> trader.result().trades["pnl_usd"].tolist()  # a BacktestResult, as run_backtest returns: 6 x $1.25 - $0.84
    [6.66]
    """

    def __init__(self, rules: RulesConfig, costs: CostsConfig, instrument: Instrument | None = None,
                 bar_minutes: int = 5, long_only: bool = False, strategy: StrategyConfig | None = None) -> None:
        self.rules, self.costs = rules, costs
        self.instrument = instrument or get_instrument("MES")
        self.bar_minutes = bar_minutes
        self.long_only = long_only
        self.rule = BarRule(strategy, rules, bar_minutes, long_only)
        self.params = engine_params(rules, costs, self.instrument, bar_minutes, self.rule.exits)
        self._book, self._counters = engine.new_book(), engine.new_counters()
        self._trade = np.zeros(1, engine.TRADE_DTYPE)
        self._trades: list[np.ndarray] = []
        self._reasons = reason_names(self.rule.exit_reason)
        self._provisional: _Provisional | None = None
        self._days: dict[int, int] = {}
        self._start: list[int] = []
        self._session_open: list[int] = []
        self._session_close: list[int] = []
        self._session: list[int] = []
        self._probability: list[float] = []
        self._confidence: list[float] = []
        self._signal: list[int] = []
        self._contracts: list[int] = []
        self._exit_signal: list[bool] = []
        self._decisions: list[tuple[int, float, str, int, str]] = []

    # -- events -----------------------------------------------------------------------------

    @property
    def features(self) -> tuple[str, ...]:
        """The strategy's own feature columns whose values :meth:`on_bar` takes (none for direction)."""
        return self.rule.features

    def on_bar(self, bar: PaperBar, probability: float, values: tuple[float, ...] = ()) -> list[Order]:
        """Book one completed bar whose close gives ``probability`` (P(up), or P(high range) for
        breakout and mean reversion; NaN: no signal) and ``values`` of :attr:`features`.

        Runs the engine's open step (exits at the open, then an entry on the previous bar's
        signal) and close step (barriers inside the bar, time stop; a reversal scheduled).

        Returns
        -------
        list of Order
            The fills this bar made (and those of a previous bar re-closed as its session's last).
        """
        orders: list[Order] = []
        day = self._session_day(bar.session_open_ns)
        if self._provisional is not None:
            if self._provisional_day() != day:
                orders += self._reclose_as_last()
            self._provisional = None
        j = len(self._start)
        signal, confidence, contracts, exit_signal = self._decide(bar, probability, values)
        self._start.append(bar.start_ns)
        self._session_open.append(bar.session_open_ns)
        self._session_close.append(bar.session_close_ns)
        self._session.append(day)
        self._probability.append(probability)
        self._confidence.append(confidence)
        self._signal.append(signal)
        self._contracts.append(contracts)
        self._exit_signal.append(exit_signal)
        same = j > 0 and self._session[j - 1] == day
        previous_signal = self._signal[j - 1] if same else 0
        previous_contracts = self._contracts[j - 1] if same else 0
        last_entry_ns, flatten_ns = entry_cutoffs_ns(bar.session_close_ns, self.rules.last_entry_minutes_before_close,
                                                     self.rules.flatten_minutes_before_close)
        book, counters, trade = self._book[0], self._counters[0], self._trade[0]
        if engine.on_bar_open(book, self.params, counters, trade, j, day, bar.open, bar.start_ns, last_entry_ns,
                              flatten_ns, previous_signal, previous_contracts):
            orders.append(self._book_trade())
        if book["side"] != 0 and book["entry_bar"] == j:
            orders.append(Order(_iso(bar.start_ns), "entry", "long" if book["side"] > 0 else "short",
                                int(book["contracts"]), float(book["fill"]), "signal", float(book["target"]),
                                float(book["stop"])))
        last = bar.start_ns + self.params.bar_ns >= bar.session_close_ns
        if not last:
            self._provisional = _Provisional(j, bar, self._book.copy(), self._counters.copy(), False)
        closed = self._close(j, bar, last)
        if closed:
            orders.append(self._book_trade())
        if self._provisional is not None:
            self._provisional = self._provisional._replace(closed=closed)
        return orders

    def on_time(self, now_ns: int) -> list[Order]:
        """The clock reached ``now_ns`` (a minute's start): a bar whose session has closed was its last."""
        if self._provisional is not None and now_ns >= self._provisional.bar.session_close_ns:
            return self._reclose_as_last()
        return []

    def finish(self) -> list[Order]:
        """The stream ended: the last bar seen is its session's last (as at the end of a backtest's bars)."""
        return self._reclose_as_last() if self._provisional is not None else []

    # -- results ----------------------------------------------------------------------------

    @property
    def bars(self) -> int:
        """Bars booked so far."""
        return len(self._start)

    @property
    def position(self) -> tuple[str, int]:
        """The open position: ``("long" | "short" | "flat", contracts)``."""
        book = self._book[0]
        side = int(book["side"])
        return ("flat", 0) if side == 0 else ("long" if side > 0 else "short", int(book["contracts"]))

    def result(self) -> BacktestResult:
        """The trades so far, as :func:`lab.backtest.run_backtest` tables them (same columns, dtypes, units)."""
        records = np.concatenate(self._trades) if self._trades else np.empty(0, engine.TRADE_DTYPE)
        session = np.asarray(self._session, np.int64)
        columns = _Columns(np.asarray(self._start, np.int64), np.asarray(self._session_open, np.int64),
                           np.asarray(self._session_close, np.int64), session,
                           np.asarray(self._probability, np.float64), np.asarray(self._confidence, np.float64))
        trades = trades_frame(records, columns, self.rules, self.rule.exit_reason)
        days = np.unique(session).astype("datetime64[D]").astype("datetime64[ns]")
        diagnostics = {"bars": self.bars, **{name: int(self._counters[0][name]) for name in engine.COUNTER_NAMES}}
        settings = {"strategy": self.rule.name, "instrument": self.instrument.symbol, "bar_minutes": self.bar_minutes,
                    "long_only": self.long_only}
        return BacktestResult(trades, pd.DatetimeIndex(days, name="session"), diagnostics, settings)

    def signals(self) -> pd.DataFrame:
        """One row per booked bar: its start (ISO 8601, New York), probability, side, contracts and
        the rule that stopped it (see :mod:`lab.live.signal`; ``long_only`` for a short of a long-only model)."""
        rows = self._decisions
        return pd.DataFrame({
            "time": [_iso(r[0]) for r in rows],
            "probability": np.array([r[1] for r in rows], np.float64),
            "side": [r[2] for r in rows],
            "contracts": np.array([r[3] for r in rows], np.int64),
            "stopped_by": [r[4] for r in rows],
        }, columns=list(SIGNAL_COLUMNS))

    # -- internals --------------------------------------------------------------------------

    def _decide(self, bar: PaperBar, probability: float, values: tuple[float, ...]) -> tuple[int, float, int, bool]:
        """The strategy's rule (signal, confidence, contracts, exit signal) and the logged decision."""
        if len(values) != len(self.rule.features):
            raise ValueError(f"the {self.rule.name} strategy reads {list(self.rule.features)}; got {len(values)} value(s)")
        out = self.rule(probability, bar.start_ns, bar.session_close_ns, values)
        d = out.decision
        self._decisions.append((bar.start_ns, probability, d.side, d.contracts, d.stopped_by))
        return out.signal, out.confidence, out.contracts, out.exit_signal

    def _close(self, j: int, bar: PaperBar, last: bool) -> bool:
        closed = bool(engine.on_bar_close(
            self._book[0], self.params, self._counters[0], self._trade[0], j, bar.high, bar.low, bar.close, bar.start_ns,
            last, self._signal[j], self._confidence[j] if self._signal[j] else 0.0, self._exit_signal[j],
            bar.minute_ns, bar.minute_open, bar.minute_high, bar.minute_low))
        if closed:  # the minute of a fill inside the bar, as run_backtest finds it
            engine.fill_exit_minutes(self._trade, self.params, bar.minute_ns, bar.minute_open, bar.minute_high,
                                     bar.minute_low)
        return closed

    def _reclose_as_last(self) -> list[Order]:
        """Redo the provisional bar's close step as its session's last bar, from the snapshot."""
        pending = self._provisional
        self._provisional = None
        if pending.closed:
            self._trades.pop()
        self._book[0] = pending.book[0]
        self._counters[0] = pending.counters[0]
        if not self._close(pending.j, pending.bar, True):
            return []
        order = self._book_trade()
        return [] if pending.closed else [order]  # an exit inside the bar was already reported

    def _book_trade(self) -> Order:
        record = self._trade.copy()
        self._trades.append(record)
        t = record[0]
        return Order(_iso(int(t["exit_ns"])), "exit", "long" if t["side"] > 0 else "short", int(t["contracts"]),
                     float(t["exit_price"]), str(self._reasons[int(t["reason"])]), pnl_usd=round(float(t["pnl_usd"]), 2))

    def _provisional_day(self) -> int:
        return self._session[self._provisional.j]

    def _session_day(self, session_open_ns: int) -> int:
        """Days since the epoch of the session's New York date (the engine's session number)."""
        day = self._days.get(session_open_ns)
        if day is None:
            local = dt.datetime.fromtimestamp(session_open_ns / 1e9, tz=NY).date()
            day = self._days[session_open_ns] = (local - _EPOCH).days
        return day


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").tz_convert("America/New_York").isoformat()
