"""The numba kernel: one pass over the bars, arrays in, arrays out, one small step function per rule.

:func:`simulate` knows nothing of pandas, configuration objects or time zones; the wrapper in
:mod:`lab.backtest.run` prepares its arrays and documents the rules. Compiled code is cached
on disk (numba's ``__pycache__`` beside this file, or ``NUMBA_CACHE_DIR``).

State and records (numba-friendly): :class:`EngineParams` (a named tuple of the rule values),
the book (one record of :data:`BOOK_DTYPE`: the open position and the session's risk state),
the counters (one record of :data:`COUNTER_DTYPE`, named fields) and the trades (records of
:data:`TRADE_DTYPE`). The per-bar steps are :func:`on_bar_open` (exits at the open, then an
entry) and :func:`on_bar_close` (barrier touches inside the bar, the time stop, a scheduled exit);
:func:`simulate` only loops over the bars and calls them. An event-driven caller (a paper trader)
calls the same two jitted functions one bar at a time with its own book, counters and one-row
trade array. The time, gap and touch decisions come from :mod:`lab.rules`, shared with the labels.

Rules implemented here (prices in index points, times in int64 ns since the epoch, UTC):

* at bar ``j``'s open, an open position is closed, in this order of precedence: flatten
  (``start[j] >= flatten_ns[j]``), a pending market exit from bar ``j - 1``'s close (reversal or
  strategy exit signal), a gap through the stop (fill at the open less exit slippage), a gap
  through the target (fill at the target: a resting limit);
* then, when flat, the signal of bar ``j - 1`` (same session) opens a position at ``open[j]``
  plus entry slippage if ``start[j] <= last_entry_ns[j]``, ``start[j] < flatten_ns[j]``, the
  session's realised loss has not reached the limit and no loss-streak pause is running;
* then, inside bar ``j`` (the entry bar included): target (limit, no slippage) and stop (stop
  price less exit slippage) from the high/low; both inside the bar -> the 1-minute bars decide
  (a minute that opens through a barrier fills as a gap; both in one minute -> stop);
* then, at the close: time stop when ``time_stop_bars`` bars are held (close less exit
  slippage), or a flatten at the close of a session's last bar if its flatten bar is missing;
* at the close, an opposite signal with confidence >= ``reversal_min_confidence`` (or the
  strategy's exit signal) schedules a market exit at the next open.

"Reaches the target" means trades ``target_beyond`` points beyond it (``[rules] limit_fill``:
``through`` demands ``limit_through_ticks`` ticks, ``touch`` none), at a bar's or minute's open
(a gap) and inside it alike; the stop is a stop order, touched at its price.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit

from lab import rules as _rules

__all__ = [
    "simulate",
    "on_bar_open",
    "on_bar_close",
    "new_book",
    "new_counters",
    "fill_exit_minutes",
    "EngineParams",
    "BOOK_DTYPE",
    "COUNTER_DTYPE",
    "TRADE_DTYPE",
    "COUNTER_NAMES",
    "REASON_TARGET",
    "REASON_STOP",
    "REASON_TIME",
    "REASON_FLATTEN",
    "REASON_REVERSAL",
    "REASON_EXIT_SIGNAL",
]

REASON_TARGET = 0
REASON_STOP = 1
REASON_TIME = 2
REASON_FLATTEN = 3
REASON_REVERSAL = 4
REASON_EXIT_SIGNAL = 5
_NO_EXIT = -1


class EngineParams(NamedTuple):
    """The rule values of one run (a numba-friendly record; prices in points, times in ns)."""

    tick_size: float  #: points per tick
    tick_value: float  #: USD per tick per contract
    target_ticks: float  #: profit target from the entry fill, ticks
    stop_ticks: float  #: stop from the entry fill, ticks
    time_stop_bars: int  #: bars held (entry bar = 1) before the time exit
    entry_slippage_ticks: float  #: against the position, ticks
    exit_slippage_ticks: float  #: against the position, ticks (not on target fills)
    commission: float  #: USD per contract per round trip
    daily_loss_limit: float  #: USD of realised session loss that stops new entries
    pause_after_losses: int  #: consecutive losses that start a pause (0: never)
    pause_ns: int  #: pause length, ns
    reversal_min_confidence: float  #: opposite signals at or above this exit (> 1: never)
    bar_ns: int  #: bar length, ns
    target_beyond: float  #: points a price must trade beyond the target to fill it (0: a touch fills)


#: The book: the open position and the session's risk state (one record, mutated by the steps).
BOOK_DTYPE = np.dtype([
    ("side", np.int64),  # +1 long, -1 short, 0 flat
    ("contracts", np.int64),
    ("entry_bar", np.int64),  # bar index of the entry (the caller's numbering)
    ("fill", np.float64),  # entry fill, points
    ("target", np.float64),
    ("stop", np.float64),
    ("best", np.float64),  # most favourable (price - fill) * side seen, points
    ("worst", np.float64),  # most adverse (fill - price) * side seen, points
    ("pending", np.int64),  # market exit scheduled for the next open: reason code, or -1
    ("session", np.int64),  # the session the risk state belongs to
    ("realised", np.float64),  # session's realised P&L, USD
    ("losses_in_row", np.int64),
    ("pause_until", np.int64),  # ns; no entry bar may start before it
    ("halted", np.bool_),  # the session's loss limit was reached
])

#: Named counters: why signals were refused, how barrier bars were resolved, risk events.
COUNTER_DTYPE = np.dtype([
    ("both_barriers_in_bar", np.int64),  # target and stop both inside one 5-minute bar
    ("resolved_by_minutes_target", np.int64),  # ... the 1-minute bars showed the target first
    ("resolved_by_minutes_stop", np.int64),  # ... the 1-minute bars showed the stop first (or a stop gap)
    ("same_minute_stop", np.int64),  # ... both inside one 1-minute bar: stop taken
    ("unresolved_stop", np.int64),  # ... no usable 1-minute bars: stop taken
    ("refused_after_last_entry", np.int64),  # entry bar after the last-entry time (or the flatten bar)
    ("refused_daily_loss_limit", np.int64),  # the session's loss limit was reached
    ("refused_loss_pause", np.int64),  # pause after consecutive losses
    ("ignored_in_position", np.int64),  # signal while a position was open (no pyramiding)
    ("gap_stop", np.int64),  # stop filled at a bar's open that gapped through it
    ("daily_loss_limit_hits", np.int64),  # sessions on which the loss limit was reached
    ("loss_pauses", np.int64),  # pauses started after consecutive losses
])

#: Names of the counters, in order.
COUNTER_NAMES: tuple[str, ...] = tuple(COUNTER_DTYPE.names)

#: One closed trade.
TRADE_DTYPE = np.dtype([
    ("entry_index", np.int64), ("exit_index", np.int64), ("side", np.int8), ("contracts", np.int64),
    ("entry_price", np.float64), ("exit_price", np.float64), ("reason", np.int8), ("pnl_usd", np.float64),
    ("mfe_ticks", np.float64), ("mae_ticks", np.float64), ("resolved", np.bool_), ("exit_ns", np.int64),
    ("bars_held", np.int64),
    # the minute of the fill: the bar's start (a fill at the open) or end (at the close); for a fill inside
    # the bar the least int64 until :func:`fill_exit_minutes` finds the minute
    ("exit_minute_ns", np.int64),
])

_CONF_EPS = 1e-12
_MIN_NS = np.iinfo(np.int64).min

# numba's disk cache tracks this file only; the rules it inlines from lab/rules.py are keyed here.
# After editing lab/rules.py, set this to the first 16 hex digits of its SHA-256 (a test says so).
RULES_SOURCE_SHA256 = "eb80dfa13613f80f"


def rules_source_sha256() -> str:
    """First 16 hex digits of the SHA-256 of ``lab/rules.py`` as it is on disk."""
    return hashlib.sha256(Path(_rules.__file__).read_bytes()).hexdigest()[:16]


_CACHE = rules_source_sha256() == RULES_SOURCE_SHA256
if not _CACHE:
    warnings.warn("lab/rules.py changed since lab/backtest/engine.py was keyed to it: compiling the engine without "
                  f"the disk cache; set RULES_SOURCE_SHA256 = {rules_source_sha256()!r} in engine.py", stacklevel=2)

_inline = njit(cache=_CACHE, inline="always")
_entry_time_allowed = _inline(_rules.entry_time_allowed)
_is_flatten_bar = _inline(_rules.is_flatten_bar)
_barrier_touches = _inline(_rules.barrier_touches)
_stop_gapped = _inline(_rules.stop_gapped)
_target_gapped = _inline(_rules.target_gapped)


def new_book() -> np.ndarray:
    """A flat book with no session yet: a one-element :data:`BOOK_DTYPE` array (pass ``book[0]``)."""
    book = np.zeros(1, BOOK_DTYPE)
    book["pending"] = _NO_EXIT
    book["session"] = _MIN_NS
    book["pause_until"] = _MIN_NS
    return book


def new_counters() -> np.ndarray:
    """Zeroed counters: a one-element :data:`COUNTER_DTYPE` array (pass ``counters[0]``)."""
    return np.zeros(1, COUNTER_DTYPE)


@_inline
def _reset_book(book):
    book.side = 0
    book.pending = _NO_EXIT
    book.session = _MIN_NS
    book.pause_until = _MIN_NS


@_inline
def _start_session(book, session):
    """A new session: its realised P&L, loss streak, pause, halt and any scheduled exit start afresh."""
    book.session = session
    book.realised = 0.0
    book.losses_in_row = 0
    book.pause_until = _MIN_NS
    book.halted = False
    book.pending = _NO_EXIT


@_inline
def _see_price(book, price):
    """Update the excursions with a traded price (points)."""
    move = (price - book.fill) * book.side
    book.best = max(book.best, move)
    book.worst = max(book.worst, -move)


@_inline
def _exit_at_open(book, p, counters, j, open_price, start_ns, flatten_ns):
    """Exit reason and fill at a bar's open: flatten, a scheduled exit, a stop gap, a target gap."""
    side = book.side
    slip = p.exit_slippage_ticks * p.tick_size
    if _is_flatten_bar(start_ns, flatten_ns):
        return REASON_FLATTEN, open_price - side * slip
    if book.pending != _NO_EXIT:
        return book.pending, open_price - side * slip
    if j > book.entry_bar and _stop_gapped(side, open_price, book.stop):
        counters.gap_stop += 1
        return REASON_STOP, open_price - side * slip
    if j > book.entry_bar and _target_gapped(side, open_price, book.target, p.target_beyond):
        return REASON_TARGET, book.target
    return _NO_EXIT, 0.0


