"""Pictures a person can read: bin counts on reliability diagrams, one panel per feature."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.models.evaluation import reliability_table
from lab.plots.models import reliability_figure
from lab.plots.data import feature_distribution_figure


def test_reliability_figure_labels_every_bin_with_its_count_and_greys_out_thin_bins():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0.45, 0.55, 5000), [0.05, 0.06, 0.95]])  # two thin outer bins
    y = (rng.uniform(size=p.size) < p).astype(int)
    table = reliability_table(y, p)
    fig = reliability_figure(table, min_count=30)
    top = fig.axes[0]
    labels = sorted(t.get_text() for t in top.texts)
    filled = table[table["count"] > 0]
    assert labels == sorted(f"n={c:,}" for c in filled["count"])
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert any("under 30 rows" in text for text in legend)
    thin_points = [line for line in top.lines if line.get_markerfacecolor() == "none"]
    assert len(thin_points) == 1 and len(thin_points[0].get_xdata()) == int((filled["count"] < 30).sum())


def test_feature_distribution_figure_draws_one_titled_panel_per_feature_with_overlays():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({f"f{i}": rng.normal(i, 1, 500) for i in range(5)})
    validation = train + 0.5
    fig = feature_distribution_figure(train, list(train.columns), compare={"validation": validation})
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split()[0] for ax in titled] == list(train.columns)
    assert [t.get_text() for t in titled[0].get_legend().get_texts()] == ["train", "validation"]


def test_analysis_figures_draw_the_sweep_and_label_each_group():
    from lab.plots.analysis import group_pnl_figure, threshold_sweep_figure

    sweep = pd.DataFrame({"threshold": [0.5, 0.51, 0.52], "trades": [10, 4, 0], "win_rate": [0.4, 0.5, np.nan],
                          "profit_factor": [0.5, np.inf, np.nan], "trades_per_day": [2.0, 0.8, 0.0],
                          "total_pnl_usd": [-20.0, 5.0, 0.0]})
    fig = threshold_sweep_figure(sweep, configured=0.51)
    assert len(fig.axes) == 4 and fig.axes[0].lines[0].get_xdata().tolist() == [0.5, 0.51]
    months = pd.DataFrame({"month": ["2023-01", "2023-02"], "trades": [3, 4], "win_rate": [1 / 3, 0.5],
                           "total_pnl_usd": [-2.0, 6.0]})
    texts = [t.get_text() for t in group_pnl_figure(months, "month", "P&L by month").axes[0].texts]
    assert texts == ["3 tr\n33% won", "4 tr\n50% won"]
