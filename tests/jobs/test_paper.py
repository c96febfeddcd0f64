"""``jobs.paper``: the paper run's trades.csv equals the backtest's; --follow picks up appended minutes;
--live needs a PASS final-eval verdict (or a recorded override) and writes orders to the file sink."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from lab.data.readers import write_firstrate
from tests.conftest import make_minutes, record_gate_promotion

START, END = "2023-02-27", "2023-03-10"


@pytest.fixture(scope="module")
def minutes():
    return make_minutes("2023-01-03", END, seed=3)


def _register_champion(tmp_path, minutes, target: str, extra_toml: str = "", extra_features: tuple[str, ...] = ()) -> dict:
    """A minute file, a config pointing at it and a LightGBM champion of ``target`` on the 24 core features
    (and ``extra_features``)."""
    import lightgbm as lgb
    import mlflow

    from lab.config import load_config
    from lab.features.core import FEATURE_NAMES

    data = write_firstrate(minutes, tmp_path / "mes.txt")
    config = tmp_path / "lab.toml"
    config.write_text(f'[data]\npath = "{data}"\n\n[windows]\ntrain = ["2023-01-01", "2023-01-31"]\n'
                      'validation = ["2023-02-01", "2023-03-10"]\ntest = ["2024-01-01", "2025-12-31"]\n\n'
                      '[promotion]\nmodel_name = "mes-test"\n' + extra_toml)
    features = list(FEATURE_NAMES) + list(extra_features)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, len(features))) * 1e-3
    y = (X[:, 0] + 3e-4 * rng.standard_normal(400) + (X[:, -1] if extra_features else 0) > 0).astype(int)
    booster = lgb.train({"verbose": -1, "num_leaves": 4, "objective": "binary"},
                        lgb.Dataset(X, y, feature_name=features), 15)
    client = mlflow.MlflowClient()
    with mlflow.start_run(run_name="tune") as run:  # a tune run's lineage: its configuration and dataset digest
        mlflow.log_params({**load_config(str(config)).flat(), "target": target, "model.engine": "lightgbm"})
        mlflow.set_tags({"lab.dataset_digest": "0123456789abcdef"})
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=["lightgbm"])
        mlflow.set_tags({"lab.stage": "tune", "lab.features": ",".join(features), "lab.model_uri": info.model_uri})
    client.create_registered_model("mes-test")
    version = client.create_model_version("mes-test", source=info.model_uri, run_id=run.info.run_id,
                                          model_id=info.model_id)
    record_gate_promotion(client, "mes-test", version.version)
    return {"config": str(config), "data": data, "booster": booster, "features": features, "version": str(version.version),
            "client": client, "tmp": tmp_path}


@pytest.fixture
def paper_setup(tracking_store, tmp_path, minutes):
    """A direction champion (target_6bar) under the default rules."""
    return _register_champion(tmp_path, minutes, "target_6bar")


#: A mean-reversion strategy loose enough to trade often on two weeks of synthetic minutes.
MEAN_REVERSION_TOML = """
[strategy]
name = "mean_reversion"

[strategy.mean_reversion]
max_volatility_probability = 0.9
rsi_oversold = 45
rsi_overbought = 55
min_ema_deviation_pct = 0.01
"""


def _paper_runs():
    import mlflow

    return mlflow.search_runs(experiment_names=["lab-test"], filter_string="tags.`lab.stage` = 'paper'",
                              order_by=["attributes.start_time DESC"], output_format="list")


def _artifact(run, name: str) -> str:
    import mlflow

    return mlflow.artifacts.load_text(f"{run.info.artifact_uri}/{name}")


def _window_table(setup, start: str, end: str):
    """The batch table of the validation dates ``start..end`` of the setup's file and config, and its minutes."""
    import datetime as dt

    from lab.config import load_config
    from lab.dataset.build import build_window_table
    from lab.data.readers import read_minutes

    config = load_config(setup["config"])
    return build_window_table(read_minutes(setup["data"]).minutes, config, dt.date.fromisoformat(start),
                              dt.date.fromisoformat(end))


