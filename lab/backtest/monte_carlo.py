"""Seeded bootstrap of the trade sequence: how much of the result is the luck of the draw.

Each simulation draws as many trades as were made, with replacement, in random order, and
records the total P&L, the profit factor and the maximum drawdown of that sequence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.signals import BacktestInputError

__all__ = ["bootstrap_trades", "monte_carlo_metrics"]

_STATISTICS = ("total_pnl_usd", "profit_factor", "max_drawdown_usd")


def bootstrap_trades(
    pnl: pd.Series | np.ndarray,
    n_simulations: int = 1000,
    seed: int = 0,
    quantiles: tuple[float, ...] = (0.05, 0.50, 0.95),
) -> pd.DataFrame:
    """Bootstrap intervals for total P&L, profit factor and max drawdown.

    Parameters
    ----------
    pnl : array-like of float
        ``pnl_usd`` of every trade (USD), in any order.
    n_simulations : int, default 1000
        Resampled sequences.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the same seed gives the same table.
    quantiles : tuple of float, default (0.05, 0.50, 0.95)
        Quantiles reported (empirical, no interpolation, so an infinite profit factor stays
        finite where it can).

    Returns
    -------
    pandas.DataFrame
        Index ``total_pnl_usd``, ``profit_factor``, ``max_drawdown_usd``; columns ``p05``,
        ``p50``, ``p95`` (one per quantile). NaN when there are no trades.

    Examples
    --------
    >>> float(bootstrap_trades([10.0, -5.0, 7.5], n_simulations=200, seed=1).loc["total_pnl_usd", "p50"])
    12.5
    """
    if n_simulations < 1:
        raise BacktestInputError(f"n_simulations = {n_simulations!r} must be >= 1, e.g. 1000")
    if any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise BacktestInputError(f"quantiles {quantiles!r} must lie in [0, 1], e.g. (0.05, 0.5, 0.95)")
    values = np.asarray(pnl, dtype=np.float64)
    columns = [f"p{round(q * 100):02d}" for q in quantiles]
    if values.size == 0:
        return pd.DataFrame(np.nan, index=list(_STATISTICS), columns=columns)
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, values.size, size=(n_simulations, values.size))]
    total = draws.sum(axis=1)
    gain = np.where(draws > 0, draws, 0.0).sum(axis=1)
    loss = -np.where(draws < 0, draws, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(loss > 0, gain / np.where(loss > 0, loss, 1.0), np.where(gain > 0, np.inf, np.nan))
    equity = np.concatenate((np.zeros((n_simulations, 1)), np.cumsum(draws, axis=1)), axis=1)
    drawdown = (np.maximum.accumulate(equity, axis=1) - equity).max(axis=1)
    rows = []
    for stat in (total, factor, drawdown):
        finite = stat[~np.isnan(stat)]
        rows.append(np.quantile(finite, quantiles, method="inverted_cdf") if finite.size else [np.nan] * len(quantiles))
    return pd.DataFrame(np.asarray(rows, dtype=np.float64), index=list(_STATISTICS), columns=columns)


def monte_carlo_metrics(table: pd.DataFrame) -> dict[str, float]:
    """Flatten a :func:`bootstrap_trades` table to ``mc_<statistic>_<pXX>`` metrics."""
    return {f"mc_{stat}_{col}": float(table.loc[stat, col]) for stat in table.index for col in table.columns}
