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
        :func:`lab.study.tuning.trials_table`: one row per trial with ``number``, ``metric`` and the
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
        :func:`lab.models.boosters.feature_importance`: ``feature``, ``gain``, ``split``.
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
        :func:`lab.study.walk_forward.run_walk_forward`: ``fold``, ``auc``, optionally
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


def reliability_figure(table: pd.DataFrame, title: str = "Reliability diagram", min_count: int = 30) -> Figure:
    """Mean predicted probability against observed frequency per bin, with bin counts.

    Each bin's point carries its row count and a 95 % Wilson interval, so a bin of a few rows
    cannot pass for evidence. Bins with fewer than ``min_count`` rows are drawn as grey hollow
    markers and left out of the line; the lower panel shows the counts on a log scale (bins of
    three rows stay visible beside bins of thousands).

    Parameters
    ----------
    table : DataFrame
        :func:`lab.models.evaluation.reliability_table`: ``bin_lower``, ``bin_upper``,
        ``mean_predicted``, ``observed_frequency``, ``count``.
    title : str
    min_count : int, default 30
        Rows a bin needs to be drawn as a solid point on the line.
    """
    _need(table, ["bin_lower", "bin_upper", "mean_predicted", "observed_frequency", "count"], "table")
    fig = Figure(figsize=(6.5, 6.5))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    filled = table[table["count"] > 0]
    solid = filled[filled["count"] >= min_count]
    thin = filled[filled["count"] < min_count]
    top.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect calibration")
    if len(solid):
        low, high = _wilson(solid["observed_frequency"].to_numpy(float), solid["count"].to_numpy(float))
        frequency = solid["observed_frequency"].to_numpy(float)
        top.errorbar(solid["mean_predicted"], frequency, yerr=[frequency - low, high - frequency], fmt="o-",
                     color="tab:blue", capsize=3, label=f"model (bins of >= {min_count} rows, 95 % interval)")
    if len(thin):
        top.plot(thin["mean_predicted"], thin["observed_frequency"], "o", mfc="none", color="0.6",
                 label=f"bins under {min_count} rows (not evidence)")
    for _, row in filled.iterrows():
        top.annotate(f"n={int(row['count']):,}", (row["mean_predicted"], row["observed_frequency"]),
                     textcoords="offset points", xytext=(4, 4), fontsize=7,
                     color="0.2" if row["count"] >= min_count else "0.6")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("observed frequency of class 1")
    top.set_title(title)
    top.legend(fontsize=7, loc="upper left")
    width = (table["bin_upper"] - table["bin_lower"]).to_numpy(dtype=float)
    colours = ["tab:blue" if c >= min_count else "0.75" for c in table["count"]]
    bottom.bar(table["bin_lower"], table["count"].clip(lower=0), width=width, align="edge", color=colours,
               edgecolor="white")
    if table["count"].max() > 0:
        bottom.set_yscale("log")
    bottom.set_xlabel("mean predicted probability")
    bottom.set_ylabel("rows (log)")
    fig.tight_layout()
    return fig


def _wilson(frequency: np.ndarray, count: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval of a binomial frequency (lower, upper)."""
    centre = (frequency + z * z / (2 * count)) / (1 + z * z / count)
    half = z * np.sqrt(frequency * (1 - frequency) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return centre - half, centre + half


def _figure(size: tuple[float, float]):
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _need(table: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise LabError(f"{name} lacks column(s) {missing}; got {list(table.columns)}")
