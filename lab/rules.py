"""Trading-rule decisions with one home: the trade label, the backtest engine and a paper trader.

Plain Python on scalars or numpy arrays (no numba, no pandas): :mod:`lab.targets` calls these
functions on whole arrays to label ``target_trade``; :mod:`lab.backtest.engine` compiles the very
same functions with numba (``njit(inline="always")``) and calls them bar by bar. A rule changed
here changes labels and backtests alike.

Units: prices in index points, times in int64 nanoseconds since the epoch (UTC), ``side`` +1 for
a long, -1 for a short.
"""

from __future__ import annotations

__all__ = [
    "PRICE_EPS",
    "NS_PER_MINUTE",
    "entry_cutoffs_ns",
    "entry_time_allowed",
    "is_flatten_bar",
    "barrier_touches",
    "stop_gapped",
    "target_gapped",
]

#: Slack of price comparisons, points (prices lie on a tick grid such as 0.25).
PRICE_EPS = 1e-9
NS_PER_MINUTE = 60_000_000_000


def entry_cutoffs_ns(session_close_ns, last_entry_minutes: int, flatten_minutes: int):
    """The last-entry and flatten times of each bar's session, ns.

    Parameters
    ----------
    session_close_ns : int or numpy.ndarray of int64
        The session close, ns since the epoch (16:00 ET, 13:00 on an early close).
    last_entry_minutes, flatten_minutes : int
        ``rules.last_entry_minutes_before_close`` and ``rules.flatten_minutes_before_close``.

    Returns
    -------
    (last_entry_ns, flatten_ns)
        Same shape as ``session_close_ns``.
    """
    return (session_close_ns - last_entry_minutes * NS_PER_MINUTE,
            session_close_ns - flatten_minutes * NS_PER_MINUTE)


def entry_time_allowed(start_ns, last_entry_ns, flatten_ns):
    """Whether a position may open at the open of a bar starting at ``start_ns``.

    The entry bar must start at or before the last-entry time and strictly before the flatten time
    (with equal cut-offs the bar starting at the cut-off is the flatten bar: no entry on it).
    Works element-wise on arrays.
    """
    return (start_ns <= last_entry_ns) & (start_ns < flatten_ns)


def is_flatten_bar(start_ns, flatten_ns):
    """Whether a bar starting at ``start_ns`` is at or after the flatten time (positions leave at its open)."""
    return start_ns >= flatten_ns


def barrier_touches(side, high, low, target, stop):
    """(target touched, stop touched) by a bar or minute with this high/low, for a long (side > 0) or short.

    ``side`` is a scalar; ``high``, ``low``, ``target`` and ``stop`` may be arrays.
    """
    if side > 0:
        return high >= target - PRICE_EPS, low <= stop + PRICE_EPS
    return low <= target + PRICE_EPS, high >= stop - PRICE_EPS


def stop_gapped(side, open_price, stop):
    """Whether a bar (or minute) opens at or through the stop: it fills at that open."""
    return (open_price - stop) * side <= PRICE_EPS


def target_gapped(side, open_price, target):
    """Whether a bar (or minute) opens at or through the target: the resting limit fills at the target."""
    return (open_price - target) * side >= -PRICE_EPS