def _backtest_csv(setup, start: str, end: str, volatility: bool = False) -> str:
    """The backtest's trades.csv on the batch table of the same file, model and rules (``volatility``:
    the model gives P(high range) to the configured strategy, whose own features come from the table)."""
    from lab.backtest import trades_to_csv
    from lab.config import load_config
    from lab.models.boosters import predict_proba
    from lab.strategies import backtest_strategy

    config = load_config(setup["config"])
    table, window_minutes = _window_table(setup, start, end)
    probability = table[[]].assign(p=predict_proba(setup["booster"], table[setup["features"]]))["p"]
    if volatility:
        from lab.dataset.build import OPTIONAL_SETS

        own = table[list(OPTIONAL_SETS[config.strategy.name][1])]
        return trades_to_csv(backtest_strategy(config, table, window_minutes, volatility_probability=probability,
                                               features=own).trades)
    return trades_to_csv(backtest_strategy(config, table, window_minutes, probability=probability).trades)


@pytest.mark.slow
def test_paper_across_a_contract_roll_trades_the_back_adjusted_prices_like_the_backtest(tracking_store, tmp_path,
                                                                                         minutes):
    """MESH23 -> MESM23 rolls on 2023-03-09: from the next session on the file trades 30 points higher. Paper
    replays the prices featurize and the backtest see (back-adjusted), so its trades equal the backtest's."""
    import pandas as pd

    from jobs.paper import main

    rolled = minutes.copy()
    after = rolled.index >= pd.Timestamp("2023-03-10 09:30", tz=rolled.index.tz)
    rolled.loc[after, ["open", "high", "low", "close"]] += 30.0
    setup = _register_champion(tmp_path, rolled, "target_6bar")
    assert main(["--config", setup["config"], "--from", START, "--to", END]) == 0
    (run,) = _paper_runs()
    paper_csv = _artifact(run, "trades.csv")
    assert paper_csv == _backtest_csv(setup, START, END) and paper_csv.count("\n") > 10


@pytest.mark.slow
def test_paper_run_trades_equal_the_backtests_to_the_cent(paper_setup):
    from jobs.paper import main

    assert main(["--config", paper_setup["config"], "--from", START, "--to", END]) == 0
    (run,) = _paper_runs()
    paper_csv = _artifact(run, "trades.csv")
    assert paper_csv == _backtest_csv(paper_setup, START, END)
    assert paper_csv.count("\n") > 10  # a header and trades
    assert run.data.tags["lab.paper_mode"] == "paper" and run.data.tags["lab.model_version"] == paper_setup["version"]
    for name in ("report.html", "success_criteria.csv", "equity_drawdown.png", "signals.csv", "orders.jsonl"):
        assert name in {a.path for a in paper_setup["client"].list_artifacts(run.info.run_id)}
    assert run.data.metrics["total_trades"] == paper_csv.count("\n") - 1
    # the fill-sensitivity line: the paper trader's shadow under the other limit-fill rule books what the
    # batch engine books under it
    fills = _backtest_fills(paper_setup, START, END)
    assert {k: run.data.metrics[k] for k in fills} == fills
    assert fills["fill_touch_targets"] >= fills["fill_through_targets"]
    assert "<p class='fill-rule'>" in _artifact(run, "report.html")


def _backtest_fills(setup, start: str, end: str) -> dict[str, float]:
    """The batch backtest's ``fill_*`` metrics (both limit-fill rules) on the setup's window."""
    from lab.config import load_config
    from lab.models.boosters import predict_proba
    from lab.strategies import strategy_fill_sensitivity

    config = load_config(setup["config"])
    table, window_minutes = _window_table(setup, start, end)
    probability = table[[]].assign(p=predict_proba(setup["booster"], table[setup["features"]]))["p"]
    return strategy_fill_sensitivity(config, table, window_minutes, probability=probability).metrics()


