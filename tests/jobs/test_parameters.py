"""Bad entry-point parameters end in one line naming the parameter, the value and the fix (exit 2)."""

import pytest

from tests.conftest import PROJECT_ROOT


@pytest.fixture(autouse=True)
def _no_mlflow_run(monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)  # refusals are not recorded on any run


def _refusal(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    "argv, line",
    [
        (["--learning-rate", "0.05,5"], "tune: error: -P learning_rate = 5.0 must lie in (0, 1] (the range of [model] "
                                        "learning_rate); write e.g. 0.05"),
        (["--num-leaves", "fast"], "tune: error: -P num_leaves = 'fast' is not a number; write e.g. "
                                   "-P num_leaves=15,31,63"),
        (["--num-leaves", "-31"], "tune: error: -P num_leaves = -31 must lie in [2, 131072] (the range of [model] "
                                  "num_leaves); write e.g. 31"),
        (["--max-depth", "4.5"], "tune: error: -P max_depth = '4.5' must be a whole number; write e.g. "
                                 "-P max_depth=4,6,8"),
    ],
)
def test_tune_refuses_a_bad_grid_parameter_in_one_line(capsys, argv, line):
    from jobs.tune import main

    assert main(["--config", str(PROJECT_ROOT / "lab.toml"), *argv]) == 2
    assert _refusal(capsys) == line


def test_analyze_refuses_a_threshold_that_is_not_a_number(capsys):
    from jobs.analyze import main

    assert main(["--run-id", "abc", "--threshold", "high"]) == 2
    assert _refusal(capsys) == "analyze: error: -P threshold = 'high' is not a number; write e.g. 0.6"


@pytest.mark.parametrize(
    "argv, line",
    [
        (["--start", "2019-13-45"], "backtest: error: -P start = '2019-13-45' is not a calendar date (month must be in "
                                    "1..12); write an existing date as YYYY-MM-DD, e.g. 2019-02-28"),
        (["--end", "2019-02-30"], "backtest: error: -P end = '2019-02-30' is not a calendar date (day is out of range "
                                  "for month); write an existing date as YYYY-MM-DD, e.g. 2019-02-28"),
    ],
)
def test_backtest_refuses_an_impossible_date_naming_the_parameter(capsys, argv, line):
    from jobs.backtest import main

    assert main(["--run-id", "abc", *argv]) == 2
    assert _refusal(capsys) == line


@pytest.mark.parametrize(
    "argv, line",
    [
        (["--from", "2019-02-30"], "paper: refused: --from = '2019-02-30' is not a calendar date (day is out of range "
                                   "for month); write an existing date as YYYY-MM-DD, e.g. 2019-02-28"),
        (["--idle-seconds", "soon"], "paper: refused: --idle-seconds = 'soon' is not a number; write e.g. 600"),
    ],
)
def test_paper_refuses_a_bad_date_or_duration_naming_the_option(capsys, argv, line):
    from jobs.paper import main

    assert main(argv) == 2
    assert _refusal(capsys) == line


def test_monitor_refuses_recent_days_that_are_not_whole_days():
    from jobs.monitor import recent_days_param
    from lab.errors import LabError

    assert recent_days_param("") == 30 and recent_days_param("7") == 7
    with pytest.raises(LabError, match=r"^-P recent_days = 'week' is not a number; write e.g. 30$"):
        recent_days_param("week")
    with pytest.raises(LabError, match=r"^-P recent_days = '2.5' must be a whole number of days >= 1; write e.g. 30$"):
        recent_days_param("2.5")
