"""Pictures of the data: class balance and feature distributions (matplotlib, Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["class_balance_figure", "feature_distribution_figure"]


def class_balance_figure(balance: pd.DataFrame) -> plt.Figure:
    """Share of ones per target, one bar per window (from :func:`lab.dataset.class_balance`)."""
    pivot = balance.pivot(index="target", columns="window", values="share_of_ones")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    pivot.plot.bar(ax=ax, rot=0)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylabel("share of label 1")
    ax.set_title("Class balance per target")
    fig.tight_layout()
    return fig


def feature_distribution_figure(table: pd.DataFrame, features: list[str]) -> plt.Figure:
    """A histogram per feature (1st-99th percentile range) on one sheet."""
    cols = 6
    rows = int(np.ceil(len(features) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.6, rows * 2.0))
    for ax, name in zip(np.ravel(axes), features):
        values = table[name].dropna().to_numpy()
        if len(values):
            lo, hi = np.percentile(values, [1, 99])
            ax.hist(values[(values >= lo) & (values <= hi)], bins=40, color="#4472c4")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in np.ravel(axes)[len(features):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
