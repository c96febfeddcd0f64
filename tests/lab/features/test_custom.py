import sys

import numpy as np
import pytest

from lab.config import TARGET_NAMES, load_config
from lab.features.custom import compute_custom_features, load_custom_features
from lab.dataset.build import digest_for, feature_columns, prepare_dataset
from lab.errors import ConfigError, DataError
from lab.features.core import FEATURE_NAMES
from lab.features.strategy_sets import BREAKOUT_FEATURES, MEAN_REVERSION_FEATURES
from tests.lab.conftest import SMALL_WINDOWS
from tests.lab import custom_feature_fixtures

FIXTURES = "tests.lab.custom_feature_fixtures"
WINDOWS = SMALL_WINDOWS


@pytest.fixture(scope="module")
def bars(rth_bars_factory):
    return rth_bars_factory("2023-02-01", "2023-03-15", seed=5)


def _config(path, *custom, **extra):
    return load_config(None, {"data.path": str(path), **WINDOWS, "features.custom": list(custom), **extra})


def test_custom_feature_joins_the_tables_the_model_inputs_and_the_feature_importance(minute_file):
    from lab.config import ModelConfig
    from lab.models.boosters import TrainingData, feature_importance, train_classifier

    dataset = prepare_dataset(_config(minute_file, f"{FIXTURES}:past_momentum"), progress=lambda m: None)
    custom = ["momentum_4bar_points", "momentum_4bar_sign"]
    assert dataset.feature_names == [*FEATURE_NAMES, *custom]
    assert dataset.manifest["leak_audit"]["features_audited"] == 24 + 14 + 5 + 2
    train, validation = dataset.tables["train"], dataset.tables["validation"]
    expected = train["close"] - train["close"].shift(4)
    np.testing.assert_allclose(train["momentum_4bar_points"].iloc[4:], expected.iloc[4:])
    # A label the custom column decides (with 10 % of it flipped): the model must find it by name.
    rng = np.random.default_rng(0)

    def label(table):
        flip = rng.random(len(table)) < 0.1
        return np.where(flip, 1.0 - table["momentum_4bar_sign"], table["momentum_4bar_sign"])

    data = TrainingData.from_arrays(train[dataset.feature_names], label(train), validation[dataset.feature_names],
                                    label(validation))
    model = train_classifier(data, ModelConfig(num_boost_round=20, early_stopping_rounds=5, num_threads=1))
    importance = feature_importance(model.booster)
    assert set(custom) <= set(importance.feature)
    assert importance.feature.iloc[0] in custom and importance.gain.iloc[0] > 0


def test_custom_feature_receives_the_bars_and_built_in_features_but_no_target(minute_file):
    prepare_dataset(_config(minute_file, f"{FIXTURES}:spy_inputs"), progress=lambda m: None)
    seen = custom_feature_fixtures.SEEN_COLUMNS
    assert seen[:8] == ["open", "high", "low", "close", "volume", "session", "session_open", "session_close"]
    assert seen[8:] == [*FEATURE_NAMES, *BREAKOUT_FEATURES, *MEAN_REVERSION_FEATURES]
    assert not set(seen) & set(TARGET_NAMES)


def test_digest_changes_when_the_custom_module_source_changes(minute_file, tmp_path, monkeypatch):
    package = tmp_path / "userfeat"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "edited_feature.py"
    module.write_text("def spread(bars):\n    return (bars['high'] - bars['low']).rename('spread_points')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("userfeat", "userfeat.edited_feature"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    config = _config(minute_file, "userfeat.edited_feature:spread")
    plain = digest_for(_config(minute_file), "0" * 64)
    first = digest_for(config, "0" * 64)
    assert first != plain and digest_for(config, "0" * 64) == first
    module.write_text("def spread(bars):\n    return (bars['high'] - bars['low'] + 0.25).rename('spread_points')\n")
    assert digest_for(config, "0" * 64) != first


@pytest.mark.parametrize("entry", ["no_colon", "a.b:c:d", "pkg.:fn", "pkg.mod:", "1pkg:fn", 3])
def test_config_refuses_a_malformed_custom_entry(entry):
    with pytest.raises(ConfigError, match=r"\[features\] custom entry .* is not of the form \"package.module:function\""):
        load_config(None, {"features.custom": [entry]})


def test_config_refuses_a_repeated_custom_entry():
    with pytest.raises(ConfigError, match=r"\[features\] custom lists \['a.b:c'\] more than once"):
        load_config(None, {"features.custom": ["a.b:c", "a.b:c"]})


@pytest.mark.parametrize("entry, message", [
    ("no_such_package_xyz.features:f", r"custom entry 'no_such_package_xyz.features:f': cannot import module "
                                       r"'no_such_package_xyz.features' \(ModuleNotFoundError"),
    (f"{FIXTURES}:missing", rf"custom entry '{FIXTURES}:missing': module '{FIXTURES}' .* has no function 'missing'"),
    (f"{FIXTURES}:NOT_A_FUNCTION", rf"custom entry '{FIXTURES}:NOT_A_FUNCTION': 'NOT_A_FUNCTION' is a float, not a function"),
])
def test_load_custom_features_names_the_entry_that_cannot_be_loaded(entry, message):
    with pytest.raises(ConfigError, match=message):
        load_custom_features([entry])


def test_prepare_dataset_refuses_an_unimportable_custom_entry_before_reading(minute_file):
    with pytest.raises(ConfigError, match=r"cannot import module 'no_such_package_xyz'"):
        prepare_dataset(_config(minute_file, "no_such_package_xyz:f"), progress=lambda m: None)


@pytest.mark.parametrize("function, message", [
    ("returns_list", r"returned a list; return a pandas Series \(named\) or DataFrame"),
    ("returns_short", r"returned \d+ rows indexed differently from the \d+ bars"),
    ("returns_text", r"column 'as_text' is not numeric"),
    ("returns_builtin_name", r"returned column 'rsi_7', which is already a bar, built-in feature"),
    ("returns_unnamed", r"returned a column named None; name every column"),
    ("raises", r"raised KeyError: 'no_such_column'"),
])
def test_custom_function_breaking_the_contract_is_refused_by_name(bars, function, message):
    custom = load_custom_features([f"{FIXTURES}:{function}"])
    with pytest.raises(DataError, match=rf"custom function '{FIXTURES}:{function}' {message}"
                       if not message.startswith("column") else rf"'{FIXTURES}:{function}': {message}"):
        feature_columns(bars, custom)


def test_compute_custom_features_converts_to_float_and_inf_to_nan(bars):
    custom = load_custom_features([f"{FIXTURES}:past_momentum"])
    inputs = bars.assign(close=bars["close"].where(bars.index != bars.index[10], np.inf))
    out = compute_custom_features(custom, inputs, reserved=list(inputs.columns))
    assert list(out.columns) == ["momentum_4bar_points", "momentum_4bar_sign"]
    assert (out.dtypes == np.float64).all() and out.index.equals(bars.index)
    assert np.isnan(out["momentum_4bar_points"].iloc[10])
