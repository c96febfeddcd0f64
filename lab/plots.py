"""Pictures of models: tuning leaderboard, feature importance, AUC by fold, reliability diagram.

Each function takes a table made by the lab and returns a :class:`matplotlib.figure.Figure`
drawn on an Agg canvas. No pyplot, no display and no global backend switch: figures are
ordinary objects (garbage-collected, nothing to close) that the caller saves with
``fig.savefig(...)`` or ``mlflow.log_figure(fig, "name.png")``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lab.errors import LabError

__all__ = ["leaderboard_figure", "feature_importance_figure", "fold_auc_figure", "reliability_figure"]

_SHORT = {"num_leaves": "leaves", "max_depth": "depth", "learning_rate": "lr", "min_data_in_leaf": "min_leaf"}


def leaderboard_figure(
    trials: pd.DataFrame,
    metric: str = "auc",
    top: int = 20,
    params: Sequence[str] = ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf"),
) -> Figure:
    """Horizontal bars of the best ``top`` trials by ``metric`` (best at the top).

    Parameters
    ----------
    trials : DataFrame
        :func:`lab.tuning.trials_table`: one row per trial with ``number``, ``metric`` and the
        ``params`` columns.
    metric : str, default "auc"
        Column to rank by (higher is better).
    top : int, default 20
        Trials shown.
    params : sequence of str
        Parameter columns spelled into each bar's label (those present).
    """
    _need(trials, ["number", metric], "trials")
    shown = trials.dropna(subset=[metric]).sort_values(metric, ascending=False).head(top).iloc[::-1]
    fig, ax = _figure((8, 0.3 * max(len(shown), 4) + 1.2))
    labels = [
        f"#{int(row['number'])}  " + " ".join(f"{_SHORT.get(p, p)}={row[p]:g}" for p in params if p in shown.columns)
        for _, row in shown.iterrows()
    ]
    values = shown[metric].to_numpy(dtype=float)
    ax.barh(np.arange(len(shown)), values, color="tab:blue")
    ax.set_yticks(np.arange(len(shown)), labels, fontsize=8)
    if len(values):
        low, high = float(values.min()), float(values.max())
        pad = max((high - low) * 0.15, 0.002)
        ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel(f"validation {metric}")
    ax.set_title(f"Tuning leaderboard: best {len(shown)} of {len(trials)} trials")
    fig.tight_layout()
    return fig


def feature_importance_figure(importance: pd.DataFrame, kind: str = "gain", top: int = 24) -> Figure:
    """Horizontal bars of feature importance, the most important at the top.

    Parameters
    ----------
    importance : DataFrame
        :func:`lab.models.feature_importance`: ``feature``, ``gain``, ``split``.
    kind : {"gain", "split"}, default "gain"
        ``gain``: share of total gain (%); ``split``: number of splits.
    top : int, default 24
        Features shown.
    """
    if kind not in ("gain", "split"):
        raise LabError(f"kind = {kind!r} is not one of gain, split")
    _need(importance, ["feature", kind], "importance")
    values = importance[kind].astype(float)
    if kind == "gain" and values.sum() > 0:
        values = 100.0 * values / values.sum()
    order = values.sort_values(ascending=False).head(top).index[::-1]
    fig, ax = _figure((7, 0.28 * max(len(order), 4) + 1.2))
    ax.barh(np.arange(len(order)), values.loc[order].to_numpy(), color="tab:green")
    ax.set_yticks(np.arange(len(order)), importance.loc[order, "feature"].astype(str).tolist(), fontsize=8)
    ax.set_xlabel("share of total gain (%)" if kind == "gain" else "splits")
    ax.set_title(f"Feature importance ({kind})")
    fig.tight_layout()
    return fig


def fold_auc_figure(folds: pd.DataFrame) -> Figure:
    """Validation AUC per walk-forward fold, with training AUC and the no-skill line.

    Parameters
    ----------
    folds : DataFrame
        :func:`lab.walk_forward.run_walk_forward`: ``fold``, ``auc``, optionally
        ``train_auc`` and ``val_start`` (used as the x labels, ``YYYY-MM``).
    """
    _need(folds, ["fold", "auc"], "folds")
    fig, ax = _figure((8, 3.8))
    x = np.arange(len(folds))
    ax.bar(x, folds["auc"].to_numpy(dtype=float), color="tab:blue", label="validation AUC")
    if "train_auc" in folds.columns:
        ax.plot(x, folds["train_auc"].to_numpy(dtype=float), "o-", color="tab:orange", label="train AUC")
    mean = float(folds["auc"].mean()) if len(folds) else np.nan
    ax.axhline(0.5, color="grey", lw=0.8, ls="--", label="no skill")
    if np.isfinite(mean):
        ax.axhline(mean, color="tab:blue", lw=0.8, ls=":", label=f"mean {mean:.3f}")
    if "val_start" in folds.columns:
        labels = [pd.Timestamp(t).strftime("%Y-%m") for t in folds["val_start"]]
    else:
        labels = [str(f) for f in folds["fold"]]
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    values = folds["auc"].tolist() + (folds["train_auc"].tolist() if "train_auc" in folds.columns else [])
    finite = [v for v in values if np.isfinite(v)] + [0.5]
    ax.set_ylim(min(finite) - 0.02, max(finite) + 0.02)
    ax.set_ylabel("AUC")
    ax.set_title("Walk-forward AUC by fold")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def reliability_figure(table: pd.DataFrame, title: str = "Reliability diagram") -> Figure:
    """Mean predicted probability against observed frequency per bin, with bin counts below.

    Parameters
    ----------
    table : DataFrame
        :func:`lab.evaluation.reliability_table`: ``bin_lower``, ``bin_upper``,
        ``mean_predicted``, ``observed_frequency``, ``count``.
    title : str
    """
    _need(table, ["bin_lower", "bin_upper", "mean_predicted", "observed_frequency", "count"], "table")
    fig = Figure(figsize=(5.5, 6))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    filled = table[table["count"] > 0]
    top.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect calibration")
    top.plot(filled["mean_predicted"], filled["observed_frequency"], "o-", color="tab:blue", label="model")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("observed frequency of class 1")
    top.set_title(title)
    top.legend(fontsize=8, loc="upper left")
    width = (table["bin_upper"] - table["bin_lower"]).to_numpy(dtype=float)
    bottom.bar(table["bin_lower"], table["count"], width=width, align="edge", color="tab:grey", edgecolor="white")
    bottom.set_xlabel("mean predicted probability")
    bottom.set_ylabel("rows")
    fig.tight_layout()
    return fig


def _figure(size: tuple[float, float]):
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _need(table: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise LabError(f"{name} lacks column(s) {missing}; got {list(table.columns)}")
