"""Performance statistics: pure functions of a trades table and the session dates.

Conventions: money in USD after commission; rates as fractions (``win_rate`` 0.55) except
``profitable_days_pct`` (percent, 0-100, as its name says); daily P&L is the sum of ``pnl_usd``
by session over EVERY session of the period, days without trades counting as 0; the equity curve
is the cumulative ``pnl_usd`` in exit order, starting at 0.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from lab.backtest.signals import BacktestInputError
from lab.config import CriteriaConfig

__all__ = [
    "daily_pnl",
    "equity_curve",
    "max_drawdown_usd",
    "profit_factor",
    "compute_metrics",
    "breakdown",
    "evaluate_criteria",
    "criteria_passed",
    "verdict",
    "EXIT_REASONS",
    "TRADING_DAYS_PER_YEAR",
]

TRADING_DAYS_PER_YEAR = 252
EXIT_REASONS = ("target", "stop", "time", "flatten", "reversal", "volatility")
_TIERS = ("full", "half")
_TIMES_OF_DAY = ("first_hour", "midday", "last_hour")


def _check(trades: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in trades.columns]
    if missing:
        raise BacktestInputError(
            f"trades table lacks column(s) {', '.join(missing)}; pass BacktestResult.trades from run_backtest"
        )


def profit_factor(pnl: np.ndarray | pd.Series) -> float:
    """Gross profit / gross loss (both USD, positive).

    ``inf`` with gains and no losses, ``0.0`` with losses and no gains, ``nan`` with neither.
    """
    values = np.asarray(pnl, dtype=np.float64)
    gain = values[values > 0].sum()
    loss = -values[values < 0].sum()
    if loss == 0:
        return math.inf if gain > 0 else math.nan
    return float(gain / loss)


def equity_curve(trades: pd.DataFrame) -> pd.Series:
    """Cumulative ``pnl_usd`` indexed by ``exit_time`` (USD), in exit order."""
    _check(trades, ("exit_time", "pnl_usd"))
    ordered = trades.sort_values("exit_time", kind="stable")
    equity = ordered["pnl_usd"].to_numpy(np.float64).cumsum()
    return pd.Series(equity, index=pd.DatetimeIndex(ordered["exit_time"]), name="equity_usd")


def max_drawdown_usd(pnl: np.ndarray | pd.Series) -> float:
    """Largest fall of the cumulative P&L from a running peak (USD, >= 0; the start counts as 0)."""
    equity = np.concatenate(([0.0], np.cumsum(np.asarray(pnl, dtype=np.float64))))
    return float((np.maximum.accumulate(equity) - equity).max())


def daily_pnl(trades: pd.DataFrame, session_dates: Iterable | None = None) -> pd.Series:
    """P&L per session (USD), every session of ``session_dates`` present (0 without trades).

    Parameters
    ----------
    trades : pandas.DataFrame
        Needs ``session`` (naive date) and ``pnl_usd``.
    session_dates : array-like of dates, optional
        All sessions of the period (``BacktestResult.session_dates``). Default: only the
        sessions that have trades.
    """
    _check(trades, ("session", "pnl_usd"))
    by_day = trades.groupby(pd.DatetimeIndex(trades["session"]).as_unit("ns"))["pnl_usd"].sum()
    if session_dates is not None:
        days = pd.DatetimeIndex(session_dates).as_unit("ns")
        outside = by_day.index.difference(days)
        if len(outside):
            raise BacktestInputError(
                f"trades fall on session {outside[0].date()} which is not among session_dates; "
                "pass the session dates of the same bars the backtest ran on"
            )
        by_day = by_day.reindex(days, fill_value=0.0)
    by_day.index.name = "session"
    return by_day.astype("float64").rename("pnl_usd")


def _summary(pnl: np.ndarray) -> dict[str, float]:
    n = len(pnl)
    return {
        "trades": n,
        "win_rate": float((pnl > 0).mean()) if n else math.nan,
        "total_pnl_usd": float(pnl.sum()),
        "avg_pnl_usd": float(pnl.mean()) if n else math.nan,
        "profit_factor": profit_factor(pnl),
    }


def breakdown(trades: pd.DataFrame, by: str) -> pd.DataFrame:
    """Trades, win rate, total and mean P&L and profit factor per group.

    Parameters
    ----------
    trades : pandas.DataFrame
        A trades table.
    by : {"confidence_tier", "time_of_day", "exit_reason", "side"}
        The grouping column. Tiers and times of day always list every group (empty -> 0 trades).

    Returns
    -------
    pandas.DataFrame
        Index the groups; columns ``trades``, ``win_rate``, ``total_pnl_usd``, ``avg_pnl_usd``,
        ``profit_factor``.
    """
    if by not in ("confidence_tier", "time_of_day", "exit_reason", "side"):
        raise BacktestInputError(f"breakdown by={by!r} is not one of confidence_tier, time_of_day, exit_reason, side")
    _check(trades, (by, "pnl_usd"))
    groups = {"confidence_tier": _TIERS, "time_of_day": _TIMES_OF_DAY}.get(by)
    if groups is None:
        groups = tuple(pd.unique(trades[by]))
    rows = {g: _summary(trades.loc[trades[by] == g, "pnl_usd"].to_numpy(np.float64)) for g in groups}
    columns = ["trades", "win_rate", "total_pnl_usd", "avg_pnl_usd", "profit_factor"]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    frame.index.name = by
    return frame.astype({"trades": np.int64}) if len(frame) else frame


def compute_metrics(trades: pd.DataFrame, session_dates: Iterable | None = None) -> dict[str, float]:
    """Every headline metric of a backtest as a flat ``name -> number`` mapping.

    Parameters
    ----------
    trades : pandas.DataFrame
        A trades table (:data:`lab.backtest.TRADE_COLUMNS`).
    session_dates : array-like of dates, optional
        Every session of the period, traded or not. Default: the sessions with trades.

    Returns
    -------
    dict
        ``total_trades``, ``win_rate`` (fraction), ``profit_factor``, ``total_pnl_usd``,
        ``avg_trade_pnl_usd``, ``avg_daily_pnl_usd``, ``max_drawdown_usd`` (>= 0),
        ``sharpe_ratio`` and ``sortino_ratio`` (daily P&L, annualised by sqrt(252); Sortino's
        downside deviation is the root mean square of the negative days over all days),
        ``sessions``, ``trading_days`` (sessions with a trade), ``trades_per_day`` (per
        session), ``profitable_days_pct`` (percent of trading days with P&L > 0),
        ``worst_day_usd``, ``best_day_usd``, ``mean_mfe_ticks``, ``mean_mae_ticks``,
        ``avg_bars_held``, ``exit_<reason>_count``, ``tier_<full|half>_<trades|win_rate|pnl_usd>``,
        ``tod_<first_hour|midday|last_hour>_<trades|win_rate|pnl_usd>``,
        ``resolved_by_minutes_count``.
    """
    _check(trades, ("exit_time", "pnl_usd", "session", "exit_reason"))
    pnl = trades.sort_values("exit_time", kind="stable")["pnl_usd"].to_numpy(np.float64)
    days = daily_pnl(trades, session_dates)
    n_days = len(days)
    per_day = trades.groupby(pd.DatetimeIndex(trades["session"]).as_unit("ns")).size()
    traded = days[per_day.reindex(days.index, fill_value=0) > 0]
    daily = days.to_numpy()
    std = daily.std(ddof=1) if n_days > 1 else math.nan
    downside = math.sqrt(np.mean(np.minimum(daily, 0.0) ** 2)) if n_days else math.nan
    mean_day = daily.mean() if n_days else math.nan
    annual = math.sqrt(TRADING_DAYS_PER_YEAR)
    out: dict[str, float] = {
        "total_trades": int(len(pnl)),
        "win_rate": float((pnl > 0).mean()) if len(pnl) else math.nan,
        "profit_factor": profit_factor(pnl),
        "total_pnl_usd": float(pnl.sum()),
        "gross_profit_usd": float(pnl[pnl > 0].sum()),
        "gross_loss_usd": float(-pnl[pnl < 0].sum()),
        "avg_trade_pnl_usd": float(pnl.mean()) if len(pnl) else math.nan,
        "avg_daily_pnl_usd": float(mean_day),
        "max_drawdown_usd": max_drawdown_usd(pnl),
        "sharpe_ratio": float(mean_day / std * annual) if std and std > 0 else math.nan,
        "sortino_ratio": float(mean_day / downside * annual) if downside and downside > 0 else math.nan,
        "sessions": int(n_days),
        "trading_days": int(len(traded)),
        "trades_per_day": float(len(pnl) / n_days) if n_days else math.nan,
        "profitable_days_pct": float((traded > 0).mean() * 100.0) if len(traded) else math.nan,
        "worst_day_usd": float(daily.min()) if n_days else math.nan,
        "best_day_usd": float(daily.max()) if n_days else math.nan,
    }
    means = (("mfe_ticks", "mean_mfe_ticks"), ("mae_ticks", "mean_mae_ticks"), ("bars_held", "avg_bars_held"))
    for column, name in means:
        if column in trades.columns:
            out[name] = float(trades[column].mean()) if len(trades) else math.nan
    reasons = trades["exit_reason"].value_counts()
    for reason in EXIT_REASONS:
        out[f"exit_{reason}_count"] = int(reasons.get(reason, 0))
    for by, prefix in (("confidence_tier", "tier"), ("time_of_day", "tod")):
        if by in trades.columns:
            table = breakdown(trades, by)
            for group, row in table.iterrows():
                out[f"{prefix}_{group}_trades"] = int(row["trades"])
                out[f"{prefix}_{group}_win_rate"] = float(row["win_rate"])
                out[f"{prefix}_{group}_pnl_usd"] = float(row["total_pnl_usd"])
    if "resolved_by_minutes" in trades.columns:
        out["resolved_by_minutes_count"] = int(trades["resolved_by_minutes"].sum())
    return out


def evaluate_criteria(metrics: dict[str, float], criteria: CriteriaConfig | None = None) -> pd.DataFrame:
    """The plan's success criteria as a PASS/FAIL table.

    Parameters
    ----------
    metrics : dict
        From :func:`compute_metrics`.
    criteria : CriteriaConfig, optional
        Minimum (must have) and target (should have) thresholds.

    Returns
    -------
    pandas.DataFrame
        One row per criterion: ``level`` (``minimum``/``target``), ``criterion``, ``metric``,
        ``comparison``, ``threshold``, ``value``, ``result`` (``PASS``/``FAIL``; a NaN value fails).
    """
    c = criteria or CriteriaConfig()
    rows = [
        ("minimum", "win rate", "win_rate", ">=", c.min_win_rate),
        ("minimum", "profit factor", "profit_factor", ">=", c.min_profit_factor),
        ("minimum", "trades per day", "trades_per_day", ">=", c.min_trades_per_day),
        ("minimum", "no day loses more than the limit", "worst_day_usd", ">=", -c.max_daily_loss_usd),
        ("target", "win rate", "win_rate", ">=", c.target_win_rate),
        ("target", "profit factor", "profit_factor", ">=", c.target_profit_factor),
        ("target", "trades per day", "trades_per_day", ">=", c.target_trades_per_day),
        ("target", "profitable days", "profitable_days_pct", ">=", c.target_profitable_days * 100.0),
    ]
    table = []
    for level, label, metric, op, threshold in rows:
        if metric not in metrics:
            raise BacktestInputError(f"metrics lack {metric!r}; compute them with compute_metrics")
        value = float(metrics[metric])
        passed = not math.isnan(value) and value >= threshold - 1e-12
        table.append((level, label, metric, op, float(threshold), value, "PASS" if passed else "FAIL"))
    return pd.DataFrame(table, columns=["level", "criterion", "metric", "comparison", "threshold", "value", "result"])


def verdict(table: pd.DataFrame) -> str:
    """The plan's verdict on a criteria table: ``FAIL`` unless every minimum criterion passed, then
    ``PASS-target`` when every target criterion passed too, else ``PASS-minimum``.

    A target met while a minimum is missed (a worst day over the loss limit, say) is still ``FAIL``.
    """
    if not criteria_passed(table, "minimum"):
        return "FAIL"
    return "PASS-target" if criteria_passed(table, "target") else "PASS-minimum"


def criteria_passed(table: pd.DataFrame, level: str = "minimum") -> bool:
    """``True`` when every criterion of ``level`` (``"minimum"`` or ``"target"``) passed."""
    if level not in ("minimum", "target"):
        raise BacktestInputError(f"level={level!r} must be 'minimum' or 'target'")
    rows = table[table["level"] == level]
    return bool(len(rows)) and bool((rows["result"] == "PASS").all())
