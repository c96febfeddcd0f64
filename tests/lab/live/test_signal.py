"""The live signal rule against the backtest's."""

from __future__ import annotations


import numpy as np
import pytest
import pandas as pd

from lab.backtest.signals import position_contracts
from lab.config import RulesConfig
from lab.live.signal import decide
from lab.strategies.direction import direction_signals

CLOSE_NS = 1_700_000_000_000_000_000  # any session close
MINUTE = 60_000_000_000


def test_decide_agrees_with_the_backtest_rule_on_every_probability():
    rules = RulesConfig()
    grid = np.r_[np.linspace(0.0, 1.0, 2001), 0.4, 0.6, 0.7, 0.3, 1 - 0.6, 1 - 0.7]
    signals = direction_signals(pd.Series(grid), rules)
    sizes = position_contracts(signals.confidence.to_numpy(), rules)
    for p, signal, size in zip(grid, signals.signal, sizes):
        decision = decide(float(p), CLOSE_NS - 60 * MINUTE, CLOSE_NS, rules)
        assert decision.side == {1: "long", -1: "short", 0: "flat"}[int(signal)]
        assert decision.contracts == (size if signal else 0)
        assert decision.stopped_by == ("" if signal else "threshold")


def test_decide_names_the_last_entry_and_warmup_rules():
    rules = RulesConfig()
    # 15:40 bar -> enters at 15:45 (allowed); 15:45 bar -> 15:50 entry (after the last entry)
    assert decide(0.8, CLOSE_NS - 20 * MINUTE, CLOSE_NS, rules).stopped_by == ""
    late = decide(0.8, CLOSE_NS - 15 * MINUTE, CLOSE_NS, rules)
    assert (late.side, late.contracts, late.stopped_by) == ("long", 0, "last_entry")
    assert decide(float("nan"), CLOSE_NS - 60 * MINUTE, CLOSE_NS, rules).stopped_by == "warmup"


@pytest.mark.parametrize("engine", ["lightgbm", "xgboost"])
def test_single_row_predictor_equals_the_batch_prediction(engine):
    from lab.live.serving import single_row_predictor
    from lab.models import predict_proba

    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 4))
    y = (X[:, 0] > 0).astype(int)
    names = ["a", "b", "c", "d"]
    if engine == "lightgbm":
        import lightgbm as lgb

        booster = lgb.train({"verbose": -1, "num_leaves": 4, "objective": "binary"}, lgb.Dataset(X, y, feature_name=names), 8)
    else:
        import xgboost as xgb

        booster = xgb.train({"max_depth": 2, "objective": "binary:logistic"}, xgb.DMatrix(X, y, feature_names=names), 8)
    predict = single_row_predictor(booster)
    np.testing.assert_allclose([predict(row) for row in X[:20]], predict_proba(booster, X[:20]), rtol=1e-7)
