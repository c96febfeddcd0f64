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
    from lab.models.boosters import predict_proba

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


@pytest.mark.parametrize("name,whole_session", [("breakout", True), ("mean_reversion", False),
                                                ("mean_reversion", True)])
@pytest.mark.slow
def test_bar_rule_of_a_volatility_strategy_agrees_with_its_backtest_signals(name, whole_session):
    """Random feature rows and probabilities, NaNs included: the per-bar rule gives the batch rule's
    signal, confidence, size and exit flag, and names why a bar does not trade."""
    from lab.config import BreakoutConfig, MeanReversionConfig, StrategyConfig
    from lab.live.signal import BarRule
    from lab.strategies import build_signals

    rng = np.random.default_rng(7)
    n = 4000
    strategy = StrategyConfig(name=name, breakout=BreakoutConfig(min_consolidation_score=0.5),
                              mean_reversion=MeanReversionConfig(min_ema_deviation_pct=0.1,
                                                                 skip_first_and_last_hour=not whole_session))
    features = pd.DataFrame({
        "consolidation_score": rng.uniform(0, 1, n), "range_position": rng.uniform(0, 1, n),
        "mr_rsi_7": rng.uniform(0, 100, n), "mr_ema21_deviation_pct": rng.normal(0, 0.3, n),
        "mr_is_midday": rng.integers(0, 2, n).astype(float)})
    features = features.mask(rng.random(features.shape) < 0.03)
    p = pd.Series(rng.uniform(0, 1, n))
    p[rng.random(n) < 0.05] = np.nan
    rules = RulesConfig()
    batch = build_signals(strategy, features, volatility_probability=p, features=features)
    sizes = position_contracts(np.nan_to_num(batch.confidence.to_numpy()), rules)
    rule = BarRule(strategy, rules)
    exit_flags = (batch.exit_signal.to_numpy() if batch.exit_signal is not None else np.zeros(n, bool))
    stopped = set()
    for i in range(n):
        out = rule(float(p[i]), CLOSE_NS - 60 * MINUTE, CLOSE_NS, tuple(features[list(rule.features)].iloc[i]))
        assert out.signal == batch.signal.iloc[i]
        assert out.exit_signal == exit_flags[i]
        if out.signal:
            assert out.confidence == batch.confidence.iloc[i] and out.contracts == sizes[i]
            assert out.decision.side == ("long" if out.signal > 0 else "short") and out.decision.stopped_by == ""
        stopped.add(out.decision.stopped_by)
    assert stopped == {"", "setup", "warmup"}
    late = rule(0.9 if name == "breakout" else 0.1, CLOSE_NS - 15 * MINUTE, CLOSE_NS,
                (0.9, 0.1) if name == "breakout" else (10.0, -1.0, 1.0))
    assert (late.signal, late.decision.contracts, late.decision.stopped_by) == (1, 0, "last_entry")


def test_a_served_model_refuses_custom_feature_code_changed_since_its_promotion():
    from lab.errors import DataError
    from lab.features.core import FEATURE_NAMES
    from lab.live.serving import LiveSignaler, SignalSpec
    from lab.market.sessions import regular_sessions

    import lightgbm as lgb

    entry = "tests.lab.custom_feature_fixtures:session_aware"
    names = list(FEATURE_NAMES) + ["close_vs_mean_12"]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, len(names)))
    booster = lgb.train({"verbose": -1, "num_leaves": 4, "objective": "binary"},
                        lgb.Dataset(X, (X[:, -1] > 0).astype(int), feature_name=names), 5)
    sessions = regular_sessions("XNYS", pd.Timestamp("2023-03-01").date(), pd.Timestamp("2023-03-03").date())
    from lab.features.custom import custom_sources_digest

    pinned = SignalSpec(engine="lightgbm", features=tuple(names), custom=(entry,),
                        custom_sources=custom_sources_digest([entry]))
    assert LiveSignaler(booster, pinned, sessions).inputs.custom is not None
    stale = SignalSpec(engine="lightgbm", features=tuple(names), custom=(entry,), custom_sources={entry: "0" * 16})
    with pytest.raises(DataError, match="changed since the model was promoted"):
        LiveSignaler(booster, stale, sessions)
    assert SignalSpec.from_json(pinned.to_json()) == pinned


def test_a_served_window_across_a_contract_switch_is_decided_on_back_adjusted_prices():
    """MESH23 -> MESM23 (roll 2023-03-09), the file 30 points higher from the next session: a champion whose
    data were back-adjusted decides the window as if its old-contract minutes were 30 points higher (the
    series featurize gave it); sent as is, the jump would reach its features."""
    import lightgbm as lgb

    from lab.features.core import FEATURE_NAMES
    from lab.live.serving import SignalSpec, signals_from_minutes
    from tests.conftest import make_minutes

    minutes = make_minutes("2023-01-23", "2023-03-14", seed=3)
    rolled = minutes.copy()
    prices = ["open", "high", "low", "close"]
    rolled.loc[rolled.index >= pd.Timestamp("2023-03-10 09:30", tz=rolled.index.tz), prices] += 30.0
    names = list(FEATURE_NAMES)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, len(names))) * 1e-3
    booster = lgb.train({"verbose": -1, "num_leaves": 4, "objective": "binary"},
                        lgb.Dataset(X, (X[:, 0] + X[:, 3] > 0).astype(int), feature_name=names), 15)

    def sent(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.reset_index(names="time").assign(time=lambda f: f["time"].map(pd.Timestamp.isoformat))

    back = SignalSpec(engine="lightgbm", features=tuple(names), instrument="MES", roll_adjust="back")
    served = signals_from_minutes(sent(rolled), booster, back)
    shifted = minutes.copy()
    shifted[prices] += 30.0  # the back-adjusted series: the old contract 30 points up, the new one as traded
    pd.testing.assert_frame_equal(served, signals_from_minutes(sent(shifted), booster, back))
    as_sent = signals_from_minutes(sent(rolled), booster, SignalSpec(engine="lightgbm", features=tuple(names)))
    assert not as_sent["probability"].equals(served["probability"])
    assert SignalSpec.from_json(back.to_json()) == back
