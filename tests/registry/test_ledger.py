"""Tests for registry.ledger: evaluations counted per market and validation window, from the runs themselves."""

from __future__ import annotations

import dataclasses

import pytest

from lab.config import LabConfig, load_config
from registry import ledger
from registry.deflated import ledger_facts, ledger_facts_of_run


def _run(client, experiment_id, market="ES", window="2023-01-01..2023-12-31", trials=1, stage="backtest",
         metrics=None, status="FINISHED"):
    from mlflow.entities import Metric

    run = client.create_run(experiment_id, tags={"lab.stage": stage, **ledger.ledger_tags(market, window, trials)})
    if metrics:
        client.log_batch(run.info.run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()])
    client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def test_market_key_groups_an_underlying_and_keeps_synthetic_data_apart():
    config = LabConfig()
    assert ledger.market_key(config) == f"synthetic-ES-seed{config.data.synthetic_seed}-20190501-20251231"
    edged = dataclasses.replace(config, data=dataclasses.replace(config.data, synthetic_edge_auc=0.6))
    assert ledger.market_key(edged) == f"synthetic-ES-seed{config.data.synthetic_seed}-20190501-20251231-edge0.6"
    real = dataclasses.replace(config, data=dataclasses.replace(config.data, path="es.txt", instrument="MES"))
    assert ledger.market_key(real) == "ES"
    assert ledger.market_key(dataclasses.replace(real, data=dataclasses.replace(real.data, instrument="ES"))) == "ES"
    assert ledger.market_key(dataclasses.replace(real, data=dataclasses.replace(real.data, instrument="MNQ"))) == "NQ"
    assert ledger.window_key(config) == "2023-01-01..2023-12-31"


def test_count_trials_sums_across_experiments_studies_and_deleted_runs(tracking_store):
    import mlflow

    client = mlflow.MlflowClient()
    first = client.get_experiment_by_name("lab-test").experiment_id
    second = client.create_experiment("another-study")
    for _ in range(3):
        _run(client, first, stage="tune-trial")
    _run(client, first, stage="tune", trials=0)
    _run(client, second, stage="backtest", status="FAILED")
    deleted = _run(client, second, stage="analyze", trials=26)
    client.delete_run(deleted)
    client.delete_experiment(second)  # deleting the records does not undo having looked
    _run(client, first, market="NQ")
    _run(client, first, window="2022-01-01..2022-12-31")
    assert ledger.count_trials("ES", "2023-01-01..2023-12-31") == 3 + 0 + 1 + 26
    assert ledger.count_trials("NQ", "2023-01-01..2023-12-31") == 1
    stages = ledger.by_stage(ledger.entries("ES", "2023-01-01..2023-12-31"))
    assert stages == {"analyze": 26, "tune-trial": 3, "backtest": 1}


def test_count_trials_reads_the_count_of_runs_tagged_before_the_rename(tracking_store):
    import mlflow

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("lab-test").experiment_id
    _run(client, experiment, trials=2)
    old = client.create_run(experiment, tags={"lab.stage": "analyze", "lab.ledger.market": "ES",
                                              "lab.ledger.window": "2023-01-01..2023-12-31", "lab.ledger.trials": "26"})
    client.set_terminated(old.info.run_id)
    assert ledger.ledger_tags("ES", "w", 0) == {"lab.ledger.market": "ES", "lab.ledger.window": "w",
                                                "lab.ledger.trials_in_run": "0"}
    assert ledger.count_trials("ES", "2023-01-01..2023-12-31") == 2 + 26


def test_enter_and_log_count_include_the_run_itself(tracking_store):
    import mlflow

    config = load_config(None)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("lab-test").experiment_id
    _run(client, experiment, market=ledger.market_key(config), window=ledger.window_key(config), trials=4)
    with mlflow.start_run() as run:
        tags = ledger.enter(config, trials=1)
        assert ledger.log_count(config) == 5
    stored = client.get_run(run.info.run_id)
    assert stored.data.metrics["trials_on_validation"] == 5
    assert {k: stored.data.tags[k] for k in tags} == tags


def test_ledger_facts_give_daily_sharpes_and_a_run_outside_the_ledger_says_so(tracking_store):
    import mlflow

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("lab-test").experiment_id
    _run(client, experiment, metrics={"sharpe_ratio": 252 ** 0.5 * 0.1})
    _run(client, experiment, stage="tune-trial", metrics={"val_auc": 0.53})
    facts = ledger_facts("ES", "2023-01-01..2023-12-31")
    assert facts.n_trials == 2 and facts.trial_sharpes == pytest.approx((0.1,))
    outside = ledger_facts_of_run("bt9", {"lab.stage": "backtest"})
    assert outside.n_trials == 0 and "re-run the backtest" in outside.note


def test_ledger_tags_refuse_a_negative_count_or_a_blank_market():
    with pytest.raises(ValueError, match="trials = -1"):
        ledger.ledger_tags("ES", "w", -1)
    with pytest.raises(ValueError, match="must both be named"):
        ledger.ledger_tags("", "w", 1)


def test_lab_status_shows_the_ledger_count(tracking_store):
    import mlflow

    from registry.status import format_status, lab_status

    config = load_config(None)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("lab-test").experiment_id
    for stage in ("tune-trial", "tune-trial", "walk-forward"):
        _run(client, experiment, market=ledger.market_key(config), window=ledger.window_key(config), stage=stage)
    text = format_status(lab_status(config))
    assert (f"trial ledger, validation 2023-01-01..2023-12-31 on {ledger.market_key(config)}: 3 evaluations "
            "(tune-trial 2, walk-forward 1)") in text


def test_deflated_annualisation_agrees_with_the_backtest_metrics():
    from lab.backtest.metrics import TRADING_DAYS_PER_YEAR
    from registry import deflated

    assert deflated.TRADING_DAYS_PER_YEAR == TRADING_DAYS_PER_YEAR
