"""No path but final-eval reads the test window: every other entry point and `lab` command runs on a
file whose test-window rows are poison (any reader that touched them would fail), and refuses
dates inside the window. final-eval is the one that reads them, and fails on the poison before it takes
the ticket, so the window stays open."""

import mlflow
import pytest
from click.testing import CliRunner

from lab.data.readers import write_firstrate
from tests.conftest import SMALL_CHAIN_SETTINGS, make_minutes

CONFIG = """
[data]
path = "{path}"
[windows]
train = ["2022-06-01", "2023-04-30"]
validation = ["2023-05-01", "2023-06-30"]
test = ["2023-07-01", "2023-07-31"]
[promotion]
model_name = "lock-test"
""" + SMALL_CHAIN_SETTINGS


@pytest.fixture
def poisoned(tmp_path, tracking_store):
    raw = write_firstrate(make_minutes("2022-05-01", "2023-06-30", seed=8), tmp_path / "raw.txt")
    with raw.open("a") as handle:
        handle.write("2023-07-03 09:30:00,POISON,1,1,1,1\n2023-07-03 09:31:00,-5,-5,-5,-5,1\n")
    config = tmp_path / "lab.toml"
    config.write_text(CONFIG.format(path=raw))
    return str(config)


def _last_tune_run():
    return mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["start_time DESC"],
                              filter_string="tags.`lab.stage` = 'tune'")[0]


def test_only_final_eval_reads_the_test_window(poisoned, capsys):
    from jobs import backtest, featurize, final_eval, tune, walk_forward
    from cli.main import cli

    assert featurize.main(["--config", poisoned]) == 0
    assert tune.main(["--config", poisoned, "--workers", "1"]) == 0
    tune_run = _last_tune_run().info.run_id
    assert walk_forward.main(["--config", poisoned, "--params-from", tune_run]) == 0
    assert backtest.main(["--config", poisoned, "--run-id", tune_run]) == 0
    capsys.readouterr()

    assert backtest.main(["--config", poisoned, "--run-id", tune_run, "--start", "2023-06-20", "--end", "2023-07-10"]) == 2
    assert "overlaps the held-out test window 2023-07-01..2023-07-31" in capsys.readouterr().err
    check = CliRunner().invoke(cli, ["data", "check", poisoned.replace("lab.toml", "raw.txt"), "--config", poisoned])
    assert check.exit_code == 0, check.output
    assert "2 rows from the held-out test window (2023-07-01..2023-07-31) were not read" in check.output

    promoted = CliRunner().invoke(cli, ["promote", "--run-id", tune_run, "--config", poisoned, "--force",
                                        "--reason", "test of the lock"])
    assert promoted.exit_code == 0, promoted.output
    assert final_eval.main(["--config", poisoned]) == 2
    err = capsys.readouterr().err
    assert "line " in err and "POISON" in err and "took the one-time ticket" not in err
    assert "stopped before taking the ticket: the test window 2023-07-01..2023-07-31 is still open" in err
    from registry.ticket import get_ticket

    assert get_ticket("ES", "2023-07-01..2023-07-31") is None
