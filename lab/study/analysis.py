"""The plan's Phase 4 analysis as pure functions: threshold sweep, robustness, overfitting, trades.

Every function takes tables the lab already makes (a backtest's trades, the bars of a window,
a fold table, a feature table) and returns a DataFrame; ``jobs/analyze.py`` logs them. Units:
money in USD, durations in 5-minute bars, thresholds as probabilities.

=========================  ===============================================  =====================
function                   question it answers                              plan section
=========================  ===============================================  =====================
threshold_sweep            how win rate, profit factor, trades per day       4.3
                           and P&L move with the entry threshold
by_month                   is the result spread over the year or one month  4.4 robustness
by_volatility_regime       does it work in calm and in wild markets         4.4 robustness
stability                  how much does it vary from month to month        4.4 stability
auc_overfitting            train vs validation vs walk-forward AUC          4.1 overfitting
winners_and_losers         what separates winning from losing trades        4.1 trade analysis
feature_correlations       how much each feature says about the target      4.2 feature analysis
=========================  ===============================================  =====================
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from lab.backtest.metrics import compute_metrics, profit_factor
from lab.errors import LabError

__all__ = [
    "SWEEP_THRESHOLDS",
    "threshold_sweep",
    "trailing_volatility",
    "by_month",
    "by_volatility_regime",
    "stability",
    "auc_overfitting",
    "winners_and_losers",
    "feature_correlations",
    "analysis_summary",
]

#: The plan's sweep of the entry threshold: 0.50, 0.51, ..., 0.75 (26 points).
SWEEP_THRESHOLDS: tuple[float, ...] = tuple(round(0.50 + 0.01 * k, 2) for k in range(26))

_SWEEP_COLUMNS = ("threshold", "trades", "win_rate", "profit_factor", "trades_per_day", "total_pnl_usd",
                  "max_drawdown_usd", "worst_day_usd")


def threshold_sweep(
    backtest_at: Callable[[float], tuple[pd.DataFrame, Sequence]],
    thresholds: Iterable[float] = SWEEP_THRESHOLDS,
) -> pd.DataFrame:
    """Headline metrics of one backtest per entry threshold.

    Parameters
    ----------
    backtest_at : callable
        ``backtest_at(threshold) -> (trades, session_dates)``: runs the strategy's backtest with
        ``[rules] entry_threshold = threshold`` (everything else as configured) on one window.
    thresholds : iterable of float
        Entry thresholds (probabilities), default :data:`SWEEP_THRESHOLDS`.

    Returns
    -------
    DataFrame
        One row per threshold: ``threshold``, ``trades``, ``win_rate``, ``profit_factor``,
        ``trades_per_day``, ``total_pnl_usd``, ``max_drawdown_usd``, ``worst_day_usd``.
    """
    rows = []
    for threshold in thresholds:
        trades, sessions = backtest_at(float(threshold))
        metrics = compute_metrics(trades, sessions)
        rows.append({"threshold": float(threshold), "trades": int(metrics["total_trades"]),
                     **{key: metrics[key] for key in _SWEEP_COLUMNS[2:]}})
    return pd.DataFrame(rows, columns=list(_SWEEP_COLUMNS))


def trailing_volatility(bars: pd.DataFrame, lookback_bars: int = 78) -> pd.Series:
    """Realised volatility known at each bar's close: std of the last ``lookback_bars`` log returns.

    Uses the bar's own close and earlier closes only (78 bars = one regular session), so it can
    label a trade by the regime it was entered in without looking ahead.
    """
    if "close" not in bars.columns:
        raise LabError("bars lack the column 'close'; pass the window's 5-minute bars table")
    returns = np.log(bars["close"].astype(float)).diff()
    return returns.rolling(lookback_bars, min_periods=max(2, lookback_bars // 2)).std().rename("trailing_volatility")


def _group_summary(trades: pd.DataFrame, key: pd.Series | np.ndarray, name: str) -> pd.DataFrame:
    frame = pd.DataFrame({"group": np.asarray(key), "pnl": trades["pnl_usd"].to_numpy(float)})
    rows = []
    for group, part in frame.groupby("group", sort=True, observed=True):
        pnl = part["pnl"].to_numpy()
        rows.append({name: group, "trades": int(len(pnl)), "win_rate": float((pnl > 0).mean()),
                     "profit_factor": profit_factor(pnl), "total_pnl_usd": float(pnl.sum()),
                     "avg_pnl_usd": float(pnl.mean())})
    return pd.DataFrame(rows, columns=[name, "trades", "win_rate", "profit_factor", "total_pnl_usd", "avg_pnl_usd"])


def by_month(trades: pd.DataFrame) -> pd.DataFrame:
    """Trades, win rate, profit factor and P&L (USD) per calendar month of the entry (``YYYY-MM``)."""
    if trades.empty:
        return _group_summary(trades, np.array([], dtype=object), "month")
    month = pd.DatetimeIndex(trades["entry_time"]).strftime("%Y-%m")
    return _group_summary(trades, month, "month")


def by_volatility_regime(trades: pd.DataFrame, bars: pd.DataFrame, lookback_bars: int = 78) -> pd.DataFrame:
    """The trades split by the volatility regime at the signal: terciles of trailing volatility.

    The regime of a trade is the tercile (``low``, ``mid``, ``high``; edges from every bar of
    the window) of :func:`trailing_volatility` at the last bar closed before its entry bar.
    """
    volatility = trailing_volatility(bars, lookback_bars)
    edges = volatility.quantile([1 / 3, 2 / 3]).to_numpy()
    regime = np.select([volatility <= edges[0], volatility <= edges[1], volatility > edges[1]],
                       ["1 low", "2 mid", "3 high"], default="0 unknown")
    regime = pd.Series(regime, index=bars.index)
    if trades.empty:
        return _group_summary(trades, np.array([], dtype=object), "volatility_regime")
    entry = pd.DatetimeIndex(trades["entry_time"])
    # The signal bar is the last bar that started before the entry bar: its close is known at entry.
    position = bars.index.searchsorted(entry, side="left") - 1
    labels = np.where(position >= 0, regime.to_numpy()[np.clip(position, 0, None)], "0 unknown")
    return _group_summary(trades, labels, "volatility_regime")


def stability(monthly: pd.DataFrame) -> dict[str, float]:
    """How steady the monthly results are (from :func:`by_month`).

    Returns ``months``, ``profitable_months_share`` (fraction of months with P&L > 0),
    ``monthly_pnl_mean_usd``, ``monthly_pnl_std_usd``, ``monthly_win_rate_std`` and
    ``worst_month_usd`` / ``best_month_usd``.
    """
    pnl = monthly["total_pnl_usd"].to_numpy(float) if len(monthly) else np.array([])
    nan = float("nan")
    return {
        "months": int(len(pnl)),
        "profitable_months_share": float((pnl > 0).mean()) if len(pnl) else nan,
        "monthly_pnl_mean_usd": float(pnl.mean()) if len(pnl) else nan,
        "monthly_pnl_std_usd": float(pnl.std(ddof=1)) if len(pnl) > 1 else nan,
        "monthly_win_rate_std": float(monthly["win_rate"].std(ddof=1)) if len(pnl) > 1 else nan,
        "worst_month_usd": float(pnl.min()) if len(pnl) else nan,
        "best_month_usd": float(pnl.max()) if len(pnl) else nan,
    }


def auc_overfitting(train_auc: float, validation_auc: float, folds: pd.DataFrame | None) -> pd.DataFrame:
    """Train, validation and walk-forward AUC side by side, with the gaps.

    ``validation_auc`` is optimistic when validation also chose and stopped the model (tune);
    the walk-forward mean (folds early-stopped inside their training months) is out of sample.
    """
    rows = [("train", float(train_auc), "rows the model was fitted on"),
            ("validation", float(validation_auc), "chose the parameters and stopped the training: optimistic")]
    if folds is not None and len(folds):
        rows.append(("walk-forward mean", float(folds["auc"].mean()),
                     f"{len(folds)} monthly folds, out of sample (std {folds['auc'].std(ddof=0):.4f})"))
    frame = pd.DataFrame(rows, columns=["window", "auc", "note"])
    frame["gap_to_train"] = float(train_auc) - frame["auc"]
    return frame


def winners_and_losers(trades: pd.DataFrame, by: str) -> pd.DataFrame:
    """Winning and losing trades counted by ``by`` (``time_of_day``, ``confidence_tier``, ``bars_held``).

    Returns one row per group with ``winners``, ``losers``, ``win_rate`` and the mean P&L (USD)
    of each side, so what separates the two is visible at a glance.
    """
    if by not in trades.columns:
        raise LabError(f"trades lack the column {by!r}; pass a backtest's trades table")
    pnl = trades["pnl_usd"].to_numpy(float)
    frame = pd.DataFrame({by: np.asarray(trades[by]), "win": pnl > 0, "pnl": pnl})
    rows = []
    for group, part in frame.groupby(by, sort=True, observed=True):
        wins, losses = part[part["win"]], part[~part["win"]]
        rows.append({by: group, "winners": int(len(wins)), "losers": int(len(losses)),
                     "win_rate": float(part["win"].mean()),
                     "avg_winner_usd": float(wins["pnl"].mean()) if len(wins) else float("nan"),
                     "avg_loser_usd": float(losses["pnl"].mean()) if len(losses) else float("nan")})
    return pd.DataFrame(rows, columns=[by, "winners", "losers", "win_rate", "avg_winner_usd", "avg_loser_usd"])


def feature_correlations(table: pd.DataFrame, features: Sequence[str], target: str,
                         importance: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each feature's Pearson and Spearman correlation with the target, on labelled rows.

    Parameters
    ----------
    table : DataFrame
        A feature table with the ``target`` column (NaN where unlabelled).
    features : sequence of str
    target : str
    importance : DataFrame, optional
        :func:`lab.models.boosters.feature_importance` (``feature``, ``gain``, ...): joins the gain and its rank.

    Returns
    -------
    DataFrame
        ``feature``, ``pearson``, ``spearman``, ``abs_pearson`` (and ``gain``, ``gain_rank``),
        sorted by ``abs_pearson`` descending. The plan found 0.019 as the best on real data.
    """
    labelled = table[table[target].notna()]
    if labelled.empty:
        raise LabError(f"{target} has no labelled row in this table; nothing to correlate")
    y = labelled[target].astype(float)
    rows = []
    for name in features:
        x = labelled[name].astype(float)
        pearson = float(x.corr(y)) if x.std() > 0 else float("nan")
        spearman = float(x.rank().corr(y.rank())) if x.std() > 0 else float("nan")
        rows.append({"feature": name, "pearson": pearson, "spearman": spearman, "abs_pearson": abs(pearson)})
    frame = pd.DataFrame(rows)
    if importance is not None and len(importance):
        gains = importance.set_index("feature")["gain"]
        frame["gain"] = frame["feature"].map(gains).astype(float)
        frame["gain_rank"] = frame["gain"].rank(ascending=False, method="min")
    return frame.sort_values("abs_pearson", ascending=False, kind="stable").reset_index(drop=True)


def analysis_summary(sweep: pd.DataFrame, monthly: pd.DataFrame, overfitting: pd.DataFrame,
                     correlations: pd.DataFrame) -> dict[str, float]:
    """The few numbers an analysis run logs as metrics (the tables carry the rest)."""
    best = sweep.loc[sweep["total_pnl_usd"].idxmax()] if len(sweep) else None
    out: dict[str, float] = {
        "sweep_points": float(len(sweep)),
        "sweep_best_threshold": float(best["threshold"]) if best is not None else float("nan"),
        "sweep_best_pnl_usd": float(best["total_pnl_usd"]) if best is not None else float("nan"),
        "sweep_thresholds_with_trades": float((sweep["trades"] > 0).sum()) if len(sweep) else 0.0,
        "max_abs_feature_correlation": float(correlations["abs_pearson"].max()),
    }
    out.update({f"stability_{k}": float(v) for k, v in stability(monthly).items()})
    for row in overfitting.itertuples():
        out[f"auc_{row.window.split()[0].replace('-', '_')}"] = float(row.auc)
    return out

