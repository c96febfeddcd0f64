"""Tests for registry.gate: the promotion policy as pure checks."""

from __future__ import annotations

import dataclasses

import pytest

from lab.config import PromotionConfig
from registry.gate import Evidence, GateResult, RunFacts, evaluate_gates, format_gate_table

POLICY = PromotionConfig(model_name="mes-test")
CANDIDATE = RunFacts("tune1", tags={"lab.dataset_digest": "d" * 16}, params={"target": "target_6bar"},
                     metrics={"val_auc": 0.58})
BACKTEST = RunFacts("bt1", metrics={"profit_factor": 1.4, "trades_per_day": 3.6, "worst_day_usd": -82.5})


WALK_FORWARD = RunFacts("wf1", metrics={"wf_auc_mean": 0.56})


def _gates(policy=POLICY, candidate=CANDIDATE, wf=WALK_FORWARD, bt=BACKTEST, note=""):
    return {g.name: g for g in evaluate_gates(policy, candidate, Evidence("walk-forward", wf, note),
                                              Evidence("backtest", bt, note))}


def test_evaluate_gates_all_pass_with_measured_values():
    gates = _gates()
    assert list(gates) == ["walk_forward_evidence", "backtest_evidence", "min_validation_auc", "min_walk_forward_auc",
                           "min_profit_factor", "min_trades_per_day", "max_worst_day_loss_usd"]
    assert all(g.passed for g in gates.values())
    assert gates["walk_forward_evidence"].measured == "wf1"
    assert gates["max_worst_day_loss_usd"].measured == pytest.approx(82.5)
    assert gates["min_profit_factor"].threshold == pytest.approx(1.2)


def test_evaluate_gates_missing_required_evidence_fails_with_the_search_note():
    gates = _gates(wf=None, note="no walk-forward run is tagged lab.evidence_for = tune1")
    assert not gates["walk_forward_evidence"].passed
    assert gates["walk_forward_evidence"].measured is None
    assert "lab.evidence_for" in gates["walk_forward_evidence"].note


def test_evaluate_gates_missing_required_backtest_fails_every_backtest_gate():
    gates = _gates(bt=None)
    failed = {name for name, g in gates.items() if not g.passed}
    assert failed == {"backtest_evidence", "min_profit_factor", "min_trades_per_day", "max_worst_day_loss_usd"}
    assert gates["min_profit_factor"].note == "no backtest evidence"


def test_evaluate_gates_checks_the_out_of_sample_walk_forward_auc():
    gates = _gates(wf=RunFacts("wf1", metrics={"wf_auc_mean": 0.51}))
    assert not gates["min_walk_forward_auc"].passed and gates["min_walk_forward_auc"].measured == pytest.approx(0.51)
    assert gates["min_validation_auc"].passed  # the optimistic number alone would have let it through


def test_evaluate_gates_unrequired_missing_evidence_passes_and_skips_backtest_thresholds():
    policy = dataclasses.replace(POLICY, require_walk_forward=False, require_backtest=False)
    gates = _gates(policy=policy, wf=None, bt=None)
    assert list(gates) == ["walk_forward_evidence", "backtest_evidence", "min_validation_auc"]
    assert all(g.passed for g in gates.values())
    assert gates["backtest_evidence"].threshold == "not required"


@pytest.mark.parametrize(("worst_day_usd", "passed", "loss"), [(-100.0, True, 100.0), (-100.5, False, 100.5),
                                                               (150.0, True, 0.0)])
def test_evaluate_gates_worst_day_gate_measures_the_loss_not_a_profit(worst_day_usd, passed, loss):
    bt = dataclasses.replace(BACKTEST, metrics={**BACKTEST.metrics, "worst_day_usd": worst_day_usd})
    gate = _gates(bt=bt)["max_worst_day_loss_usd"]
    assert (gate.passed, gate.measured, gate.rule) == (passed, pytest.approx(loss), "<=")


def test_evaluate_gates_thresholds_are_inclusive_and_low_values_fail():
    bt = dataclasses.replace(BACKTEST, metrics={**BACKTEST.metrics, "profit_factor": 1.2, "trades_per_day": 2.9})
    gates = _gates(bt=bt)
    assert gates["min_profit_factor"].passed
    assert not gates["min_trades_per_day"].passed
    assert gates["min_trades_per_day"].note == "2.9 is not >= 3"


def test_evaluate_gates_missing_val_auc_fails_and_says_so():
    gate = _gates(candidate=dataclasses.replace(CANDIDATE, metrics={}))["min_validation_auc"]
    assert not gate.passed
    assert gate.note == "run tune1 has no val_auc metric"


def test_format_gate_table_lists_result_measured_and_threshold():
    table = format_gate_table([GateResult("min_profit_factor", False, 1.05, 1.2, ">=", "1.05 is not >= 1.2"),
                               GateResult("walk_forward_evidence", True, "wf1", "FINISHED walk-forward", "found")])
    lines = table.splitlines()
    assert lines[0].split() == ["gate", "result", "measured", "threshold", "note"]
    assert lines[1].split()[:5] == ["min_profit_factor", "FAIL", "1.05", ">=", "1.2"]
    assert lines[2].split()[:3] == ["walk_forward_evidence", "PASS", "wf1"]
