"""The numba kernel: one pass over the bars, arrays in, arrays out.

:func:`simulate` knows nothing of pandas, configuration objects or time zones; the wrapper in
:mod:`lab.backtest.run` prepares its arrays and documents the rules. Compiled code is cached
on disk (numba's ``__pycache__`` beside this file, or ``NUMBA_CACHE_DIR``).

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
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "simulate",
    "REASON_TARGET",
    "REASON_STOP",
    "REASON_TIME",
    "REASON_FLATTEN",
    "REASON_REVERSAL",
    "REASON_EXIT_SIGNAL",
    "COUNTER_NAMES",
]

REASON_TARGET = 0
REASON_STOP = 1
REASON_TIME = 2
REASON_FLATTEN = 3
REASON_REVERSAL = 4
REASON_EXIT_SIGNAL = 5

#: Names of the entries of the ``counters`` array :func:`simulate` returns, in order.
COUNTER_NAMES = (
    "both_barriers_in_bar",  # target and stop both inside one 5-minute bar
    "resolved_by_minutes_target",  # ... the 1-minute bars showed the target first
    "resolved_by_minutes_stop",  # ... the 1-minute bars showed the stop first (or a stop gap)
    "same_minute_stop",  # ... both inside one 1-minute bar: stop taken
    "unresolved_stop",  # ... no usable 1-minute bars: stop taken
    "refused_after_last_entry",  # signal whose entry bar starts after the last-entry time
    "refused_daily_loss_limit",  # signal refused: the session's loss limit was reached
    "refused_loss_pause",  # signal refused: pause after consecutive losses
    "ignored_in_position",  # signal while a position was open (no pyramiding)
    "gap_stop",  # stop filled at a bar's open that gapped through it
    "daily_loss_limit_hits",  # sessions on which the loss limit was reached
    "loss_pauses",  # pauses started after consecutive losses
)

_EPS = 1e-9  # price comparison slack (points); prices lie on a 0.25 grid
_CONF_EPS = 1e-12
_MIN_NS = np.iinfo(np.int64).min


@njit(cache=True, inline="always")
def _touched(pos, high, low, target, stop):
    """(target touched, stop touched) by a bar or minute with this high/low, for a long (pos > 0) or short."""
    if pos > 0:
        return high >= target - _EPS, low <= stop + _EPS
    return low <= target + _EPS, high >= stop - _EPS


@njit(cache=True)
def simulate(
    open_,
    high,
    low,
    close,
    start_ns,
    session,
    last_entry_ns,
    flatten_ns,
    signal,
    confidence,
    contracts,
    exit_signal,
    minute_ns,
    minute_open,
    minute_high,
    minute_low,
    tick_size,
    tick_value,
    target_ticks,
    stop_ticks,
    time_stop_bars,
    entry_slippage_ticks,
    exit_slippage_ticks,
    commission,
    daily_loss_limit,
    pause_after_losses,
    pause_ns,
    reversal_min_confidence,
    bar_ns,
):
    """Run the rules over ``n`` bars; return the trades as parallel arrays and the counters.

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
        Signal confidence (size tier, reversal qualification).
    contracts : int64[n]
        Contracts an entry on this bar's signal would trade.
    exit_signal : bool[n]
        Strategy exit at the next open.
    minute_ns : int64[m]
        1-minute bar starts, ns since the epoch, sorted; searched only when a target and a stop
        both lie inside one bar (the minutes starting in ``[start, start + bar_ns)``).
    minute_open, minute_high, minute_low : float64[m]
        1-minute prices, index points.
    tick_size, tick_value : float64
        Points per tick; USD per tick per contract.
    target_ticks, stop_ticks : float64
        Barrier distances from the entry fill, ticks.
    time_stop_bars : int64
        Bars held before the time exit.
    entry_slippage_ticks, exit_slippage_ticks : float64
        Slippage against the position, ticks.
    commission : float64
        USD per contract per round trip.
    daily_loss_limit : float64
        USD of realised session loss that stops new entries for the session.
    pause_after_losses : int64
        Consecutive losses that start a pause (0: never).
    pause_ns : int64
        Pause length, ns.
    reversal_min_confidence : float64
        Opposite signals at or above this close the position (> 1: never).
    bar_ns : int64
        Bar length, ns.

    Returns
    -------
    tuple
        ``(count, entry_index, exit_index, side, n_contracts, entry_price, exit_price,
        reason, pnl_usd, mfe_ticks, mae_ticks, resolved, exit_ns, bars_held, counters)``;
        only the first ``count`` rows of each trade array are filled.
    """
    n = open_.shape[0]
    entry_index = np.empty(n, np.int64)
    exit_index = np.empty(n, np.int64)
    side_out = np.empty(n, np.int8)
    contracts_out = np.empty(n, np.int64)
    entry_price_out = np.empty(n, np.float64)
    exit_price_out = np.empty(n, np.float64)
    reason_out = np.empty(n, np.int8)
    pnl_out = np.empty(n, np.float64)
    mfe_out = np.empty(n, np.float64)
    mae_out = np.empty(n, np.float64)
    resolved_out = np.zeros(n, np.bool_)
    exit_ns_out = np.empty(n, np.int64)
    held_out = np.empty(n, np.int64)
    counters = np.zeros(12, np.int64)

    entry_slip = entry_slippage_ticks * tick_size
    exit_slip = exit_slippage_ticks * tick_size
    count = 0
    pos = 0  # +1 long, -1 short, 0 flat
    qty = 0
    entry_bar = -1
    fill = 0.0
    target = 0.0
    stop = 0.0
    best = 0.0  # most favourable (price - fill) * pos seen, points
    worst = 0.0  # most adverse (fill - price) * pos seen, points
    pending = -1  # market exit scheduled for the next open: reason code, or -1
    current_session = _MIN_NS
    realised = 0.0
    losses_in_row = 0
    pause_until = _MIN_NS
    halted = False

    for j in range(n):
        if session[j] != current_session:
            current_session = session[j]
            realised = 0.0
            losses_in_row = 0
            pause_until = _MIN_NS
            halted = False
            pending = -1

        # phase 0: the open of bar j (exits, then an entry); phase 1: inside bar j and its close
        for phase in range(2):
            exit_reason = -1
            exit_px = 0.0
            exit_time = 0
            held = 0
            resolved = False
            if pos != 0 and phase == 0:
                o = open_[j]
                if start_ns[j] >= flatten_ns[j]:
                    exit_reason = REASON_FLATTEN
                    exit_px = o - pos * exit_slip
                elif pending >= 0:
                    exit_reason = pending
                    exit_px = o - pos * exit_slip
                elif j > entry_bar and (o - stop) * pos <= _EPS:
                    exit_reason = REASON_STOP
                    exit_px = o - pos * exit_slip
                    counters[9] += 1
                elif j > entry_bar and (o - target) * pos >= -_EPS:
                    exit_reason = REASON_TARGET
                    exit_px = target
                if exit_reason >= 0:
                    exit_time = start_ns[j]
                    held = j - entry_bar
                    move = (o - fill) * pos
                    if move > best:
                        best = move
                    if -move > worst:
                        worst = -move
            elif pos != 0:
                hit_target, hit_stop = _touched(pos, high[j], low[j], target, stop)
                if hit_target and hit_stop:
                    counters[0] += 1
                    exit_reason = REASON_STOP
                    exit_px = stop - pos * exit_slip
                    first = np.searchsorted(minute_ns, start_ns[j])
                    last = np.searchsorted(minute_ns, start_ns[j] + bar_ns)
                    for k in range(first, last):
                        mo = minute_open[k]
                        if (mo - stop) * pos <= _EPS:
                            exit_px = mo - pos * exit_slip
                            resolved = True
                            break
                        if (mo - target) * pos >= -_EPS:
                            exit_reason = REASON_TARGET
                            exit_px = target
                            resolved = True
                            break
                        mt, ms = _touched(pos, minute_high[k], minute_low[k], target, stop)
                        if mt and ms:
                            counters[3] += 1
                            resolved = True
                            break
                        if ms:
                            resolved = True
                            break
                        if mt:
                            exit_reason = REASON_TARGET
                            exit_px = target
                            resolved = True
                            break
                    if not resolved:
                        counters[4] += 1
                    elif exit_reason == REASON_TARGET:
                        counters[1] += 1
                    else:
                        counters[2] += 1
                    exit_time = start_ns[j]
                elif hit_target:
                    exit_reason = REASON_TARGET
                    exit_px = target
                    exit_time = start_ns[j]
                elif hit_stop:
                    exit_reason = REASON_STOP
                    exit_px = stop - pos * exit_slip
                    exit_time = start_ns[j]
                # excursions inside the bar, clipped to the barriers
                if pos > 0:
                    fav = min(high[j], target) - fill
                    adv = fill - max(low[j], stop)
                else:
                    fav = fill - max(low[j], target)
                    adv = min(high[j], stop) - fill
                if fav > best:
                    best = fav
                if adv > worst:
                    worst = adv
                if exit_reason < 0:
                    if j - entry_bar + 1 >= time_stop_bars:
                        exit_reason = REASON_TIME
                    elif j + 1 == n or session[j + 1] != session[j]:
                        exit_reason = REASON_FLATTEN  # the session has no flatten bar: leave at its last close
                    if exit_reason >= 0:
                        exit_px = close[j] - pos * exit_slip
                        exit_time = start_ns[j] + bar_ns
                held = j - entry_bar + 1

            if exit_reason >= 0:  # book the trade, update the session's risk state
                pnl = (exit_px - fill) * pos / tick_size * tick_value * qty - commission * qty
                entry_index[count] = entry_bar
                exit_index[count] = j
                side_out[count] = pos
                contracts_out[count] = qty
                entry_price_out[count] = fill
                exit_price_out[count] = exit_px
                reason_out[count] = exit_reason
                pnl_out[count] = pnl
                mfe_out[count] = max(best, 0.0) / tick_size
                mae_out[count] = max(worst, 0.0) / tick_size
                resolved_out[count] = resolved
                exit_ns_out[count] = exit_time
                held_out[count] = held
                count += 1
                pos = 0
                realised += pnl
                if pnl < 0.0:
                    losses_in_row += 1
                    if pause_after_losses > 0 and losses_in_row >= pause_after_losses:
                        pause_until = exit_time + pause_ns
                        losses_in_row = 0
                        counters[11] += 1
                else:
                    losses_in_row = 0
                if not halted and realised <= -daily_loss_limit + 1e-9:
                    halted = True
                    counters[10] += 1

            if phase == 0:
                pending = -1
                # entry at the open of bar j on bar j-1's signal
                if j > 0 and session[j - 1] == session[j] and signal[j - 1] != 0 and contracts[j - 1] > 0:
                    if pos != 0:
                        counters[8] += 1
                    elif start_ns[j] > last_entry_ns[j] or start_ns[j] >= flatten_ns[j]:
                        counters[5] += 1
                    elif halted:
                        counters[6] += 1
                    elif start_ns[j] < pause_until:
                        counters[7] += 1
                    else:
                        pos = 1 if signal[j - 1] > 0 else -1
                        qty = contracts[j - 1]
                        entry_bar = j
                        fill = open_[j] + pos * entry_slip
                        target = fill + pos * target_ticks * tick_size
                        stop = fill - pos * stop_ticks * tick_size
                        best = (open_[j] - fill) * pos
                        worst = -best

        # at the close: schedule a market exit for the next open
        if pos != 0 and j + 1 < n and session[j + 1] == session[j]:
            if signal[j] == -pos and confidence[j] >= reversal_min_confidence - _CONF_EPS:
                pending = REASON_REVERSAL
            elif exit_signal[j]:
                pending = REASON_EXIT_SIGNAL

    return (
        count, entry_index, exit_index, side_out, contracts_out, entry_price_out, exit_price_out,
        reason_out, pnl_out, mfe_out, mae_out, resolved_out, exit_ns_out, held_out, counters,
    )