@_inline
def _resolve_with_minutes(book, p, counters, start_ns, minute_ns, minute_open, minute_high, minute_low):
    """Target and stop both inside one bar: its 1-minute bars decide (gap rules per minute; both -> stop)."""
    side, target, stop = book.side, book.target, book.stop
    slip = p.exit_slippage_ticks * p.tick_size
    counters.both_barriers_in_bar += 1
    first = np.searchsorted(minute_ns, start_ns)
    last = np.searchsorted(minute_ns, start_ns + p.bar_ns)
    for k in range(first, last):
        mo = minute_open[k]
        if _stop_gapped(side, mo, stop):
            counters.resolved_by_minutes_stop += 1
            return REASON_STOP, mo - side * slip, True
        if _target_gapped(side, mo, target, p.target_beyond):
            counters.resolved_by_minutes_target += 1
            return REASON_TARGET, target, True
        hit_target, hit_stop = _barrier_touches(side, minute_high[k], minute_low[k], target, stop, p.target_beyond)
        if hit_stop:
            if hit_target:
                counters.same_minute_stop += 1
            counters.resolved_by_minutes_stop += 1
            return REASON_STOP, stop - side * slip, True
        if hit_target:
            counters.resolved_by_minutes_target += 1
            return REASON_TARGET, target, True
    counters.unresolved_stop += 1
    return REASON_STOP, stop - side * slip, False


