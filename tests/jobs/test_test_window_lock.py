"""No path but final-eval reads the test window: the shared chain (tests/jobs/conftest.py) runs every
entry point and `lab data check` on a file whose test window holds poison (any reader that parsed
it as data would fail; the sealing job's fingerprint read drops bad rows), and refuses dates inside
the window. final-eval is the one that reads them, and fails
on the poison before it takes the ticket, so the window stays open until it is told to drop them."""

import pytest

from tests.jobs.conftest import POISON

pytestmark = pytest.mark.slow


def test_only_final_eval_reads_the_test_window(chain):
    runs, tmp = chain
    for stage in ("featurize", "tune", "walk-forward", "backtest", "tune_again", "analyze"):
        assert runs[stage].info.status == "FINISHED", stage
    assert "overlaps the held-out test window 2023-07-01..2023-07-31" in runs["refused"].data.tags["lab.error"]

    poisoned = runs["final_poisoned"]
    assert poisoned.info.status == "FAILED"
    error = poisoned.data.tags["lab.error"]
    assert "line " in error and "POISON" in error and "took the one-time ticket" not in error
    assert "stopped before taking the ticket: the test window 2023-07-01..2023-07-31 is still open" in error
    assert runs["final-eval"].info.status == "FINISHED" and runs["final-eval"].data.params["on_bad_rows"] == "drop"


def test_data_check_leaves_the_test_window_unread(shared_chain):
    lines = (shared_chain.tmp / "raw.txt").read_text().splitlines()
    held_out = sum(line >= "2023-07-01" for line in lines)
    assert held_out > len(POISON)
    assert f"{held_out:,} rows from the held-out test window (2023-07-01..2023-07-31) were not read" \
        in shared_chain.check_output


def test_the_poisoned_final_eval_left_the_ticket_untaken(shared_chain):
    assert shared_chain.ticket_before_final_eval is None
