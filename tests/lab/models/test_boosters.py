"""Tests for lab.models: both engines, best iteration, determinism, degenerate labels."""

from __future__ import annotations

import dataclasses

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from matplotlib.figure import Figure

from lab.config import ModelConfig
from lab.errors import LabError
from lab.models.boosters import (
    TrainingData,
    feature_importance,
    grown_config,
    native_params,
    predict_proba,
    train_classifier,
    with_params,
)
from lab.plots.models import feature_importance_figure

ENGINES = ("lightgbm", "xgboost")


def _arrays(n_train: int = 1500, n_val: int = 500, n_features: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train + n_val, n_features))
    logit = 1.2 * X[:, 0] - 0.8 * X[:, 1]
    y = (rng.random(len(X)) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    columns = [f"feat_{i}" for i in range(n_features)]
    frame = pd.DataFrame(X, columns=columns)
    return frame.iloc[:n_train], y[:n_train], frame.iloc[n_train:], y[n_train:]


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return TrainingData.from_arrays(*_arrays())


def _config(engine: str, **overrides) -> ModelConfig:
    base = ModelConfig(
        engine=engine, num_leaves=15, max_depth=4, learning_rate=0.1, min_data_in_leaf=20,
        num_boost_round=300, early_stopping_rounds=20, num_threads=1, seed=7,
    )
    return dataclasses.replace(base, **overrides)


@pytest.mark.parametrize("engine", ENGINES)
def test_train_classifier_returns_native_booster_with_best_iteration(data: TrainingData, engine: str) -> None:
    model = train_classifier(data, _config(engine))
    expected = lgb.Booster if engine == "lightgbm" else xgb.Booster
    assert isinstance(model.booster, expected)
    assert 1 <= model.best_iteration < 300
    assert model.best_validation_auc > 0.75
    assert model.feature_names == tuple(f"feat_{i}" for i in range(5))


@pytest.mark.parametrize("engine", ENGINES)
def test_predict_proba_matches_engine_auc_at_best_iteration(data: TrainingData, engine: str) -> None:
    from sklearn.metrics import roc_auc_score

    model = train_classifier(data, _config(engine))
    p = predict_proba(model.booster, data.X_val)
    assert p.shape == (len(data.y_val),) and p.dtype == np.float64
    assert ((p > 0) & (p < 1)).all()
    assert roc_auc_score(data.y_val, p) == pytest.approx(model.best_validation_auc, abs=1e-6)


def test_train_classifier_lightgbm_booster_holds_only_best_trees(data: TrainingData) -> None:
    model = train_classifier(data, _config("lightgbm", learning_rate=0.3, early_stopping_rounds=30))
    assert model.booster.current_iteration() == model.best_iteration


def test_predict_proba_lightgbm_honours_best_iteration_attribute(data: TrainingData) -> None:
    booster = train_classifier(data, _config("lightgbm", learning_rate=0.05, early_stopping_rounds=30)).booster
    assert booster.current_iteration() > 3
    booster.best_iteration = 3
    first_three = booster.predict(data.X_val, num_iteration=3)
    every = booster.predict(data.X_val, num_iteration=booster.current_iteration())
    assert np.allclose(predict_proba(booster, data.X_val), first_three)
    assert not np.allclose(first_three, every)


def test_train_classifier_xgboost_booster_is_sliced_to_best_rounds(data: TrainingData) -> None:
    model = train_classifier(data, _config("xgboost", learning_rate=0.3, early_stopping_rounds=30))
    assert model.booster.num_boosted_rounds() == model.best_iteration
    plain = model.booster.predict(xgb.DMatrix(data.X_val, feature_names=list(data.feature_names)))
    assert np.allclose(plain, predict_proba(model.booster, data.X_val))  # what a flavor loader sees


@pytest.mark.parametrize("engine", ENGINES)
def test_booster_native_round_trip_predicts_the_same(data: TrainingData, engine: str, tmp_path) -> None:
    model = train_classifier(data, _config(engine))
    if engine == "lightgbm":
        path = tmp_path / "model.txt"
        model.booster.save_model(str(path))  # what mlflow.lightgbm does
        loaded = lgb.Booster(model_file=str(path))
    else:
        path = tmp_path / "model.json"
        model.booster.save_model(str(path))  # what mlflow.xgboost does
        loaded = xgb.Booster(model_file=str(path))
    assert np.allclose(predict_proba(loaded, data.X_val), predict_proba(model.booster, data.X_val))


@pytest.mark.parametrize("engine", ENGINES)
def test_train_classifier_is_deterministic_with_a_seed(engine: str) -> None:
    first = train_classifier(TrainingData.from_arrays(*_arrays()), _config(engine))
    second = train_classifier(TrainingData.from_arrays(*_arrays()), _config(engine))
    X_val = _arrays()[2]
    assert first.best_iteration == second.best_iteration
    assert np.array_equal(predict_proba(first.booster, X_val), predict_proba(second.booster, X_val))


def test_training_data_reuses_lightgbm_datasets_across_min_data_in_leaf(data: TrainingData) -> None:
    fresh = TrainingData.from_arrays(data.X_train, data.y_train, data.X_val, data.y_val)
    train_set, _ = fresh.lightgbm_datasets(1)
    a = train_classifier(fresh, _config("lightgbm", min_data_in_leaf=200))
    b = train_classifier(fresh, _config("lightgbm", min_data_in_leaf=10))  # lower: needs feature_pre_filter off
    assert fresh.lightgbm_datasets(1)[0] is train_set
    rebuilt = train_classifier(
        TrainingData.from_arrays(data.X_train, data.y_train, data.X_val, data.y_val),
        _config("lightgbm", min_data_in_leaf=10),
    )
    assert b.best_iteration == rebuilt.best_iteration
    assert np.array_equal(predict_proba(b.booster, data.X_val), predict_proba(rebuilt.booster, data.X_val))
    assert a.best_iteration >= 1


def _slow_data(seed: int = 3) -> TrainingData:
    """Noisy labels and a small learning rate below: the validation AUC rises for tens of rounds."""
    X_train, y_train, X_val, y_val = _arrays(n_train=4000, n_val=1500, n_features=6, seed=seed)
    X_train = X_train.copy()
    X_train.iloc[::7, 2] = np.nan  # missing values take the learned default direction
    return TrainingData.from_arrays(X_train, y_train, X_val, y_val)


@pytest.mark.parametrize("params", [
    {"num_leaves": 15, "max_depth": 4, "learning_rate": 0.05, "min_data_in_leaf": 50},
    {"num_leaves": 63, "max_depth": 8, "learning_rate": 0.1, "min_data_in_leaf": 20, "early_stopping_rounds": 5},
    {"num_leaves": 31, "max_depth": 6, "learning_rate": 0.01, "min_data_in_leaf": 100, "num_boost_round": 60},
    {"num_leaves": 15, "max_depth": 4, "learning_rate": 0.05, "min_data_in_leaf": 50, "early_stopping_min_delta": 0.0},
    {"num_leaves": 15, "max_depth": 4, "learning_rate": 0.05, "min_data_in_leaf": 50, "early_stopping_min_delta": 0.002},
])
def test_lightgbm_round_loop_grows_what_lgb_train_with_early_stopping_grows(params: dict) -> None:
    data = _slow_data()
    config = dataclasses.replace(_config("lightgbm", bagging_fraction=0.8),
                                 early_stopping_min_delta=params.pop("early_stopping_min_delta", 0.0001))
    config = with_params(config, params)
    ours = train_classifier(data, config)
    train_set, val_set = data.lightgbm_datasets(1, config.max_bin)
    theirs = lgb.train(native_params(config), train_set, num_boost_round=config.num_boost_round, valid_sets=[val_set],
                       valid_names=["validation"],
                       callbacks=[lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False,
                                                     min_delta=config.early_stopping_min_delta)])
    assert ours.best_iteration == theirs.best_iteration
    assert ours.best_validation_auc == theirs.best_score["validation"]["auc"]
    assert ours.booster.model_to_string() == theirs.model_to_string()  # the same trees and parameters
    assert np.array_equal(predict_proba(ours.booster, data.X_val), predict_proba(theirs, data.X_val))