@_inline
def _barriers(p, side, fill):
    """(target, stop) prices of a position of ``side`` filled at ``fill`` (points)."""
    return fill + side * p.target_ticks * p.tick_size, fill - side * p.stop_ticks * p.tick_size


@_inline
def _exit_inside_bar(book, p, counters, high, low, start_ns, minute_ns, minute_open, minute_high, minute_low):
    """Exit reason, fill and whether minutes decided it, from the bar's high and low; updates the excursions."""
    side, target, stop = book.side, book.target, book.stop
    hit_target, hit_stop = _barrier_touches(side, high, low, target, stop, p.target_beyond)
    reason, price, resolved = _NO_EXIT, 0.0, False
    if hit_target and hit_stop:
        reason, price, resolved = _resolve_with_minutes(book, p, counters, start_ns, minute_ns, minute_open,
                                                        minute_high, minute_low)
    elif hit_target:
        reason, price = REASON_TARGET, target
    elif hit_stop:
        reason, price = REASON_STOP, stop - side * p.exit_slippage_ticks * p.tick_size
    # excursions inside the bar, clipped to the barriers
    if side > 0:
        favourable, adverse = min(high, target) - book.fill, book.fill - max(low, stop)
    else:
        favourable, adverse = book.fill - max(low, target), min(high, stop) - book.fill
    book.best = max(book.best, favourable)
    book.worst = max(book.worst, adverse)
    return reason, price, resolved


