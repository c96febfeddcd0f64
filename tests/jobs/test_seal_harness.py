"""The seal as a property: every entry point, in every mode, on a file whose sealed rows cannot be read.

One file of market ES holds two sealed ranges: 2023-04 (sealed by an earlier configuration's test
window) and 2023-07 (this configuration's test window). After sealing, every row in both ranges is
made unparsable (close = ``x``), so any read of a sealed row fails the job. The chain then runs on
the configuration whose train and validation windows sit around the April seal: featurize, tune with
two worker processes and again on resume, walk-forward, a backtest of part of the validation window,
analyze, promote, paper (with and without ``--follow``), monitor and ``lab data check``. Every job
must finish. ``lab demo --config`` on such a file, its test month spoiled right after its featurize
sealed it: every stage finishes but final-eval, the one job allowed to read the test window, which
fails on the spoiled rows.
"""

from __future__ import annotations

import mlflow
import pytest
from click.testing import CliRunner

from lab.data.readers import write_firstrate
from tests.conftest import make_minutes, use_store

pytestmark = pytest.mark.slow

CONFIG = """
[data]
path = "{path}"
[windows]
train = ["2022-06-01", "2023-03-31"]
validation = ["2023-05-01", "2023-06-30"]
test = ["{test[0]}", "{test[1]}"]
[targets]
volatility_lookback_bars = 200
[walk_forward]
min_train_months = 8
max_folds = 1
[rules]
entry_threshold = 0.51
full_size_threshold = 0.53
[promotion]
model_name = "harness"
[tune]
num_leaves = [7, 15, 31]
max_depth = [3]
learning_rate = [0.1]
min_data_in_leaf = [200]
"""
SEALED_MONTHS = ("2023-04", "2023-07")


def _corrupt_sealed_rows(path) -> int:
    """Make every line of a sealed month unparsable; returns how many lines were spoiled."""
    lines = path.read_text().splitlines(keepends=True)
    spoiled = 0
    for i, line in enumerate(lines):
        if line.startswith(SEALED_MONTHS):
            stamp, o, h, l, _, v = line.rstrip("\n").split(",")
            lines[i] = f"{stamp},{o},{h},{l},x,{v}\n"
            spoiled += 1
    path.write_text("".join(lines))
    return spoiled


def _runs(stage: str) -> list:
    return mlflow.search_runs(search_all_experiments=True, output_format="list",
                              filter_string=f"tags.`lab.stage` = '{stage}'", order_by=["start_time DESC"])


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    from jobs import featurize

    tmp = tmp_path_factory.mktemp("harness")
    with pytest.MonkeyPatch.context() as patch:
        use_store(patch, tmp, "harness")
        raw = write_firstrate(make_minutes("2022-05-01", "2023-08-31", seed=21), tmp / "raw.txt")
        earlier = tmp / "earlier.toml"
        earlier.write_text(CONFIG.format(path=raw, test=("2023-04-01", "2023-04-30")).replace(
            'validation = ["2023-05-01", "2023-06-30"]', 'validation = ["2023-02-01", "2023-03-15"]').replace(
            'train = ["2022-06-01", "2023-03-31"]', 'train = ["2022-06-01", "2023-01-15"]'))
        assert featurize.main(["--config", str(earlier)]) == 0  # seals 2023-04 for market ES
        config = tmp / "lab.toml"
        config.write_text(CONFIG.format(path=raw, test=("2023-07-01", "2023-07-31")))
        assert featurize.main(["--config", str(config)]) == 0  # seals 2023-07
        assert _corrupt_sealed_rows(raw) > 10_000
        yield tmp, str(config), raw
        mlflow.set_tracking_uri(None)


def test_featurize_reads_around_both_seals(harness):
    from jobs import featurize

    _, config, _ = harness
    assert featurize.main(["--config", config]) == 0


@pytest.fixture(scope="module")
def tuned(harness):
    from jobs import tune

    _, config, _ = harness
    assert tune.main(["--config", config, "--workers", "2"]) == 0
    return _runs("tune")[0]


def test_tune_with_two_workers_reads_no_sealed_row(tuned):
    assert tuned.info.status == "FINISHED"
    trials = _runs("tune-trial")
    assert len(trials) == 3 and {t.info.status for t in trials} == {"FINISHED"}