def test_paper_run_of_a_volatility_champion_trades_its_strategy_like_the_backtest(tracking_store, tmp_path, minutes):
    """A target_vol champion trades mean reversion: its own features computed live, its own exits and the
    high-volatility exit; trades.csv equals the batch backtest's to the cent."""
    from jobs.paper import main

    setup = _register_champion(tmp_path, minutes, "target_vol", MEAN_REVERSION_TOML)
    assert main(["--config", setup["config"], "--from", START, "--to", END]) == 0
    (run,) = _paper_runs()
    paper_csv = _artifact(run, "trades.csv")
    assert paper_csv == _backtest_csv(setup, START, END, volatility=True)
    assert paper_csv.count("\n") > 10
    assert run.data.params["strategy"] == "mean_reversion"
    signals = _artifact(run, "signals.csv")
    assert ",setup" in signals


@pytest.mark.slow
def test_paper_run_of_a_champion_with_a_custom_feature_equals_the_backtest(tracking_store, tmp_path, minutes):
    """A champion whose inputs include a [features] custom column: computed live from the window of recent
    bars, the trades equal the backtest's on the batch table."""
    from jobs.paper import main

    custom = '\n[features]\ncustom = ["tests.lab.custom_feature_fixtures:session_aware"]\n'
    setup = _register_champion(tmp_path, minutes, "target_6bar", custom, extra_features=("close_vs_mean_12",))
    table, _ = _window_table(setup, START, END)
    inputs = table[setup["features"]].to_numpy(np.float64)
    flat = inputs.copy()
    flat[:, -1] = 0.0
    assert (setup["booster"].predict(inputs) != setup["booster"].predict(flat)).mean() > 0.1  # the custom value counts
    assert main(["--config", setup["config"], "--from", START, "--to", END]) == 0
    (run,) = _paper_runs()
    paper_csv = _artifact(run, "trades.csv")
    assert paper_csv == _backtest_csv(setup, START, END)
    assert paper_csv.count("\n") > 10


def test_paper_refuses_a_champion_whose_target_does_not_feed_its_strategy(tracking_store, tmp_path, minutes, capsys):
    from jobs.paper import main

    setup = _register_champion(tmp_path, minutes, "target_6bar", MEAN_REVERSION_TOML)
    assert main(["--config", setup["config"], "--from", START, "--to", END]) == 2
    err = capsys.readouterr().err
    assert "predicts target_6bar but trades the mean_reversion strategy" in err and "target_vol" in err
    assert _paper_runs() == []