@_inline
def _exit_at_close(book, p, j, close, last_in_session):
    """The time stop, or a flatten at the close of a session whose flatten bar is missing."""
    reason = _NO_EXIT
    if j - book.entry_bar + 1 >= p.time_stop_bars:
        reason = REASON_TIME
    elif last_in_session:
        reason = REASON_FLATTEN
    return reason, close - book.side * p.exit_slippage_ticks * p.tick_size


@_inline
def _schedule_exit(book, p, signal, confidence, exit_signal):
    """At the close, position still open: a market exit at the next open on an opposite or exit signal."""
    if signal == -book.side and confidence >= p.reversal_min_confidence - _CONF_EPS:
        book.pending = REASON_REVERSAL
    elif exit_signal:
        book.pending = REASON_EXIT_SIGNAL


@_inline
def _close_position(book, p, counters, trade, j, reason, price, exit_ns, held, resolved, exit_minute_ns):
    """Book the trade into ``trade`` (a :data:`TRADE_DTYPE` record) and update the session's risk state."""
    side, qty = book.side, book.contracts
    pnl = (price - book.fill) * side / p.tick_size * p.tick_value * qty - p.commission * qty
    trade.entry_index = book.entry_bar
    trade.exit_index = j
    trade.side = side
    trade.contracts = qty
    trade.entry_price = book.fill
    trade.exit_price = price
    trade.reason = reason
    trade.pnl_usd = pnl
    trade.mfe_ticks = max(book.best, 0.0) / p.tick_size
    trade.mae_ticks = max(book.worst, 0.0) / p.tick_size
    trade.resolved = resolved
    trade.exit_ns = exit_ns
    trade.bars_held = held
    trade.exit_minute_ns = exit_minute_ns
    book.side = 0
    book.realised += pnl
    if pnl < 0.0:
        book.losses_in_row += 1
        if p.pause_after_losses > 0 and book.losses_in_row >= p.pause_after_losses:
            book.pause_until = exit_ns + p.pause_ns
            book.losses_in_row = 0
            counters.loss_pauses += 1
    else:
        book.losses_in_row = 0
    if not book.halted and book.realised <= -p.daily_loss_limit + 1e-9:
        book.halted = True
        counters.daily_loss_limit_hits += 1


@_inline
def _try_entry(book, p, counters, j, signal, contracts, open_price, start_ns, last_entry_ns, flatten_ns):
    """Open a position at this open on the previous bar's signal if every entry rule allows it."""
    if book.side != 0:
        counters.ignored_in_position += 1
    elif not _entry_time_allowed(start_ns, last_entry_ns, flatten_ns):
        counters.refused_after_last_entry += 1
    elif book.halted:
        counters.refused_daily_loss_limit += 1
    elif start_ns < book.pause_until:
        counters.refused_loss_pause += 1
    else:
        side = 1 if signal > 0 else -1
        fill = open_price + side * p.entry_slippage_ticks * p.tick_size
        book.side = side
        book.contracts = contracts
        book.entry_bar = j
        book.fill = fill
        book.target, book.stop = _barriers(p, side, fill)
        book.best = (open_price - fill) * side
        book.worst = -book.best


