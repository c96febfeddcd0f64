"""Pictures a person can read: bin counts on reliability diagrams, one panel per feature."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.evaluation import reliability_table
from lab.plots import reliability_figure
from lab.plots_data import feature_distribution_figure


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
