"""What the paper trader hands an order sink: one :class:`Order` per fill its book makes.

The sinks themselves (a JSON-lines file, stdout; no broker) live at the edge, in
``jobs/orders.py``; anything with a ``send(order)`` and a ``close()`` is a sink.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

__all__ = ["Order", "OrderSink"]


class Order(NamedTuple):
    """One order of the paper book, as the engine filled it.

    ``action`` is ``"entry"`` (a market order at the bar's open; ``target`` and ``stop`` are the
    bracket the engine attaches) or ``"exit"`` (``reason``: target, stop, time, flatten, reversal,
    signal). Times are ISO 8601 in New York; prices in index points; ``pnl_usd`` on exits only.
    """

    time: str  # when the fill happens (entry: the entry bar's open; exit: the engine's exit time)
    action: str  # "entry" or "exit"
    side: str  # the position's side: "long" or "short"
    contracts: int
    price: float  # the fill, points (slippage included)
    reason: str  # entry: "signal"; exit: the exit reason
    target: float = float("nan")  # entries: the profit target, points
    stop: float = float("nan")  # entries: the stop, points
    pnl_usd: float = float("nan")  # exits: the trade's P&L, USD after commission

    def as_dict(self) -> dict:
        """The order as plain JSON-friendly values (NaN fields dropped)."""
        return {k: v for k, v in self._asdict().items() if not (isinstance(v, float) and v != v)}


@runtime_checkable
class OrderSink(Protocol):
    """Receives the orders of a ``--live`` paper run (a file, stdout; a broker adapter later)."""

    def send(self, order: Order) -> None:
        """Deliver one order (in time order)."""

    def close(self) -> None:
        """Flush and release whatever the sink holds."""
