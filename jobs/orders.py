"""Order sinks of ``lab paper --live``: a JSON-lines file and stdout (no broker).

Each implements :class:`lab.paper.OrderSink` (``send(order)``, ``close()``) and writes one JSON
object per order (:meth:`lab.paper.Order.as_dict`), flushed at once so a reader tailing the
file sees every order as it is made.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from lab.paper import Order, OrderSink

__all__ = ["JsonLinesSink", "StdoutSink", "open_sink"]


class JsonLinesSink:
    """Append orders to a file, one JSON object a line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", encoding="utf-8")

    def send(self, order: Order) -> None:
        self._file.write(json.dumps(order.as_dict()) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class StdoutSink:
    """Print orders on stdout, one JSON object a line, prefixed ``order:``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, order: Order) -> None:
        stream = self._stream or sys.stdout
        print("order: " + json.dumps(order.as_dict()), file=stream, flush=True)

    def close(self) -> None:
        return None


def open_sink(target: str) -> OrderSink:
    """``""`` or ``"stdout"``: :class:`StdoutSink`; anything else: a :class:`JsonLinesSink` at that path."""
    return StdoutSink() if target in ("", "stdout", "-") else JsonLinesSink(target)