def test_shared_lightgbm_datasets_train_the_model_a_fresh_binning_trains(tmp_path) -> None:
    import pickle

    X_train, y_train, X_val, y_val = _arrays(n_train=3000, n_val=1000, seed=5)
    config = _config("lightgbm", max_bin=63, bagging_fraction=0.8)
    sharing = TrainingData.from_arrays(X_train, y_train, X_val, y_val)
    sharing.share_lightgbm(tmp_path, 1, 63)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-63.bin", "validation-63.bin"]
    worker_copy = pickle.loads(pickle.dumps(sharing))  # what a worker process receives
    assert not worker_copy._cache  # noqa: SLF001  - no native handle travels, only the files' paths
    shared = train_classifier(worker_copy, config)
    fresh = train_classifier(TrainingData.from_arrays(X_train, y_train, X_val, y_val), config)
    assert shared.best_iteration == fresh.best_iteration
    assert shared.best_validation_auc == fresh.best_validation_auc
    assert shared.booster.model_to_string() == fresh.booster.model_to_string()
    assert np.array_equal(predict_proba(shared.booster, X_val), predict_proba(fresh.booster, X_val))


def test_trained_model_pickles_with_its_best_trees(data: TrainingData) -> None:
    import pickle

    model = train_classifier(data, _config("lightgbm", learning_rate=0.05, early_stopping_rounds=10))
    back = pickle.loads(pickle.dumps(model))  # a worker hands its best trial's model to the tune process
    assert back.best_iteration == model.best_iteration == back.booster.best_iteration
    assert np.array_equal(predict_proba(back.booster, data.X_val), predict_proba(model.booster, data.X_val))


def test_training_data_single_class_validation_raises() -> None:
    X_train, y_train, X_val, _ = _arrays()
    with pytest.raises(LabError, match=r"validation labels hold a single class \(1, 500 rows\)"):
        TrainingData.from_arrays(X_train, y_train, X_val, np.ones(len(X_val)))


