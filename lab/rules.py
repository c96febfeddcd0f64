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
    "LIMIT_FILLS",
    "target_beyond_points",
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


#: How a resting profit-target limit fills (``[rules] limit_fill``): ``"through"`` when a price
#: trades at least ``limit_through_ticks`` beyond it, ``"touch"`` when a price reaches it.
LIMIT_FILLS = ("through", "touch")


def target_beyond_points(limit_fill: str, limit_through_ticks: int, tick_size: float) -> float:
    """How far beyond the profit target a price must trade for the resting limit to fill, points.

    Parameters
    ----------
    limit_fill : str
        ``"through"`` (the limit fills only when a price trades ``limit_through_ticks`` ticks beyond
        it: a touch may leave the order unfilled in the queue) or ``"touch"`` (a price at the limit
        fills it).
    limit_through_ticks : int
        Ticks beyond the limit that ``"through"`` demands (1: any trade beyond it, which a
        price-time queue cannot leave unfilled).
    tick_size : float
        Points per tick.

    Returns
    -------
    float
        ``limit_through_ticks * tick_size`` under ``"through"``, 0.0 under ``"touch"``.
    """
    if limit_fill == "touch":
        return 0.0
    if limit_fill != "through":
        raise ValueError(f"limit_fill = {limit_fill!r}; use one of {', '.join(LIMIT_FILLS)}")
    return float(limit_through_ticks) * float(tick_size)


def barrier_touches(side, high, low, target, stop, target_beyond):
    """(target filled, stop touched) by a bar or minute with this high/low, for a long (side > 0) or short.

    The target (a resting limit) fills when the high (long) / low (short) reaches ``target_beyond``
    points beyond it (:func:`target_beyond_points`: 0 for a touch); the stop (a stop order) is
    touched at its price. ``side`` is a scalar; ``high``, ``low``, ``target`` and ``stop`` may be arrays.
    """
    if side > 0:
        return high >= target + target_beyond - PRICE_EPS, low <= stop + PRICE_EPS
    return low <= target - target_beyond + PRICE_EPS, high >= stop - PRICE_EPS


def stop_gapped(side, open_price, stop):
    """Whether a bar (or minute) opens at or through the stop: it fills at that open."""
    return (open_price - stop) * side <= PRICE_EPS


def target_gapped(side, open_price, target, target_beyond):
    """Whether a bar (or minute) opens ``target_beyond`` points or more beyond the target: the resting
    limit fills at the target (never better: the conservative reading of a gap)."""
    return (open_price - target) * side >= target_beyond - PRICE_EPS