@_inline
def on_bar_open(book, p, counters, trade, j, session, open_price, start_ns, last_entry_ns, flatten_ns,
                previous_signal, previous_contracts):
    """Everything that happens at bar ``j``'s open; returns whether a trade was closed into ``trade``.

    A new ``session`` resets the risk state; an open position may exit (flatten, scheduled exit,
    stop gap, target gap); then the previous bar's signal (``previous_signal`` +1/-1/0, pass 0 when
    the previous bar belongs to another session) may open a position of ``previous_contracts``.
    """
    if session != book.session:
        _start_session(book, session)
    closed = False
    if book.side != 0:
        reason, price = _exit_at_open(book, p, counters, j, open_price, start_ns, flatten_ns)
        if reason != _NO_EXIT:
            _see_price(book, open_price)
            _close_position(book, p, counters, trade, j, reason, price, start_ns, j - book.entry_bar, False, start_ns)
            closed = True
    book.pending = _NO_EXIT
    if previous_signal != 0 and previous_contracts > 0:
        _try_entry(book, p, counters, j, previous_signal, previous_contracts, open_price, start_ns, last_entry_ns,
                   flatten_ns)
    return closed


@_inline
def on_bar_close(book, p, counters, trade, j, high, low, close, start_ns, last_in_session, signal, confidence,
                 exit_signal, minute_ns, minute_open, minute_high, minute_low):
    """Everything inside bar ``j`` and at its close; returns whether a trade was closed into ``trade``.

    Target and stop from the high/low (both: the bar's 1-minute bars decide; pass all minutes or
    just this bar's), then the time stop or the missing-flatten-bar exit at the close; a position
    still open may get a market exit scheduled for the next open (reversal or exit signal).
    """
    # Early returns, not a flag carried to one exit: written that way numba prunes the minute arrays'
    # reference counting from simulate's loop; otherwise it costs four atomic increments and decrements
    # every bar, 4x the kernel's time (guarded by tests/lab/backtest/test_engine_compiled.py).
    if book.side == 0:
        return False
    reason, price, resolved = _exit_inside_bar(book, p, counters, high, low, start_ns, minute_ns, minute_open,
                                               minute_high, minute_low)
    exit_ns, exit_minute_ns = start_ns, _MIN_NS  # inside the bar: fill_exit_minutes finds the minute
    if reason == _NO_EXIT:
        reason, price = _exit_at_close(book, p, j, close, last_in_session)
        exit_ns = exit_minute_ns = start_ns + p.bar_ns
    if reason != _NO_EXIT:
        _close_position(book, p, counters, trade, j, reason, price, exit_ns, j - book.entry_bar + 1, resolved,
                        exit_minute_ns)
        return True
    if not last_in_session:
        _schedule_exit(book, p, signal, confidence, exit_signal)
    return False


@_inline
def _first_at_or_after(values, x, k):
    """First index ``>= k`` of sorted ``values`` holding ``>= x``, given ``values[k - 1] < x``: a galloping
    search from ``k`` (trades come in time order, so each search starts where the last one ended)."""
    n = values.shape[0]
    step, hi = 1, k
    while hi < n and values[hi] < x:
        k = hi + 1
        hi = k + step
        step *= 2
    return k + np.searchsorted(values[k:min(hi, n)], x)


@njit(cache=_CACHE)
def fill_exit_minutes(trades, params, minute_ns, minute_open, minute_high, minute_low):
    """Set the ``exit_minute_ns`` of the trades filled inside a bar (those still at the least int64):
    the start of the first 1-minute bar of the exit bar that reached (or opened through) the target
    under the fill rule, or the stop, which is the minute that resolved the exit; left unknown when none did.

    Called after the bars, not inside :func:`simulate`'s loop (a step reading the minute arrays there
    costs reference counting every bar): by :func:`lab.backtest.run_backtest` with every minute, by the
    paper trader with the exit bar's minutes. ``trades`` is an array of :data:`TRADE_DTYPE` records.
    """
    k = 0
    for i in range(trades.shape[0]):
        trade = trades[i]
        if trade.exit_minute_ns != _MIN_NS:
            continue
        side = np.int64(trade.side)
        target, stop = _barriers(params, side, trade.entry_price)
        if k > 0 and minute_ns[k - 1] >= trade.exit_ns:  # out of time order: search afresh
            k = 0
        k = _first_at_or_after(minute_ns, trade.exit_ns, k)
        end_ns = trade.exit_ns + params.bar_ns
        j = k
        while j < minute_ns.shape[0] and minute_ns[j] < end_ns:
            hit_target, hit_stop = _barrier_touches(side, minute_high[j], minute_low[j], target, stop,
                                                    params.target_beyond)
            if (hit_target or hit_stop or _stop_gapped(side, minute_open[j], stop)
                    or _target_gapped(side, minute_open[j], target, params.target_beyond)):
                trade.exit_minute_ns = minute_ns[j]
                break
            j += 1