def test_tune_resumed_with_two_workers_reads_no_sealed_row(harness, tuned):
    from jobs import tune

    _, config, _ = harness
    assert tune.main(["--config", config, "--workers", "2"]) == 0
    assert _runs("tune")[0].info.status == "FINISHED"


def test_walk_forward_and_a_part_backtest_and_analyze_read_no_sealed_row(harness, tuned):
    from jobs import analyze, backtest, walk_forward

    run_id = tuned.info.run_id
    assert walk_forward.main(["--params-from", run_id]) == 0
    assert backtest.main(["--run-id", run_id, "--start", "2023-05-15", "--end", "2023-06-15"]) == 0
    assert backtest.main(["--run-id", run_id]) == 0
    assert analyze.main(["--run-id", run_id]) == 0


@pytest.fixture(scope="module")
def champion(harness, tuned):
    from cli.main import cli

    _, config, _ = harness
    result = CliRunner().invoke(cli, ["promote", "--run-id", tuned.info.run_id, "--config", config, "--force",
                                      "--reason", "harness"])
    assert result.exit_code == 0, result.output
    return tuned


def test_paper_replay_and_follow_read_no_sealed_row(harness, champion):
    from jobs import paper

    _, config, _ = harness
    assert paper.main(["--config", config, "--from", "2023-05-01", "--to", "2023-05-31"]) == 0
    assert paper.main(["--config", config, "--from", "2023-06-01", "--to", "2023-06-30", "--follow",
                       "--idle-seconds", "1"]) == 0
    assert [r.info.status for r in _runs("paper")] == ["FINISHED", "FINISHED"]


def test_monitor_reads_no_sealed_row(harness, champion):
    from jobs import monitor

    _, config, _ = harness
    assert monitor.main(["--config", config]) == 0


def test_data_check_reads_no_sealed_row(harness):
    from cli.main import cli

    _, config, raw = harness
    result = CliRunner().invoke(cli, ["data", "check", str(raw), "--config", config])
    assert result.exit_code == 0, result.output


def test_lab_demo_on_a_file_reads_its_sealed_test_window_in_final_eval_only(tmp_path, monkeypatch):
    """``lab demo --config`` on a user's file: its featurize seals the test month, which is then spoiled;
    every stage finishes but final-eval, the one job allowed to read it, which fails on the spoiled rows."""
    from jobs import demo

    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))  # prepare_demo_home points both here; restored after
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'unused.db'}")
    raw = write_firstrate(make_minutes("2022-05-01", "2023-08-31", seed=22), tmp_path / "raw.txt")
    source = tmp_path / "demo.toml"
    source.write_text(CONFIG.format(path=raw, test=("2023-07-01", "2023-07-31")).replace('"harness"', '"harness-demo"')
                      .replace("num_leaves = [7, 15, 31]", "num_leaves = [7, 15]"))
    config = demo.prepare_demo_home(str(source), "harness-demo", home=tmp_path / "demo")
    spoiled = []
    entry = demo._entry

    def entry_then_spoil(name, params, experiment, echo):
        run_id = entry(name, params, experiment, echo)
        if name == "featurize":  # the test month is sealed now: make its rows unreadable
            lines = raw.read_text().splitlines(keepends=True)
            for i, line in enumerate(lines):
                if line.startswith("2023-07"):
                    stamp, o, h, l, _, v = line.rstrip("\n").split(",")
                    lines[i] = f"{stamp},{o},{h},{l},x,{v}\n"
                    spoiled.append(i)
            raw.write_text("".join(lines))
        return run_id

    monkeypatch.setattr(demo, "_entry", entry_then_spoil)
    try:
        echoed: list[str] = []
        runs = demo.run_demo(config, "harness-demo", echo=echoed.append, force_when_refused=True)
        assert len(spoiled) > 5_000
        assert {"featurize", "tune", "walk-forward", "backtest", "model_version"} <= set(runs), "\n".join(echoed)
        assert "final-eval" not in runs and any("final-eval refused or failed" in line for line in echoed)
        (final,) = _runs("final-eval")
        assert final.info.status == "FAILED" and "'x' is not a number" in final.data.tags.get("lab.error", "")
    finally:
        mlflow.set_tracking_uri(None)
