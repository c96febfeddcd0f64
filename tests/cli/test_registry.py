"""Tests for cli.registry: `lab promote` and `lab status` as a user runs them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.registry import promote_command, status_command
from registry.ticket import record_result, take_ticket


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _row(output: str, gate: str) -> list[str]:
    """The first four cells (gate, result, measured, threshold...) of a gate's table row."""
    line = next(line for line in output.splitlines() if line.startswith(gate + " "))
    return line.split()


def test_promote_command_prints_the_gate_table_and_registers(lab_runs, write_config, runner):
    run_id = lab_runs.candidate()
    result = runner.invoke(promote_command, ["--run-id", run_id, "--config", write_config()])
    assert result.exit_code == 0, result.output
    assert _row(result.output, "min_profit_factor")[:5] == ["min_profit_factor", "PASS", "1.4", ">=", "1.2"]
    assert _row(result.output, "max_worst_day_loss_usd")[:5] == ["max_worst_day_loss_usd", "PASS", "82.5", "<=", "100"]
    assert _row(result.output, "walk_forward_evidence")[1] == "PASS"
    assert "registered mes-test version 1" in result.output
    assert "alias champion -> version 1 (first champion)" in result.output


def test_promote_command_refusal_exits_1_naming_gates_and_the_override(lab_runs, write_config, runner):
    run_id = lab_runs.candidate(trades_per_day=2.0, worst_day_usd=-150.0)
    result = runner.invoke(promote_command, ["--run-id", run_id, "--config", write_config()])
    assert result.exit_code == 1
    assert _row(result.output, "min_trades_per_day")[:5] == ["min_trades_per_day", "FAIL", "2", ">=", "3"]
    assert "refused: 2 gate(s) failed: min_trades_per_day, max_worst_day_loss_usd" in result.output
    assert f"lab promote --run-id {run_id} --force --reason" in result.output
    assert lab_runs.client.search_registered_models(filter_string="name = 'mes-test'") == []


def test_promote_command_force_with_reason_registers_and_says_forced(lab_runs, write_config, runner):
    run_id = lab_runs.candidate(profit_factor=1.1)
    result = runner.invoke(promote_command, ["--run-id", run_id, "--config", write_config(), "--force",
                                             "--reason", "regime change; reviewed by hand"])
    assert result.exit_code == 0, result.output
    assert "FORCED: regime change; reviewed by hand" in result.output


def test_promote_command_force_without_reason_is_a_usage_error(lab_runs, write_config, runner):
    result = runner.invoke(promote_command, ["--run-id", "abc", "--config", write_config(), "--force"])
    assert result.exit_code == 2
    assert '--force needs --reason "..."' in result.output


def test_promote_command_run_without_model_is_refused(lab_runs, write_config, runner):
    run_id = lab_runs.tune(model="none")
    result = runner.invoke(promote_command, ["--run-id", run_id, "--config", write_config()])
    assert result.exit_code == 1
    assert f"refused: run {run_id} (tune) holds no logged model" in result.output


def test_promote_command_uses_the_configured_thresholds(lab_runs, write_config, runner):
    run_id = lab_runs.candidate()
    config = write_config(min_profit_factor=1.5, require_walk_forward=False)
    result = runner.invoke(promote_command, ["--run-id", run_id, "--config", config])
    assert result.exit_code == 1
    assert _row(result.output, "min_profit_factor")[:5] == ["min_profit_factor", "FAIL", "1.4", ">=", "1.5"]


def test_status_command_shows_champion_evidence_and_an_open_window(lab_runs, write_config, runner):
    config = write_config()
    empty = runner.invoke(status_command, ["--config", config])
    assert "champion: none yet" in empty.output
    assert "sealed test ranges (this configuration's test window: 2024-01-01..2025-12-31):\n  none yet" in empty.output
    run_id = lab_runs.candidate()
    runner.invoke(promote_command, ["--run-id", run_id, "--config", config], catch_exceptions=False)
    result = runner.invoke(status_command, ["--config", config])
    assert result.exit_code == 0, result.output
    assert f"champion: version 1  run {run_id}" in result.output
    assert "dataset 0123456789abcdef  target target_6bar  engine lightgbm" in result.output
    assert f"evidence: tune {run_id}, walk-forward " in result.output
    assert "gates: PASS walk_forward_evidence, PASS backtest_evidence" in result.output


def test_status_command_lists_every_sealed_range_with_its_state(lab_runs, write_config, runner):
    import subprocess
    import sys

    from registry.seals import add_seal
    from registry.ticket import set_stage

    for market, window in (("ES", "2024-01-01..2025-12-31"), ("ES", "2026-01-01..2026-06-30"),
                           ("ES", "2026-07-01..2026-12-31"), ("synthetic-ES-seed7-20190501-20251231", "2024-01-01..2025-12-31")):
        add_seal(market, window, stage="tune", run_id="tunerun")
    spent = take_ticket("ES", "2024-01-01..2025-12-31", model_name="mes-test", run_id="evalrun1")
    record_result(spent, "evalrun1", "FAIL")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from mlflow import MlflowClient

    held = take_ticket("ES", "2026-01-01..2026-06-30", model_name="mes-test")
    MlflowClient().set_registered_model_tag(held.name, "lab.ticket.pid", str(dead.pid))
    set_stage(held, "data-read")
    result = runner.invoke(status_command, ["--config", write_config(test_window=("2026-01-01", "2026-06-30"))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ES 2024-01-01..2025-12-31: SPENT: final-eval run evalrun1 (model mes-test) gave the verdict FAIL" in out
    assert f"ES 2026-01-01..2026-06-30: IN PROGRESS, final-eval dead (pid {dead.pid} on" in out
    assert "stage data-read" in out and "free it with `lab ticket release --reason" in out
    assert "ES 2026-07-01..2026-12-31: open (no final-eval has looked at it)" in out
    assert "synthetic-ES-seed7-20190501-20251231 2024-01-01..2025-12-31: open" in out
    assert "sealed " in out and "by tune run tunerun" in out