@njit(cache=_CACHE)
def simulate(open_, high, low, close, start_ns, session, last_entry_ns, flatten_ns, signal, confidence, contracts,
             exit_signal, minute_ns, minute_open, minute_high, minute_low, params):
    """Run the rules over ``n`` bars into a new trades array: :func:`simulate_into` with its own buffer."""
    trades = np.empty(open_.shape[0] + 1, TRADE_DTYPE)
    return simulate_into(open_, high, low, close, start_ns, session, last_entry_ns, flatten_ns, signal, confidence,
                         contracts, exit_signal, minute_ns, minute_open, minute_high, minute_low, params, trades)


@njit(cache=_CACHE, inline="always")
def simulate_into(open_, high, low, close, start_ns, session, last_entry_ns, flatten_ns, signal, confidence,
                  contracts, exit_signal, minute_ns, minute_open, minute_high, minute_low, params, trades):
    """Run the rules over ``n`` bars: the trades (:data:`TRADE_DTYPE`, written into ``trades``, which
    must hold at least ``n + 1`` records: a caller may reuse one buffer across calls) and the counters.

    Parameters (all arrays C-contiguous)
    ----------
    open_, high, low, close : float64[n]
        5-minute OHLC, index points.
    start_ns : int64[n]
        Bar start, ns since the epoch (UTC).
    session : int64[n]
        Session number (days since the epoch); bars of one session are contiguous.
    last_entry_ns, flatten_ns : int64[n]
        The bar's session close less the last-entry and flatten minutes, ns.
    signal : int8[n]
        +1 / -1 / 0 decided at the bar's close.
    confidence : float64[n]
        Signal confidence (reversal qualification).
    contracts : int64[n]
        Contracts an entry on this bar's signal would trade.
    exit_signal : bool[n]
        Strategy exit at the next open.
    minute_ns : int64[m]
        1-minute bar starts, ns since the epoch, sorted; searched only when a target and a stop
        both lie inside one bar (the minutes starting in ``[start, start + bar_ns)``).
    minute_open, minute_high, minute_low : float64[m]
        1-minute prices, index points.
    params : EngineParams
        The rule values.

    Returns
    -------
    tuple
        ``(count, trades, counters)``: the first ``count`` records of ``trades`` are filled;
        ``counters`` is a one-element :data:`COUNTER_DTYPE` array.
    """
    n = open_.shape[0]
    counters = np.zeros(1, COUNTER_DTYPE)
    books = np.zeros(1, BOOK_DTYPE)
    book, tally = books[0], counters[0]
    _reset_book(book)
    count = 0
    for j in range(n):
        same_as_previous = j > 0 and session[j - 1] == session[j]
        previous_signal = signal[j - 1] if same_as_previous else 0
        previous_contracts = contracts[j - 1] if same_as_previous else 0
        if on_bar_open(book, params, tally, trades[count], j, session[j], open_[j], start_ns[j], last_entry_ns[j],
                       flatten_ns[j], previous_signal, previous_contracts):
            count += 1
        last_in_session = j + 1 == n or session[j + 1] != session[j]
        if on_bar_close(book, params, tally, trades[count], j, high[j], low[j], close[j], start_ns[j], last_in_session,
                        signal[j], confidence[j], exit_signal[j], minute_ns, minute_open, minute_high, minute_low):
            count += 1
    return count, trades, counters
