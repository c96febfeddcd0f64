"""Tests for registry.gate: the promotion policy as pure checks."""

from __future__ import annotations

import dataclasses

import pytest

from lab.config import PromotionConfig
from registry.deflated import LedgerFacts
from registry.gate import Evidence, GateResult, RunFacts, evaluate_gates, format_gate_table, statistic_gates

POLICY = PromotionConfig(model_name="mes-test")
CANDIDATE = RunFacts("tune1", tags={"lab.dataset_digest": "d" * 16}, params={"target": "target_6bar"},
                     metrics={"val_auc": 0.58, "pbo": 0.2, "spa_pvalue": 0.01})
BACKTEST = RunFacts("bt1", metrics={"profit_factor": 1.4, "trades_per_day": 3.6, "worst_day_usd": -82.5,
                                    "sharpe_ratio": 5.0, "sessions": 250, "daily_pnl_skewness": 0.0,
                                    "daily_pnl_kurtosis": 3.0})
LEDGER = LedgerFacts("ES", "2023-01-01..2023-12-31", 85, (0.10, 0.05, 0.0))


WALK_FORWARD = RunFacts("wf1", metrics={"wf_auc_mean": 0.56})


def _gates(policy=POLICY, candidate=CANDIDATE, wf=WALK_FORWARD, bt=BACKTEST, note="", ledger=LEDGER):
    return {g.name: g for g in evaluate_gates(policy, candidate, Evidence("walk-forward", wf, note),
                                              Evidence("backtest", bt, note), ledger)}


def test_evaluate_gates_all_pass_with_measured_values():
    gates = _gates()
    assert list(gates) == ["walk_forward_evidence", "backtest_evidence", "min_validation_auc", "min_walk_forward_auc",
                           "min_profit_factor", "min_trades_per_day", "max_worst_day_loss_usd",
                           "min_deflated_sharpe_prob", "max_pbo", "max_spa_pvalue"]
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
    assert failed == {"backtest_evidence", "min_profit_factor", "min_trades_per_day", "max_worst_day_loss_usd",
                      "min_deflated_sharpe_prob"}
    assert gates["min_profit_factor"].note == "no backtest evidence"


def test_evaluate_gates_checks_the_out_of_sample_walk_forward_auc():
    gates = _gates(wf=RunFacts("wf1", metrics={"wf_auc_mean": 0.51}))
    assert not gates["min_walk_forward_auc"].passed and gates["min_walk_forward_auc"].measured == pytest.approx(0.51)
    assert gates["min_validation_auc"].passed  # the optimistic number alone would have let it through


def test_evaluate_gates_unrequired_missing_evidence_passes_and_skips_backtest_thresholds():
    policy = dataclasses.replace(POLICY, require_walk_forward=False, require_backtest=False)
    gates = _gates(policy=policy, wf=None, bt=None)
    assert list(gates) == ["walk_forward_evidence", "backtest_evidence", "min_validation_auc", "max_pbo",
                           "max_spa_pvalue"]
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


def test_evaluate_gates_deflated_sharpe_uses_the_ledger_count_and_prints_it():
    from scipy.stats import norm

    gate = _gates()["min_deflated_sharpe_prob"]
    # by hand: daily SR 5/sqrt(252); V = max(var(0.10, 0.05, 0.0) = 0.0025, 1/249) = 1/249 (the floor); N = 85
    sr, v, g = 5 / 252 ** 0.5, 1 / 249, 0.5772156649015329
    sr0 = v ** 0.5 * ((1 - g) * norm.ppf(1 - 1 / 85) + g * norm.ppf(1 - 1 / (85 * 2.718281828459045)))
    assert gate.passed and gate.measured == pytest.approx(norm.cdf((sr - sr0) * 249 ** 0.5 / (1 + 2 / 4 * sr ** 2) ** 0.5))
    assert "N=85 trials on ES 2023-01-01..2023-12-31" in gate.note and gate.note.startswith("backtest bt1:")
    many = _gates(ledger=dataclasses.replace(LEDGER, n_trials=5000))["min_deflated_sharpe_prob"]
    assert not many.passed and many.measured < gate.measured  # more tries, less belief


def test_evaluate_gates_deflated_sharpe_fails_when_the_backtest_is_not_in_the_ledger():
    facts = LedgerFacts("", "", 0, (), "run bt1 carries no lab.ledger.market/lab.ledger.window tags (made before "
                                       "the trial ledger); re-run the backtest to record it")
    gate = _gates(ledger=facts)["min_deflated_sharpe_prob"]
    assert not gate.passed and gate.measured is None and "re-run the backtest" in gate.note


def test_evaluate_gates_study_statistics_come_from_the_candidate_run():
    candidate = dataclasses.replace(CANDIDATE, metrics={"val_auc": 0.58, "pbo": 0.62, "spa_pvalue": 0.2})
    gates = _gates(candidate=candidate)
    assert (gates["max_pbo"].passed, gates["max_pbo"].measured, gates["max_pbo"].rule) == (False, 0.62, "<=")
    assert gates["max_spa_pvalue"].note == "0.2 is not <= 0.05"
    old = _gates(candidate=dataclasses.replace(CANDIDATE, metrics={"val_auc": 0.58}))
    assert not old["max_pbo"].passed and "has no pbo metric" in old["max_pbo"].note
    assert "max_pbo = 1" in old["max_pbo"].note


