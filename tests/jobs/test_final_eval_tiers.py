"""final-eval's per-tier metrics use the engine's own size tier (one home: lab.backtest.signals)."""

from __future__ import annotations

import numpy as np

from jobs.final_eval import tier_metrics
from lab.backtest import position_contracts
from lab.config import LabConfig


def test_tier_metrics_sizes_like_the_engine_at_the_threshold():
    config = LabConfig()
    # P(up) a hair under 0.70 (float noise) and a hair under 0.60: the engine trades full / half size
    edge_full, edge_half = 0.7 - 1e-13, 0.6 - 1e-13
    probability = np.array([edge_full, edge_half, 0.55, 0.2, 0.9, 0.65])
    labels = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    contracts = position_contracts(np.maximum(probability, 1 - probability), config.rules)
    assert contracts.tolist()[:2] == [config.rules.full_size_contracts, config.rules.half_size_contracts]
    rows = tier_metrics(labels, probability, config).set_index("tier")["rows"].to_dict()
    assert rows == {"all": 6, "full": 3, "half": 2, "none": 1}  # full: edge, 0.2, 0.9; half: edge, 0.65