def _follow_run(setup, growing, appended: bytes) -> int:
    """``lab paper --follow`` on ``growing`` while ``appended`` is written to it in two parts half a second in."""
    from jobs.paper import main

    def append() -> None:
        with growing.open("ab") as handle:
            handle.write(appended[: len(appended) // 2])
            handle.flush()
            handle.write(appended[len(appended) // 2:])

    timer = threading.Timer(0.5, append)
    timer.start()
    try:
        return main(["--config", setup["config"], "--data", str(growing), "--from", START, "--to", END, "--follow",
                     "--poll-seconds", "0.1", "--idle-seconds", "3"])
    finally:
        timer.join()


@pytest.mark.slow
def test_paper_follow_picks_up_appended_minutes(paper_setup, minutes, tmp_path):
    rest = write_firstrate(minutes.loc["2023-03-04":], tmp_path / "rest.txt").read_bytes()
    growing = write_firstrate(minutes.loc[:"2023-03-03"], tmp_path / "growing.txt")
    assert _follow_run(paper_setup, growing, rest) == 0
    (run,) = _paper_runs()
    assert run.data.params["paper_follow"] == "true"
    assert _artifact(run, "trades.csv") == _backtest_csv(paper_setup, START, END)
    assert _artifact(run, "signals.csv").splitlines()[-1].startswith("2023-03-10T15:55:00")


@pytest.mark.slow
def test_paper_follow_across_a_contract_roll_trades_like_the_backtest(tracking_store, tmp_path, minutes):
    """The roll of 2023-03-09 arrives while paper follows the file (30 points up from the next session): the
    follower finds the switch as featurize would, forms its features again on the back-adjusted history,
    and from the switch on trades what the backtest trades on the same file."""
    import io

    import pandas as pd

    rolled = minutes.copy()
    after = rolled.index >= pd.Timestamp("2023-03-10 09:30", tz=rolled.index.tz)
    rolled.loc[after, ["open", "high", "low", "close"]] += 30.0
    setup = _register_champion(tmp_path, rolled, "target_6bar")
    rest = write_firstrate(rolled.loc["2023-03-04":], tmp_path / "rest.txt").read_bytes()
    growing = write_firstrate(rolled.loc[:"2023-03-03"], tmp_path / "growing.txt")
    assert _follow_run(setup, growing, rest) == 0
    (run,) = _paper_runs()
    paper = pd.read_csv(io.StringIO(_artifact(run, "trades.csv")))
    backtest = pd.read_csv(io.StringIO(_backtest_csv(setup, START, END)))
    assert run.data.metrics["paper_rolls_followed"] == 1
    # From the switch on, everything equals the backtest of the file. Before it the follower traded what a
    # backtest of the file as it then stood trades: the old contract's prices, features formed on them (the
    # back-adjusted series shifts them by a gap no one knew yet, which moves ratio features a little).
    after_roll = paper["entry_time"] >= "2023-03-10"
    assert after_roll.any() and (~after_roll).any()
    pd.testing.assert_frame_equal(paper[after_roll].reset_index(drop=True),
                                  backtest[backtest["entry_time"] >= "2023-03-10"].reset_index(drop=True))
    unrolled = {**setup, "data": write_firstrate(minutes, tmp_path / "unrolled.txt")}
    as_it_stood = pd.read_csv(io.StringIO(_backtest_csv(unrolled, START, "2023-03-09")))
    pd.testing.assert_frame_equal(paper[~after_roll].reset_index(drop=True), as_it_stood)


@pytest.mark.slow
def test_paper_follow_picks_up_appended_minutes_of_a_file_with_history_before_the_warm_up(paper_setup, minutes,
                                                                                        tmp_path, monkeypatch):
    """Rows before the warm-up are not read; that must not be taken for "the file already reached the end"."""
    import jobs.paper

    monkeypatch.setattr(jobs.paper, "TEST_WARMUP_DAYS", 20)  # the file starts before START - 20 days
    rest = write_firstrate(minutes.loc["2023-03-07":], tmp_path / "rest.txt").read_bytes()
    growing = write_firstrate(minutes.loc[:"2023-03-06"], tmp_path / "growing.txt")
    assert _follow_run(paper_setup, growing, rest) == 0
    (run,) = _paper_runs()
    assert _artifact(run, "signals.csv").splitlines()[-1].startswith("2023-03-10T15:55:00")


@pytest.mark.slow
def test_paper_follow_of_a_file_that_already_holds_the_end_does_not_wait(paper_setup):
    """A named-column CSV whose last rows are after --to: nothing to follow, so the run ends at once."""
    import time

    import pandas as pd

    from jobs.paper import main
    from lab.data.readers import read_minutes

    minutes = read_minutes(paper_setup["data"]).minutes
    csv = paper_setup["tmp"] / "named.csv"
    frame = minutes.reset_index()
    frame["time"] = frame["time"].dt.tz_localize(None)
    frame[["open", "high", "low", "close", "volume", "time"]].to_csv(csv, index=False)  # the stamp last
    began = time.monotonic()
    assert main(["--config", paper_setup["config"], "--data", str(csv), "--from", START, "--to", "2023-03-08",
                 "--follow", "--poll-seconds", "0.1", "--idle-seconds", "30"]) == 0
    assert time.monotonic() - began < 25
    assert pd.Timestamp("2023-03-09") > pd.Timestamp(_artifact(_paper_runs()[0], "signals.csv").splitlines()[-1][:10])


@pytest.mark.slow
def test_paper_refuses_trading_dates_in_a_sealed_range_of_the_market_and_skips_one_in_the_warm_up(paper_setup,
                                                                                                   capsys, monkeypatch):
    """A seal of the file's market other than the configured test window: trading dates in it are refused;
    one inside the indicator warm-up is skipped unread (its minutes never reach the live state)."""
    import datetime as dt

    import jobs.paper
    from jobs.paper import main
    from lab.config import DateRange, load_config
    from lab.dataset.build import source_of
    from lab.market.identity import market_id
    from registry.seals import add_seal

    config = load_config(paper_setup["config"])
    market = market_id(config.data.instrument, source_of(paper_setup["data"]))
    add_seal(market, DateRange(dt.date(2023, 3, 6), dt.date(2023, 3, 7)), stage="test")
    assert main(["--config", paper_setup["config"], "--from", START, "--to", END]) == 2
    assert "overlap the sealed test range 2023-03-06..2023-03-07" in capsys.readouterr().err
    assert _paper_runs() == []
    reads = []
    original = jobs.paper.read_minutes
    monkeypatch.setattr(jobs.paper, "read_minutes", lambda *a, **k: reads.append(k) or original(*a, **k))
    assert main(["--config", paper_setup["config"], "--from", "2023-03-08", "--to", END]) == 0
    (run,) = _paper_runs()
    assert "2023-03-08T09:30" in _artifact(run, "signals.csv")
    (read,) = reads
    assert (dt.date(2023, 3, 6), dt.date(2023, 3, 7)) in read["exclude"]
    minutes = original(paper_setup["data"], since=read["since"], until=read["until"], exclude=read["exclude"]).minutes
    assert not ((minutes.index >= "2023-03-06") & (minutes.index < "2023-03-08")).any()


def test_paper_refuses_dates_in_the_test_window(paper_setup, capsys):
    from jobs.paper import main

    assert main(["--config", paper_setup["config"], "--from", "2023-12-28", "--to", "2024-01-05"]) == 2
    assert "test window" in capsys.readouterr().err
    assert _paper_runs() == []


def test_live_is_refused_without_a_pass_verdict(paper_setup, capsys, tmp_path):
    from jobs.paper import main

    sink = tmp_path / "orders.jsonl"
    paper_setup["client"].set_model_version_tag("mes-test", paper_setup["version"], "lab.final_eval.verdict", "FAIL")
    assert main(["--config", paper_setup["config"], "--from", "2023-03-06", "--to", END, "--live",
                 "--sink", str(sink)]) == 2
    err = capsys.readouterr().err
    assert "--live refused" in err and "verdict FAIL" in err and "--override-reason" in err
    assert not sink.exists() and _paper_runs() == []


def test_live_with_a_pass_verdict_writes_every_order_to_the_file_sink(paper_setup, tmp_path):
    from jobs.paper import main

    sink = tmp_path / "orders.jsonl"
    paper_setup["client"].set_model_version_tag("mes-test", paper_setup["version"], "lab.final_eval.verdict",
                                                 "PASS-minimum")
    assert main(["--config", paper_setup["config"], "--from", "2023-03-06", "--to", END, "--live",
                 "--sink", str(sink)]) == 0
    (run,) = _paper_runs()
    assert run.data.tags["lab.paper_mode"] == "live" and run.data.tags["lab.live_verdict"] == "PASS-minimum"
    assert "lab.live_override" not in run.data.tags
    orders = [json.loads(line) for line in sink.read_text().splitlines()]
    assert orders and sink.read_text() == _artifact(run, "orders.jsonl")
    trades = _artifact(run, "trades.csv").count("\n") - 1
    assert sum(o["action"] == "exit" for o in orders) == sum(o["action"] == "entry" for o in orders) == trades


@pytest.mark.slow
def test_live_override_is_recorded_on_the_run(paper_setup, tmp_path):
    from jobs.paper import main

    assert main(["--config", paper_setup["config"], "--from", "2023-03-06", "--to", END, "--live", "--sink",
                 str(tmp_path / "o.jsonl"), "--override-reason", "desk rehearsal, no broker"]) == 0
    (run,) = _paper_runs()
    assert run.data.tags["lab.live_override"] == "desk rehearsal, no broker"
    assert run.data.tags["lab.live_verdict"] == "none"


def test_stdout_sink_prints_one_json_order_a_line(capsys):
    from jobs.orders import StdoutSink, open_sink
    from lab.paper import Order, OrderSink

    order = Order("2023-03-01T10:05:00-05:00", "entry", "long", 2, 4000.25, "signal", 4001.75, 3998.25)
    sink = open_sink("stdout")
    assert isinstance(sink, StdoutSink) and isinstance(sink, OrderSink)
    sink.send(order)
    line = capsys.readouterr().out.strip()
    assert line.startswith("order: ")
    printed = json.loads(line.removeprefix("order: "))
    assert printed == order.as_dict() and "pnl_usd" not in printed and printed["target"] == 4001.75


def test_file_sink_appends_json_lines(tmp_path):
    from jobs.orders import JsonLinesSink, open_sink
    from lab.paper import Order

    sink = open_sink(str(tmp_path / "out" / "orders.jsonl"))
    assert isinstance(sink, JsonLinesSink)
    sink.send(Order("2023-03-01T10:10:00-05:00", "exit", "short", 1, 3999.0, "stop", pnl_usd=-11.34))
    sink.send(Order("2023-03-01T10:20:00-05:00", "entry", "long", 1, 3999.5, "signal", 4001.0, 3997.5))
    sink.close()
    lines = [json.loads(x) for x in (tmp_path / "out" / "orders.jsonl").read_text().splitlines()]
    assert [(x["action"], x["reason"]) for x in lines] == [("exit", "stop"), ("entry", "signal")]
    assert lines[0]["pnl_usd"] == -11.34 and "target" not in lines[0]


def test_monitor_takes_recent_data_and_trades_from_the_champions_newest_paper_run(tracking_store):
    """The records say what is recent: the newest finished paper run of the champion's version gives the window
    (clipped to the validation rows) and the trades; other versions' and unfinished runs do not count."""
    import time
    import types

    import mlflow
    import pandas as pd

    from jobs.monitor import newest_paper_run, recent_rows

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("lab-test").experiment_id

    def paper(version: str, window: str, status: str = "FINISHED") -> str:
        run = client.create_run(experiment, tags={"lab.stage": "paper", "lab.model_name": "mes-test",
                                                  "lab.model_version": version})
        client.log_param(run.info.run_id, "window", window)
        client.set_terminated(run.info.run_id, status)
        time.sleep(0.01)  # start times in ms: the next run is newer
        return run.info.run_id

    paper("1", "2023-02-01..2023-02-28")
    wanted = paper("1", "2023-03-01..2023-03-10")
    paper("2", "2023-01-01..2023-01-31")
    paper("1", "2023-01-01..2023-01-31", status="FAILED")
    newest = newest_paper_run("mes-test", "1")
    assert newest.info.run_id == wanted and newest_paper_run("mes-test", "9") is None

    index = pd.date_range("2023-02-01 09:30", "2023-03-31 15:55", freq="5min", tz="America/New_York")
    validation = pd.DataFrame({"x": range(len(index))}, index=index)
    rows, window, source = recent_rows(validation, newest, recent_days=30)
    assert window == "2023-03-01..2023-03-10" and source == f"paper run {wanted}"
    assert rows.index[0] == pd.Timestamp("2023-03-01 00:00", tz="America/New_York")
    outside = types.SimpleNamespace(data=types.SimpleNamespace(params={"window": "2022-01-01..2022-01-31"}),
                                    info=types.SimpleNamespace(run_id="x"))
    for run in (None, outside):
        rows, window, source = recent_rows(validation, run, recent_days=10)
        assert window == "2023-03-21..2023-03-31" and source == "last 10 days of the validation window"


@pytest.mark.slow
def test_monitor_reads_the_dates_of_a_paper_run_after_the_validation_window_from_the_data_file(paper_setup):
    """A paper run on dates after the validation table: the monitor featurizes them from the file (with the days
    before as warm-up); dates in a sealed range give nothing, and the monitor falls back to the validation days."""
    import types

    import pandas as pd

    from jobs.context import resolve_data
    from jobs.monitor import recent_rows, window_reader
    from lab.config import load_config

    config = load_config(paper_setup["config"]).replace({"windows.validation": ["2023-02-01", "2023-02-28"]})
    validation = pd.DataFrame({"x": 1.0}, index=pd.date_range("2023-02-01 09:30", "2023-02-28 15:55", freq="5min",
                                                              tz="America/New_York"))
    paper = types.SimpleNamespace(data=types.SimpleNamespace(params={"window": "2023-03-06..2023-03-10"}),
                                  info=types.SimpleNamespace(run_id="p1"))
    rows, window, source = recent_rows(validation, paper, 30, window_reader(
        config, resolve_data(config, stage="monitor", run_id=None, reads={})))
    assert window == "2023-03-06..2023-03-10" and source == "paper run p1 (its dates read from the data file)"
    assert len(rows) == 5 * 78 and {"rsi_7", "target_6bar"} <= set(rows.columns)
    sealed = config.replace({"windows.test": ["2023-03-09", "2023-12-31"]})
    rows, window, source = recent_rows(validation, paper, 30, window_reader(
        sealed, resolve_data(sealed, stage="monitor", run_id=None, reads={})))
    assert source == "last 30 days of the validation window"


@pytest.mark.slow  # processes killed and watched: seconds each
@pytest.mark.parametrize("signum", [15, 9])  # SIGTERM, SIGKILL
def test_lab_paper_follow_killed_stops_the_follower_and_leaves_no_running_run(paper_setup, minutes, tmp_path, signum):
    """`lab paper --follow` (idle forever) killed: the follower ends with it and its run is KILLED."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.conftest import PROJECT_ROOT

    growing = write_firstrate(minutes.loc[:"2023-03-03"], tmp_path / "growing.txt")
    lab = subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()", "paper", "--config",
                            paper_setup["config"], "--data", str(growing), "--from", START, "--to", END, "--follow",
                            "--experiment", "lab-test"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except FileNotFoundError:
            return False

    def wait(condition, timeout: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.2)
        return condition()

    try:
        assert wait(lambda: bool(_paper_runs()) or lab.poll() is not None), lab.communicate()
        (run,) = _paper_runs()
        follower = json.loads(run.data.tags["lab.process"])["pid"]
        lab.send_signal(signum)
        _, said = lab.communicate(timeout=60)  # the follower's stderr too: it writes to the same pipe
    finally:
        if lab.poll() is None:
            lab.kill()
    assert wait(lambda: not alive(follower)), "the follower outlived `lab paper`"
    assert wait(lambda: _paper_runs()[0].info.status != "RUNNING"), said[-3000:]
    (run,) = _paper_runs()
    assert run.info.status == "KILLED" and run.data.tags["lab.error"] == "Terminated: stopped by SIGTERM"
    assert lab.returncode == (128 + signum if signum == signal.SIGTERM else -signal.SIGKILL)