def test_statistic_gates_trivial_thresholds_turn_them_off():
    policy = dataclasses.replace(POLICY, min_deflated_sharpe_prob=0.0, max_pbo=1.0, max_spa_pvalue=1.0)
    gates = statistic_gates(policy, deflated_sharpe_prob=None, pbo=0.9, spa_pvalue=float("nan"))
    assert [(g.name, g.passed) for g in gates] == [("min_deflated_sharpe_prob", True), ("max_pbo", True),
                                                    ("max_spa_pvalue", True)]
    assert gates[1].note == "off ([promotion] max_pbo = 1)" and gates[1].measured == 0.9


def test_statistic_gates_are_inclusive_at_the_threshold():
    gates = statistic_gates(POLICY, deflated_sharpe_prob=0.95, pbo=0.5, spa_pvalue=0.0501)
    assert [g.passed for g in gates] == [True, True, False]


def test_format_gate_table_shows_the_statistic_gates_with_their_values():
    table = format_gate_table(list(_gates().values()))
    row = next(line for line in table.splitlines() if line.startswith("max_pbo "))
    assert row.split()[:5] == ["max_pbo", "PASS", "0.2", "<=", "0.5"]


STUDY = {"val_auc": 0.58, "pbo": 0.2, "spa_pvalue": 0.01, "trial_sharpe_variance": 0.002, "study_sessions": 250,
         "study_trials": 12, "study_distinct_trials": 12, "study_trading_trials": 12, "pbo_blocks": 16,
         "pbo_sessions_used": 240, "spa_reps": 1000, "spa_block_length": 250 ** (1 / 3)}


def test_evaluate_gates_deflated_sharpe_takes_v_from_the_candidate_study_not_the_floor():
    from scipy.stats import norm

    gate = _gates(candidate=dataclasses.replace(CANDIDATE, metrics=STUDY))["min_deflated_sharpe_prob"]
    sr, v, g = 5 / 252 ** 0.5, 0.002, 0.5772156649015329  # V as measured by the study, below the 1/249 floor
    sr0 = v ** 0.5 * ((1 - g) * norm.ppf(1 - 1 / 85) + g * norm.ppf(1 - 1 / (85 * 2.718281828459045)))
    assert gate.measured == pytest.approx(norm.cdf((sr - sr0) * 249 ** 0.5 / (1 + 2 / 4 * sr ** 2) ** 0.5))
    assert "V=0.002 from the tune study's trials" in gate.note and "T=250 sessions" in gate.note


def test_evaluate_gates_study_notes_name_the_inputs_of_pbo_and_spa():
    gates = _gates(candidate=dataclasses.replace(CANDIDATE, metrics=STUDY))
    assert gates["max_pbo"].passed and gates["max_pbo"].note == (
        "CSCV on the daily P&L Sharpe of 12 trials, T=250 sessions (240 used), S=16 blocks")
    assert gates["max_spa_pvalue"].note == ("Hansen's SPA of 12 trials' daily P&L against 0, T=250 sessions, "
                                            "1000 stationary-bootstrap reps, mean block 6.3 sessions")


@pytest.mark.parametrize(("distinct", "trading", "says"), [(1, 12, "earned the same daily P&L (one model)"),
                                                           (1, 0, "none of the study's 12 trials traded")])
def test_evaluate_gates_a_study_of_one_strategy_cannot_pass_and_says_why(distinct, trading, says):
    metrics = {**STUDY, "pbo": 0.3, "study_distinct_trials": distinct, "study_trading_trials": trading}
    gate = _gates(candidate=dataclasses.replace(CANDIDATE, metrics=metrics))["max_pbo"]
    assert not gate.passed and gate.note.startswith("the study cannot pass: ") and says in gate.note
    assert gate.note.count(". ") == 0  # one sentence


def test_evaluate_gates_nan_study_statistics_name_the_missing_sessions_not_a_rerun():
    short = dataclasses.replace(CANDIDATE, metrics={"val_auc": 0.58, "pbo": float("nan"), "spa_pvalue": float("nan"),
                                                    "study_sessions": 2.0, "study_trials": 27.0})
    gates = _gates(candidate=short)
    for name in ("max_pbo", "max_spa_pvalue"):
        assert not gates[name].passed and "re-run tune" not in gates[name].note
        assert "tuned before" not in gates[name].note
    assert gates["max_spa_pvalue"].note.startswith("the study had 2 sessions of validation P&L and 27 trials; SPA "
                                                   "needs at least 3 sessions: lengthen [windows] validation")


def test_evaluate_gates_runs_without_study_metrics_are_told_to_re_run_tune():
    old = dataclasses.replace(CANDIDATE, metrics={"val_auc": 0.58})
    assert "(tuned before the lab measured its study); re-run tune" in _gates(candidate=old)["max_pbo"].note


def test_evaluate_gates_a_constant_model_fails_validation_auc_with_its_cause():
    constant = dataclasses.replace(CANDIDATE, metrics={**CANDIDATE.metrics, "val_auc": 0.5, "val_prediction_spread": 0.0})
    gate = _gates(candidate=constant)["min_validation_auc"]
    assert not gate.passed and gate.note == ("0.5 is not >= 0.55: the model predicts one value for every validation "
                                             "row (a constant model learned nothing)")
