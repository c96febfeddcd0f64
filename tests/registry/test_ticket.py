"""Tests for registry.ticket: the atomic one-time test-window ticket."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab.config import DateRange
from registry.errors import TicketError, TicketSpentError
from registry.ticket import attach_run, get_ticket, list_tickets, record_result, take_ticket, ticket_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WINDOW = "2024-01-01..2025-12-31"


def test_ticket_name_holds_market_and_window():
    assert ticket_name("ES", WINDOW) == "lab-ticket-ES-2024-01-01_2025-12-31"


def test_ticket_name_refuses_a_malformed_window():
    with pytest.raises(TicketError, match="must read YYYY-MM-DD..YYYY-MM-DD"):
        ticket_name("ES", "2024..2025")


def test_take_ticket_accepts_the_configured_date_range(tracking_store):
    import datetime as dt

    ticket = take_ticket("mes-test", DateRange(dt.date(2024, 1, 1), dt.date(2025, 12, 31)), run_id="run1")
    assert (ticket.window, ticket.run_id, ticket.in_progress) == (WINDOW, "run1", True)
    assert "@" in ticket.taken_by and ticket.taken_at.endswith("+00:00")


def test_take_ticket_second_take_refuses_and_names_the_first_run(tracking_store):
    first = take_ticket("mes-test", WINDOW, run_id="run1")
    record_result(first, "run1", "pass")
    with pytest.raises(TicketSpentError, match="already taken: final-eval run run1 \\(model \\) gave the verdict pass") as info:
        take_ticket("mes-test", WINDOW, run_id="run2")
    assert info.value.ticket.run_id == "run1"
    assert "set a new, unseen [windows] test" in str(info.value)


def test_take_ticket_while_in_progress_says_since_when(tracking_store):
    first = take_ticket("mes-test", WINDOW)
    with pytest.raises(TicketSpentError, match=re.escape(f"in progress since {first.taken_at} (no run recorded yet")):
        take_ticket("mes-test", WINDOW)


def test_take_ticket_persists_for_a_new_client(tracking_store):
    from mlflow import MlflowClient

    taken = take_ticket("mes-test", WINDOW, run_id="run1", model_version="3")
    seen = get_ticket("mes-test", WINDOW, client=MlflowClient(tracking_uri=tracking_store))
    assert seen is not None
    assert (seen.name, seen.run_id, seen.model_version, seen.taken_at) == (taken.name, "run1", "3", taken.taken_at)
    assert get_ticket("other-model", WINDOW) is None


def test_take_ticket_is_keyed_on_market_not_model_name(tracking_store):
    """Attack 2: promoting the same run under another [promotion] model_name gives no second look."""
    first = take_ticket("ES", WINDOW, model_name="mes-scalper", run_id="run1")
    record_result(first, "run1", "FAIL")
    with pytest.raises(TicketSpentError, match="market ES was already taken: .*model mes-scalper.*whatever the model is"):
        take_ticket("ES", WINDOW, model_name="mes-scalper-renamed", run_id="run2")
    assert take_ticket("NQ", WINDOW, model_name="mes-scalper").market == "NQ"  # another market is its own


def test_take_ticket_new_window_opens_a_new_ticket_listing_spent_windows(tracking_store):
    old = take_ticket("mes-test", WINDOW, run_id="run1")
    record_result(old, "run1", "fail")
    new = take_ticket("mes-test", "2026-01-01..2026-12-31", run_id="run2")
    assert new.name != old.name
    assert new.previous_windows == [{"window": WINDOW, "run_id": "run1", "verdict": "fail", "taken_at": old.taken_at}]
    assert [t.window for t in list_tickets("mes-test")] == [WINDOW, "2026-01-01..2026-12-31"]
    take_ticket("other-model", WINDOW)  # another model's window is its own
    assert len(list_tickets()) == 3


def test_take_ticket_window_overlapping_a_spent_one_warns_and_records_it(tracking_store):
    from mlflow import MlflowClient

    take_ticket("mes-test", WINDOW, run_id="run1")
    with pytest.warns(UserWarning, match="overlaps window\\(s\\) 2024-01-01..2025-12-31 already evaluated"):
        ticket = take_ticket("mes-test", "2025-07-01..2026-06-30")
    assert ticket.name.endswith("2025-07-01_2026-06-30")
    tags = MlflowClient().get_registered_model(ticket.name).tags
    assert tags["lab.ticket.overlaps_spent"] == '["2024-01-01..2025-12-31"]'


def test_attach_run_then_record_result(tracking_store):
    ticket = attach_run(take_ticket("mes-test", WINDOW), "run9")
    assert ticket.run_id == "run9"
    done = record_result(ticket, "run9", "pass")
    assert (done.verdict, done.in_progress) == ("pass", False)
    assert done.finished_at is not None


def test_record_result_refuses_another_run_and_a_second_verdict(tracking_store):
    ticket = take_ticket("mes-test", WINDOW, run_id="run1")
    with pytest.raises(TicketError, match="belongs to run run1; run run2 cannot record"):
        record_result(ticket, "run2", "pass")
    record_result(ticket, "run1", "pass")
    with pytest.raises(TicketError, match="already holds the verdict 'pass'"):
        record_result(ticket, "run1", "fail")
    with pytest.raises(TicketError, match="verdict must be a non-empty word"):
        record_result(ticket, "run1", " ")


# -- two processes at once ------------------------------------------------------------------


@pytest.fixture(scope="module")
def racers():
    """Two worker processes (started once per module: importing mlflow costs seconds)."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(PROJECT_ROOT)}
    workers = [subprocess.Popen([sys.executable, "-m", "tests.registry.ticket_race_worker"], cwd=PROJECT_ROOT,
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        yield workers
    finally:
        for worker in workers:
            worker.stdin.close()
            worker.wait(timeout=30)


def _race(workers, tracking_uri: str, rounds: int) -> list[list[dict]]:
    """Both workers take the same ticket at the same moment, ``rounds`` times (one window each)."""
    for worker in workers:
        worker.stdin.write(f"connect {tracking_uri}\n")
        worker.stdin.flush()
    for worker in workers:
        assert worker.stdout.readline().strip() == "connected"
    results = []
    for round_ in range(rounds):
        window = f"{2030 + round_}-01-01..{2030 + round_}-12-31"
        for number, worker in enumerate(workers):
            worker.stdin.write(f"go {tracking_uri} mes-race {window} run-{number}\n")
        for worker in workers:
            worker.stdin.flush()
        results.append([json.loads(worker.stdout.readline()) for worker in workers])
    return results


def _check_race(results: list[list[dict]]) -> None:
    for pair in results:
        outcomes = sorted(r["outcome"] for r in pair)
        assert outcomes == ["spent", "won"], pair
        loser = next(r for r in pair if r["outcome"] == "spent")
        winner_run = "run-0" if pair[0]["outcome"] == "won" else "run-1"
        assert "in progress since" in loser["message"] and f"run {winner_run}" in loser["message"]


@pytest.mark.slow
def test_take_ticket_two_processes_at_once_on_sqlite_exactly_one_wins(tracking_store, racers):
    _check_race(_race(racers, tracking_store, rounds=10))
    assert len(list_tickets("mes-race")) == 10


@pytest.fixture
def postgres_uri(postgres_database: str) -> str:
    return postgres_database


@pytest.mark.slow
def test_take_ticket_two_processes_at_once_on_postgresql_exactly_one_wins(tracking_store, postgres_uri, racers):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=postgres_uri, registry_uri=postgres_uri)
    client.search_experiments()  # create the schema once, before the racers connect
    _check_race(_race(racers, postgres_uri, rounds=10))
    assert len(list_tickets("mes-race", client=client)) == 10
