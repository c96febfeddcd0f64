"""Tests for lab.models.early_stopping: the rule is LightGBM's early_stopping callback's, round for round."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from lightgbm.callback import CallbackEnv, EarlyStopException

from lab.models.early_stopping import EarlyStopping


def _lightgbm_stop(scores: list[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    """(best round, stop round), 1-based, as LightGBM's callback decides on a series of validation AUCs."""
    callback = lgb.early_stopping(patience, first_metric_only=True, verbose=False, min_delta=min_delta)
    result = getattr(lgb, "EvalResult", None)  # a named tuple from LightGBM 4.6, a plain tuple before
    for i, score in enumerate(scores):
        entry = ("validation", "auc", score, True)
        env = CallbackEnv(model=None, params={}, iteration=i, begin_iteration=0, end_iteration=len(scores),
                          evaluation_result_list=[result(*entry) if result else entry])
        try:
            callback(env)
        except EarlyStopException as stop:
            return stop.best_iteration + 1, i + 1
    raise AssertionError("the callback raises at the last round at the latest")


def _ours(scores: list[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    rule = EarlyStopping(patience, len(scores), min_delta)
    for round_, score in enumerate(scores, start=1):
        if rule.update(round_, score):
            return rule.best_round, round_
    raise AssertionError("the rule stops at the last round at the latest")


@pytest.mark.parametrize("min_delta", [0.0, 0.0001, 0.001])
@pytest.mark.parametrize("seed", range(40))
def test_rule_stops_where_lightgbm_callback_stops(seed: int, min_delta: float) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    # rising, plateauing and falling AUC paths, with exact repeats (ties do not count as a gain)
    scores = np.round(0.6 + np.cumsum(rng.normal(0.0005, 0.002, n)), int(rng.integers(3, 6))).tolist()
    patience = int(rng.integers(1, 30))
    assert _ours(scores, patience, min_delta) == _lightgbm_stop(scores, patience, min_delta)


def test_a_gain_of_at_most_min_delta_is_no_gain() -> None:
    rule = EarlyStopping(patience=3, last_round=100, min_delta=0.001)
    assert [rule.update(r, s) for r, s in enumerate([0.70, 0.7005, 0.7008, 0.7025], start=1)] == [False] * 4
    assert (rule.best_round, rule.best_score) == (4, 0.7025)  # +0.0005 and +0.0008 kept round 1 the best
    assert [rule.update(r, 0.7030) for r in (5, 6, 7)] == [False, False, True]  # +0.0005: no gain either


def test_first_round_is_best_and_equal_scores_are_no_gain() -> None:
    rule = EarlyStopping(patience=3, last_round=100)
    assert [rule.update(r, 0.7) for r in range(1, 5)] == [False, False, False, True]
    assert rule.best_round == 1 and rule.best_score == 0.7


def test_last_round_stops_without_patience_spent() -> None:
    rule = EarlyStopping(patience=50, last_round=3)
    assert [rule.update(r, 0.5 + r / 100) for r in (1, 2, 3)] == [False, False, True]
    assert rule.best_round == 3
