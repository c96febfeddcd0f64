"""The champion is the signal pyfunc: registered at promotion, served over HTTP on loopback."""

from __future__ import annotations


import numpy as np
import pytest

from tests.conftest import PROJECT_ROOT, make_minutes

pytestmark = pytest.mark.slow


def _train_small_model(features: list[str]):
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, len(features)))
    y = (X[:, 0] + 0.3 * rng.standard_normal(300) > 0).astype(int)
    return lgb.train({"verbose": -1, "num_leaves": 4, "objective": "binary"},
                     lgb.Dataset(X, y, feature_name=features), 10)


@pytest.fixture
def promoted_signal_model(lab_runs, tmp_path):
    """A tune run with a real LightGBM model and a config, promoted as champion (the signal pyfunc)."""
    import mlflow

    from lab.config import PromotionConfig
    from lab.features.core import FEATURE_NAMES
    from registry.promote import promote

    features = list(FEATURE_NAMES)
    booster = _train_small_model(features)
    run_id = lab_runs.tune(model="none")
    with mlflow.start_run(run_id=run_id):
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=["lightgbm"])
        mlflow.set_tags({"lab.model_id": info.model_id, "lab.features": ",".join(features)})
        mlflow.log_text('[session]\nwarmup_bars = 30\n[promotion]\nmodel_name = "mes-test"\n', "config/lab.toml")
    lab_runs.walk_forward(run_id)
    lab_runs.backtest(run_id)
    promotion = promote(run_id, PromotionConfig(model_name="mes-test"))
    return promotion, booster


def test_the_champion_version_is_the_signal_pyfunc_and_still_hands_over_its_booster(promoted_signal_model):
    import mlflow

    from lab.tracking import load_native_model

    promotion, booster = promoted_signal_model
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("mes-test", "champion")
    assert str(version.version) == promotion.version and version.tags["lab.signal_model"].startswith("run ")
    assert version.run_id == promotion.candidate.run.run_id  # the tune run stays the version's run
    native = load_native_model("models:/mes-test@champion", "lightgbm")
    assert native.model_to_string() == booster.model_to_string()
    model = mlflow.pyfunc.load_model("models:/mes-test@champion")
    assert model.metadata.signature is not None and model.metadata.saved_input_example_info is not None
    minutes = make_minutes("2023-03-01", "2023-03-02", seed=4)
    frame = minutes.reset_index().rename(columns={"index": "time"})
    frame["time"] = frame["time"].map(lambda t: t.isoformat())
    out = model.predict(frame)
    assert list(out.columns) == ["time", "probability", "side", "contracts", "stopped_by"]
    assert len(out) == 2 * 78 and (out["stopped_by"].iloc[:30] == "warmup").all()
    formed = out.iloc[31:]
    assert formed["probability"].between(0, 1).all()
    assert set(formed["stopped_by"]) <= {"", "threshold", "last_entry"}
    trades = formed[formed["stopped_by"] == ""]
    assert ((trades["side"] != "flat") & (trades["contracts"] > 0)).all()


def test_a_champion_alias_moved_with_the_client_is_not_loaded_for_serving(promoted_signal_model, lab_runs):
    import mlflow

    promotion, _ = promoted_signal_model
    version = lab_runs.client.get_model_version("mes-test", promotion.version)
    bare = lab_runs.client.create_model_version("mes-test", source=version.source, run_id=version.run_id,
                                                model_id=version.model_id)
    lab_runs.client.set_registered_model_alias("mes-test", "champion", bare.version)  # as the MLflow UI would
    with pytest.raises(Exception, match=r"refusing to serve the signal model of run .*promotion gate did not put it "
                                        r"there .*lab promote --run-id"):
        mlflow.pyfunc.load_model("models:/mes-test@champion")


def test_signal_model_answers_over_http_on_loopback(promoted_signal_model, tracking_store, tmp_path):
    import requests

    from tests.conftest import loopback_server

    serve = ["mlflow", "models", "serve", "-m", "models:/mes-test@champion", "--env-manager", "local", "--workers", "1"]
    with loopback_server(serve, "/ping", tmp_path / "serve.log", cwd=tmp_path, timeout_s=90,
                         env={"MLFLOW_TRACKING_URI": tracking_store, "PYTHONPATH": str(PROJECT_ROOT)}) as url:
        minutes = make_minutes("2023-03-01", "2023-03-01", seed=4)
        records = [{"time": t.isoformat(), **row} for t, row in zip(minutes.index, minutes.to_dict("records"))]
        response = requests.post(f"{url}/invocations", json={"dataframe_records": records}, timeout=60)
        assert response.status_code == 200, response.text
        rows = response.json()["predictions"]
        assert len(rows) == 78 and set(rows[0]) == {"time", "probability", "side", "contracts", "stopped_by"}
        assert rows[0]["time"] == "2023-03-01T09:30:00-05:00" and rows[0]["stopped_by"] == "warmup"
        late = rows[-1]
        assert late["time"] == "2023-03-01T15:55:00-05:00" and late["stopped_by"] in ("threshold", "last_entry")
        assert 0.0 <= rows[40]["probability"] <= 1.0


def test_a_volatility_champion_serves_the_strategy_its_backtest_ran(lab_runs):
    """A target_vol champion whose validation backtest ran breakout: the signal pyfunc decides every bar by the
    breakout rule with the backtest's settings (its own features computed live), not by the direction rule."""
    import json
    from pathlib import Path

    import mlflow

    from lab.config import PromotionConfig
    from lab.features.core import FEATURE_NAMES
    from registry.promote import promote

    features = list(FEATURE_NAMES)
    booster = _train_small_model(features)
    run_id = lab_runs.tune(model="none", target="target_vol")
    with mlflow.start_run(run_id=run_id):
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=["lightgbm"])
        mlflow.set_tags({"lab.model_id": info.model_id, "lab.features": ",".join(features)})
        mlflow.log_text('[session]\nwarmup_bars = 30\n[promotion]\nmodel_name = "mes-test"\n', "config/lab.toml")
    lab_runs.walk_forward(run_id, target="target_vol")
    lab_runs.backtest(run_id, params={"target": "target_vol", "strategy.name": "breakout",
                                      "strategy.breakout.min_consolidation_score": "0.2",
                                      "strategy.breakout.min_volatility_probability": "0.0"})
    promote(run_id, PromotionConfig(model_name="mes-test"))
    model = mlflow.pyfunc.load_model("models:/mes-test@champion")
    spec_path = mlflow.artifacts.download_artifacts("models:/mes-test@champion")
    spec = json.loads(next(Path(spec_path).rglob("signal_spec.json")).read_text())
    assert spec["strategy"]["name"] == "breakout" and spec["strategy"]["breakout"]["min_consolidation_score"] == 0.2
    minutes = make_minutes("2023-03-01", "2023-03-03", seed=4)
    frame = minutes.reset_index().rename(columns={"index": "time"})
    frame["time"] = frame["time"].map(lambda t: t.isoformat())
    out = model.predict(frame)
    formed = out.iloc[31:]
    assert set(formed["stopped_by"]) <= {"", "setup", "last_entry", "warmup"} and "setup" in set(formed["stopped_by"])
    assert "threshold" not in set(out["stopped_by"])
    traded = formed[formed["stopped_by"] == ""]
    assert len(traded) > 0 and (traded["contracts"] > 0).all()