def test_training_data_nan_label_raises() -> None:
    X_train, y_train, X_val, y_val = _arrays()
    y_train = y_train.copy()
    y_train[3] = np.nan
    with pytest.raises(LabError, match="train labels hold 1 NaN values; drop unlabelled rows"):
        TrainingData.from_arrays(X_train, y_train, X_val, y_val)


def test_training_data_shape_mismatch_raises() -> None:
    X_train, y_train, X_val, y_val = _arrays()
    with pytest.raises(LabError, match="validation features have shape"):
        TrainingData.from_arrays(X_train, y_train, X_val.iloc[:, :3], y_val)
    with pytest.raises(LabError, match="train has 1500 feature rows but 10 labels"):
        TrainingData.from_arrays(X_train, y_train[:10], X_val, y_val)


def test_native_params_maps_to_xgboost_equivalents() -> None:
    config = ModelConfig(engine="xgboost", num_leaves=63, max_depth=8, learning_rate=0.01, min_data_in_leaf=200)
    params = native_params(config)
    assert params["tree_method"] == "hist" and params["grow_policy"] == "lossguide"
    assert (params["max_leaves"], params["max_depth"], params["eta"]) == (63, 8, 0.01)
    assert params["min_child_weight"] == pytest.approx(50.0)
    assert native_params(ModelConfig(bagging_fraction=0.8))["bagging_freq"] == 1


def test_with_params_unknown_key_raises() -> None:
    with pytest.raises(LabError, match=r"unknown model parameter\(s\) \['num_trees'\]"):
        with_params(ModelConfig(), {"num_trees": 10})
    assert with_params(ModelConfig(), {"num_leaves": 63}).num_leaves == 63


@pytest.mark.parametrize("engine", ENGINES)
def test_feature_importance_lists_every_feature_by_gain(data: TrainingData, engine: str) -> None:
    table = feature_importance(train_classifier(data, _config(engine)).booster)
    assert list(table.columns) == ["feature", "gain", "split"]
    assert sorted(table["feature"]) == sorted(data.feature_names)
    assert table["feature"].iloc[0] == "feat_0"  # the strongest signal
    assert table["gain"].is_monotonic_decreasing


def test_feature_importance_figure_draws_bars(data: TrainingData, tmp_path) -> None:
    fig = feature_importance_figure(feature_importance(train_classifier(data, _config("lightgbm")).booster))
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == 5
    fig.savefig(tmp_path / "importance.png")
    assert (tmp_path / "importance.png").stat().st_size > 0


@pytest.mark.parametrize("engine", ["lightgbm", "xgboost"])
def test_max_bin_limits_the_split_points_of_both_engines(data: TrainingData, engine: str) -> None:
    config = ModelConfig(engine=engine, max_bin=3, num_boost_round=20, min_data_in_leaf=5, num_threads=1)
    fitted = train_classifier(TrainingData.from_arrays(data.X_train, data.y_train, data.X_val, data.y_val), config)
    assert fitted.params["max_bin"] == 3
    if engine == "lightgbm":
        trees = fitted.booster.trees_to_dataframe()
    else:
        trees = fitted.booster.trees_to_dataframe().rename(columns={"Feature": "split_feature", "Split": "threshold"})
        trees = trees[trees["split_feature"] != "Leaf"]
    thresholds = trees.dropna(subset=["threshold"]).groupby("split_feature")["threshold"].nunique()
    assert 0 < thresholds.max() <= 2  # 3 bins have 2 boundaries


@pytest.mark.parametrize("engine", ENGINES)
def test_grown_config_caps_num_leaves_at_depth_and_trains_the_same_model(data: TrainingData, engine: str) -> None:
    wide, capped = _config(engine, num_leaves=31, max_depth=3), _config(engine, num_leaves=8, max_depth=3)
    assert grown_config(wide) == capped and grown_config(capped) == capped
    assert grown_config(_config(engine, num_leaves=31, max_depth=-1)).num_leaves == 31  # no depth cap
    predictions = [predict_proba(train_classifier(data, c).booster, data.X_val) for c in (wide, capped)]
    np.testing.assert_array_equal(predictions[0], predictions[1])
    fewer = predict_proba(train_classifier(data, _config(engine, num_leaves=7, max_depth=3)).booster, data.X_val)
    assert not np.array_equal(fewer, predictions[1])  # 7 leaves is another model: the cap is exact, not loose


@pytest.mark.parametrize("engine", ENGINES)
def test_a_larger_min_delta_stops_no_later_and_keeps_an_earlier_or_equal_best_round(data: TrainingData,
                                                                                    engine: str) -> None:
    """Both engines take ``early_stopping_min_delta``: a gain that small is no gain, so the best round
    can only come earlier (the same trees up to it) and the training stops no later."""
    config = _config(engine, learning_rate=0.05, early_stopping_min_delta=0.0)
    any_gain = train_classifier(data, config)
    coarse = train_classifier(data, dataclasses.replace(config, early_stopping_min_delta=0.003))
    assert coarse.best_iteration < any_gain.best_iteration
    assert coarse.best_validation_auc <= any_gain.best_validation_auc
