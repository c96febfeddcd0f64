"""Paper trading: the champion's signals through the backtest engine's own rule steps, bar by bar.

:class:`PaperTrader` keeps the engine's book, counters and trade records between bars and calls
:func:`lab.backtest.engine.on_bar_open` / :func:`lab.backtest.engine.on_bar_close` once per
completed bar: the rules live in the engine alone. :mod:`lab.paper.orders` defines what an order
sink receives. Pure computation: no MLflow, no paths (the job is ``jobs/paper.py``).
"""

from lab.paper.orders import Order, OrderSink
from lab.paper.trader import PaperBar, PaperTrader, engine_params

__all__ = ["PaperTrader", "PaperBar", "engine_params", "Order", "OrderSink"]
