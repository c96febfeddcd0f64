"""Seals by content: the sealed sessions are refused under another name, instrument, time stamps or copy,
and a window the ledger has looked at cannot become a test window."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner

from lab.data.readers import write_firstrate
from tests.conftest import make_minutes, use_store

CONFIG = """
[data]
path = "{path}"
instrument = "{instrument}"
[windows]
train = ["{train[0]}", "{train[1]}"]
validation = ["{validation[0]}", "{validation[1]}"]
test = ["{test[0]}", "{test[1]}"]
[targets]
volatility_lookback_bars = 200
"""


def _config(folder, name, path, instrument="MES", train=("2022-06-01", "2023-04-30"),
            validation=("2023-05-01", "2023-06-30"), test=("2023-07-01", "2023-07-31")) -> str:
    config = folder / name
    config.write_text(CONFIG.format(path=path, instrument=instrument, train=train, validation=validation, test=test))
    return str(config)


def _error(stage: str) -> str:
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list", max_results=1,
                                filter_string=f"tags.`lab.stage` = '{stage}'", order_by=["start_time DESC"])
    assert run.info.status == "FAILED"
    return run.data.tags["lab.error"]


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """One ES file featurized with test window 2023-07: that month is sealed, its sessions fingerprinted."""
    from jobs import featurize

    tmp = tmp_path_factory.mktemp("content")
    with pytest.MonkeyPatch.context() as patch:
        use_store(patch, tmp, "content")
        minutes = make_minutes("2022-05-01", "2023-08-31", seed=31)
        raw = write_firstrate(minutes, tmp / "es.txt")
        assert featurize.main(["--config", _config(tmp, "lab.toml", raw)]) == 0
        yield tmp, minutes
        mlflow.set_tracking_uri(None)


def test_the_sealed_month_declared_as_another_instrument_is_refused_by_content(sealed):
    from jobs import featurize

    tmp, minutes = sealed
    copy = write_firstrate(minutes, tmp / "renamed_nq.txt")
    config = _config(tmp, "nq.toml", copy, instrument="NQ", train=("2022-06-01", "2023-05-31"),
                     validation=("2023-06-01", "2023-07-31"), test=("2023-08-15", "2023-08-31"))
    assert featurize.main(["--config", config]) == 2
    assert ("featurize refused: the session dated 2023-07-03 in this data has the content of session 2023-07-03 of "
            "the sealed test range 2023-07-01..2023-07-31 of market ES (exact match") in _error("featurize")


def test_the_sealed_month_restamped_a_year_later_with_a_missing_minute_is_refused(sealed):
    from jobs import featurize

    tmp, minutes = sealed
    shifted = minutes.copy()
    shifted.index = shifted.index + pd.Timedelta(days=364)
    shifted["close"] += 500.0  # another price level
    for name in ("open", "high", "low"):
        shifted[name] += 500.0
    shifted = shifted.drop(shifted.index[shifted.index.indexer_between_time("10:15", "10:15")])  # one minute a day
    copy = write_firstrate(shifted, tmp / "later.txt")
    config = _config(tmp, "later.toml", copy, train=("2023-08-01", "2024-05-31"), validation=("2024-06-01", "2024-07-31"),
                     test=("2024-08-15", "2024-08-29"))
    assert featurize.main(["--config", config]) == 2
    error = _error("featurize")
    assert "has the content of session 2023-07-" in error and "(coarse match" in error


def test_data_check_of_the_sealed_content_under_another_market_prints_nothing_of_it(sealed):
    from cli.main import cli

    tmp, minutes = sealed
    copy = write_firstrate(minutes, tmp / "mnq.txt")
    config = _config(tmp, "mnq.toml", copy, instrument="MNQ", test=("2023-08-15", "2023-08-31"))
    result = CliRunner().invoke(cli, ["data", "check", str(copy), "--config", config])
    assert result.exit_code != 0 and "rows read" not in result.output
    assert "lab data check refused: the session dated 2023-07-03" in str(result.exception) + result.output


def test_a_window_the_ledger_has_looked_at_is_refused_as_a_test_window(sealed):
    from jobs import featurize
    from registry import ledger

    tmp, _ = sealed
    with mlflow.start_run():  # a validation look at 2023-05..06 on ES, as a backtest records it
        mlflow.set_tags(ledger.ledger_tags("ES", "2023-05-01..2023-06-30", 1))
        looked = mlflow.active_run().info.run_id
    config = _config(tmp, "later-test.toml", str(tmp / "es.txt"), train=("2022-06-01", "2023-02-28"),
                     validation=("2023-03-01", "2023-04-30"), test=("2023-05-01", "2023-06-30"))
    assert featurize.main(["--config", config]) == 2
    assert (f"[windows] test 2023-05-01..2023-06-30 overlaps 2023-05-01..2023-06-30, which market ES was already "
            f"evaluated on as a validation window (1 run(s): {looked}); a test window must be unseen") in _error("featurize")


def _restamped(minutes: pd.DataFrame, days: int) -> pd.DataFrame:
    moved = minutes.copy()
    moved.index = moved.index + pd.Timedelta(days=days)
    return moved


def test_paper_follow_refuses_a_sealed_session_appended_whole_before_feeding_it(sealed):
    from jobs.paper import SealWatch
    from lab.config import load_config
    from registry.errors import SealedRangeError

    tmp, minutes = sealed
    watch = SealWatch(load_config(str(tmp / "lab.toml")))
    july = _restamped(minutes.loc["2023-07-10":"2023-07-12"], 364)  # Monday..Wednesday, a year later
    watch.check(minutes.loc["2023-08-01":"2023-08-01"])  # an unsealed session passes
    with pytest.raises(SealedRangeError, match=r"paper --follow refused: the session dated 2024-07-08 in this data "
                                               r"has the content of session 2023-07-10 of the sealed test range"):
        watch.check(july)


def test_paper_follow_refuses_a_sealed_session_fed_minute_by_minute_once_its_first_hour_is_in(sealed):
    from jobs.paper import SealWatch
    from lab.config import load_config
    from lab.data.fingerprints import HEAD_STEPS
    from registry.errors import SealedRangeError

    tmp, minutes = sealed
    watch = SealWatch(load_config(str(tmp / "lab.toml")))
    day = _restamped(minutes.loc["2023-07-11":"2023-07-11"], 364)
    for minute in range(HEAD_STEPS):  # 09:30 .. 10:29: not yet an hour of steps
        watch.check(day.iloc[minute:minute + 1])
    with pytest.raises(SealedRangeError, match=r"the session dated 2024-07-09 .* session 2023-07-11 of the sealed .*"
                                               r"\(head match"):
        watch.check(day.iloc[HEAD_STEPS:HEAD_STEPS + 1])  # 10:30: the first hour is in


def test_paper_follow_refuses_a_sealed_session_missing_a_minute_of_its_first_hour_at_its_close(sealed):
    from jobs.paper import SealWatch
    from lab.config import load_config
    from registry.errors import SealedRangeError

    tmp, minutes = sealed
    watch = SealWatch(load_config(str(tmp / "lab.toml")))
    day = _restamped(minutes.loc["2023-07-11":"2023-07-11"], 364).drop(
        pd.Timestamp("2024-07-09 09:45", tz="America/New_York"))  # the first hour's print cannot match
    before_close = day.index < pd.Timestamp("2024-07-09 15:59", tz="America/New_York")
    for start in range(0, int(before_close.sum()), 60):  # an hour at a time: not yet a whole session
        watch.check(day[before_close].iloc[start:start + 60])
    with pytest.raises(SealedRangeError, match=r"the session dated 2024-07-09 .* session 2023-07-11 of the sealed"):
        watch.check(day[~before_close])  # the close arrives
