"""Tests for registry.seals and the ticket's stages, heartbeat and release."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lab.config import DateRange, load_config
from registry.errors import SealedRangeError, TicketError, TicketSpentError
from registry.seals import add_seal, enforce_seals, list_seals, seal_name
from registry.ticket import (DATA_READ, PREDICTED, get_ticket, list_released, liveness, release_ticket, set_stage,
                             take_ticket)

WINDOW = "2023-07-01..2023-07-31"


def _config(tmp_path, validation=("2023-05-01", "2023-06-30"), test=("2023-07-01", "2023-07-31")):
    path = tmp_path / f"lab-{validation[0]}-{test[0]}.toml"
    path.write_text(f'[windows]\ntrain = ["2022-06-01", "2023-04-30"]\nvalidation = ["{validation[0]}", "{validation[1]}"]\n'
                    f'test = ["{test[0]}", "{test[1]}"]\n')
    return load_config(str(path))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _held_by_dead_process(stage: str):
    from mlflow import MlflowClient

    ticket = take_ticket("ES", WINDOW, model_name="mes-test", run_id="evalrun")
    MlflowClient().set_registered_model_tag(ticket.name, "lab.ticket.pid", str(_dead_pid()))
    if stage != "taken":
        set_stage(ticket, DATA_READ)
    if stage == PREDICTED:
        set_stage(ticket, PREDICTED)
    return get_ticket("ES", WINDOW)


def test_seal_name_holds_market_and_window():
    assert seal_name("ES", WINDOW) == "lab-seal-ES-2023-07-01_2023-07-31"


def test_enforce_seals_seals_the_test_window_once_and_never_lifts_it(tracking_store, tmp_path):
    first = enforce_seals(_config(tmp_path), "ES", stage="featurize", run_id="run1")
    assert first == [DateRange(dt.date(2023, 7, 1), dt.date(2023, 7, 31))]
    later = enforce_seals(_config(tmp_path, validation=("2023-05-01", "2023-05-31"), test=("2023-09-01", "2023-09-30")),
                          "ES", stage="tune", run_id="run2")
    assert [str(r) for r in later] == [WINDOW, "2023-09-01..2023-09-30"]
    again = enforce_seals(_config(tmp_path), "ES", stage="tune", run_id="run3")
    assert len(again) == 2
    seal = next(s for s in list_seals("ES") if str(s.window) == WINDOW)
    assert (seal.stage, seal.run_id) == ("featurize", "run1")  # the first run stays on record


def test_enforce_seals_refuses_a_validation_window_on_a_sealed_range(tracking_store, tmp_path):
    """Attack 1 at the seal: a second config whose validation is the sealed test window."""
    enforce_seals(_config(tmp_path), "ES", stage="featurize", run_id="run1")
    peek = _config(tmp_path, validation=("2023-07-01", "2023-07-31"), test=("2024-01-01", "2024-12-31"))
    with pytest.raises(SealedRangeError, match=r"\[windows\] validation 2023-07-01..2023-07-31 overlaps the sealed test "
                                               r"range 2023-07-01..2023-07-31 of market ES \(sealed .* by featurize run run1"):
        enforce_seals(peek, "ES", stage="backtest", run_id="run2")
    assert [str(s.window) for s in list_seals("ES")] == [WINDOW]  # the refused config sealed nothing


def test_enforce_seals_refuses_a_test_window_overlapping_a_seal(tracking_store, tmp_path):
    enforce_seals(_config(tmp_path), "ES", stage="featurize")
    shifted = _config(tmp_path, validation=("2023-05-01", "2023-06-30"), test=("2023-07-15", "2023-08-15"))
    with pytest.raises(SealedRangeError, match="test 2023-07-15..2023-08-15 overlaps the sealed test range .* without"):
        enforce_seals(shifted, "ES", stage="tune")


def test_seals_of_one_market_do_not_bind_another(tracking_store, tmp_path):
    enforce_seals(_config(tmp_path), "synthetic-ES-seed7-20220501-20230831", stage="featurize")
    peek = _config(tmp_path, validation=("2023-07-01", "2023-07-31"), test=("2024-01-01", "2024-12-31"))
    enforce_seals(peek, "ES", stage="tune")  # real ES dates are not sealed by synthetic data
    with pytest.raises(SealedRangeError, match="market synthetic-ES-seed7"):
        enforce_seals(peek, "synthetic-ES-seed7-20220501-20230831", stage="tune")


def test_add_seal_is_idempotent(tracking_store):
    first = add_seal("NQ", WINDOW, stage="tune", run_id="a")
    second = add_seal("NQ", WINDOW, stage="backtest", run_id="b")
    assert second.run_id == "a" and second.sealed_at == first.sealed_at


def test_ticket_stages_move_forward_only(tracking_store):
    ticket = take_ticket("ES", WINDOW, model_name="mes-test")
    assert set_stage(ticket, DATA_READ).stage == DATA_READ
    with pytest.raises(TicketError, match="cannot go back to taken"):
        set_stage(ticket, "taken")


def test_liveness_tells_a_dead_final_eval_from_a_live_one(tracking_store):
    live = take_ticket("ES", WINDOW, model_name="mes-test")
    assert liveness(live).startswith("alive (pid")
    assert liveness(live, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).startswith("dead (no heartbeat")
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_tag(live.name, "lab.ticket.pid", str(_dead_pid()))
    assert "is gone" in liveness(get_ticket("ES", WINDOW))


def test_release_frees_a_dead_final_eval_before_prediction_and_keeps_the_record(tracking_store):
    _held_by_dead_process(DATA_READ)
    released = release_ticket("ES", WINDOW, "typo in -P data; died while reading")
    assert released.name.startswith("lab-released-ticket-ES-2023-07-01_2023-07-31-")
    assert released.stage == DATA_READ and released.release_reason == "typo in -P data; died while reading"
    assert get_ticket("ES", WINDOW) is None
    assert [t.release_reason for t in list_released("ES")] == ["typo in -P data; died while reading"]
    again = take_ticket("ES", WINDOW, model_name="mes-test")  # the window is open again
    assert again.stage == "taken"


def test_release_is_refused_after_predictions(tracking_store):
    _held_by_dead_process(PREDICTED)
    with pytest.raises(TicketError, match="stage predicted: the model made predictions .* can never be released"):
        release_ticket("ES", WINDOW, "please")
    with pytest.raises(TicketSpentError):
        take_ticket("ES", WINDOW, model_name="renamed")


def test_release_is_refused_while_the_holder_is_alive(tracking_store):
    take_ticket("ES", WINDOW, model_name="mes-test")
    with pytest.raises(TicketError, match="held by a final-eval that is alive"):
        release_ticket("ES", WINDOW, "impatient")


@pytest.mark.slow
def test_ticket_release_command_needs_a_reason_and_reports(tracking_store, tmp_path):
    from cli.registry import ticket_command

    _held_by_dead_process("taken")
    config = tmp_path / "lab.toml"
    config.write_text('[windows]\ntrain = ["2022-06-01", "2023-04-30"]\nvalidation = ["2023-05-01", "2023-06-30"]\n'
                      'test = ["2023-07-01", "2023-07-31"]\n')
    runner = CliRunner()
    missing = runner.invoke(ticket_command, ["release", "--config", str(config), "--market", "ES"])
    assert missing.exit_code == 2 and "--reason" in missing.output
    done = runner.invoke(ticket_command, ["release", "--config", str(config), "--market", "ES", "--reason", "crashed"])
    assert done.exit_code == 0, done.output
    assert "released the ticket of ES 2023-07-01..2023-07-31" in done.output and "crashed" in done.output
    refused = runner.invoke(ticket_command, ["release", "--config", str(config), "--market", "ES", "--reason", "x"])
    assert refused.exit_code == 1 and "it is open" in refused.output
