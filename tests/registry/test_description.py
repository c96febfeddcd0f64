"""The version description a person reads on the champion's page in the MLflow UI."""

from registry.description import version_description, with_verdict

GATES = [{"name": "min_validation_auc", "passed": True, "measured": 0.626, "threshold": 0.55, "rule": ">=", "note": ""},
         {"name": "max_pbo", "passed": False, "measured": 0.61, "threshold": 0.5, "rule": "<=", "note": "a | b"}]


def _description(forced: bool) -> str:
    return version_description(model_name="mes-scalper", run_id="t1", experiment_id="3", target="target_6bar",
                               dataset_digest="d1", gates=GATES, evidence_runs={"walk-forward": "w1", "backtest": "b1"},
                               forced=forced, reason="demo", promoted_by="me", promoted_at="2026-11-30T03:00:00+00:00")


def test_version_description_holds_the_gate_table_the_forced_flag_and_links_to_the_evidence():
    text = _description(forced=True)
    assert "**FORCED**" in text and "1 of 2 gates failed" in text and "*demo*" in text
    assert "| min_validation_auc | PASS | 0.626 | >= 0.55 |  |" in text
    assert "| max_pbo | **FAIL** | 0.61 | <= 0.5 | a \\| b |" in text
    assert "walk-forward [w1](#/experiments/3/runs/w1)" in text and "Not yet evaluated" in text
    assert "FORCED" not in _description(forced=False) and "1 of 2 gates passed" in _description(forced=False)


def test_with_verdict_replaces_the_final_evaluation_section_once():
    text = with_verdict(_description(False), verdict="FAIL", run_id="f1", experiment_id="3",
                        window="2024-01-01..2025-12-31", ticket="lab-ticket-ES-x")
    assert "Not yet evaluated" not in text and text.count("### Final evaluation") == 1
    assert text.endswith("**FAIL** on the test window 2024-01-01..2025-12-31: run [f1](#/experiments/3/runs/f1), "
                         "ticket `lab-ticket-ES-x`.")
    assert "| max_pbo |" in text


def test_version_description_names_the_strategy_its_backtest_ran():
    text = version_description(model_name="m", run_id="t1", experiment_id="3", target="target_vol", dataset_digest="d1",
                               gates=GATES, evidence_runs={}, forced=False, reason="", promoted_by="me",
                               promoted_at="now", strategy="breakout")
    assert text.startswith("**m**, `target_vol`, tune run [t1](#/experiments/3/runs/t1), dataset `d1`; trades the "
                           "**breakout** strategy of its validation backtest.")
    assert "trades the" not in _description(forced=False)
