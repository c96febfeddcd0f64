"""Parity of the incremental feature state with the batch pipeline, on every calendar quirk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.config import LabConfig
from lab.dataset.build import OPTIONAL_SETS, featurized_bars
from lab.errors import DataError
from lab.features.core import FEATURE_NAMES
from lab.live import CORE_NAMES, OPTIONAL_SET_NAMES, LiveFeatures
from lab.market.sessions import epoch_ns
from tests.conftest import make_minutes

NY = "America/New_York"


def _quirky_minutes() -> pd.DataFrame:
    """November 2023 around the clock: DST ends (Sun 5th, the 01:xx hour twice), Thanksgiving
    (23rd, no session), the early close (24th, 13:00); 4 % of minutes missing at random, a whole
    5-minute slot missing, and buckets missing their last minute."""
    minutes = make_minutes("2023-10-30", "2023-11-28", seed=11, overnight=True)
    keep = np.random.default_rng(2).random(len(minutes)) >= 0.04
    stamp = minutes.index
    slot = (stamp >= pd.Timestamp("2023-11-06 10:00", tz=NY)) & (stamp < pd.Timestamp("2023-11-06 10:05", tz=NY))
    last_minute = (stamp.minute % 5 == 4) & (stamp.day == 7) & (stamp.hour == 11)
    return minutes.loc[keep & ~slot & ~last_minute]


def _feed(state, minutes: pd.DataFrame) -> list:
    """Every minute through ``state.update``, then ``state.flush()``: all they returned, in order."""
    ns = epoch_ns(minutes.index)
    columns = [minutes[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")]
    out = []
    for i in range(len(minutes)):
        out.extend(state.update(int(ns[i]), *(c[i] for c in columns)))
    out.extend(state.flush())
    return out


def _replay(state: LiveFeatures, minutes: pd.DataFrame) -> pd.DataFrame:
    bars = _feed(state, minutes)
    index = pd.DatetimeIndex(np.array([b.start_ns for b in bars], "datetime64[ns]")).tz_localize("UTC").tz_convert(NY)
    frame = pd.DataFrame([b.features for b in bars], index=index, columns=list(state.names))
    for position, name in enumerate(("open", "high", "low", "close", "volume")):
        frame[f"bar_{name}"] = [b[1 + position] for b in bars]
    return frame


@pytest.fixture(scope="module")
def replayed():
    minutes = _quirky_minutes()
    batch, sessions = featurized_bars(minutes, LabConfig())
    live = _replay(LiveFeatures(sessions), minutes)
    return batch, live


def test_live_feature_names_are_the_batch_names():
    assert CORE_NAMES == tuple(FEATURE_NAMES)
    for name, (_, names) in OPTIONAL_SETS.items():
        assert OPTIONAL_SET_NAMES[name] == tuple(names)


@pytest.mark.slow
def test_live_features_emit_the_batch_bars_on_calendar_quirks(replayed):
    batch, live = replayed
    assert live.index.equals(batch.index)
    early_close = live.loc["2023-11-24"]
    assert early_close.index[-1] == pd.Timestamp("2023-11-24 12:55", tz=NY)
    assert live.loc["2023-11-23"].empty  # Thanksgiving
    assert pd.Timestamp("2023-11-06 10:00", tz=NY) not in live.index  # the slot without minutes
    assert len(live.loc["2023-11-06"]) == 77  # the first session after the DST switch: 78 slots less one
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(live[f"bar_{name}"].to_numpy(), batch[name].to_numpy(np.float64))


@pytest.mark.parametrize("group", ["core", "breakout", "mean_reversion"])
def test_live_features_equal_the_batch_table(replayed, group):
    batch, live = replayed
    names = CORE_NAMES if group == "core" else OPTIONAL_SET_NAMES[group]
    for name in names:
        expected = batch[name].to_numpy(np.float64)
        got = live[name].to_numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{name}: NaN positions differ")
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0.0, err_msg=name)
    # The comparison covers formed values, not only the warm-up's NaN.
    assert np.isfinite(live[list(names)].iloc[300:].to_numpy()).all()


def test_live_features_close_a_bar_on_its_last_minute():
    minutes = make_minutes("2023-03-01", "2023-03-01", seed=1)
    _, sessions = featurized_bars(make_minutes("2023-03-01", "2023-03-01", seed=1), LabConfig())
    state = LiveFeatures(sessions, optional_sets=())
    ns = epoch_ns(minutes.index)
    row = minutes.iloc[0]
    emitted = [state.update(int(ns[i]), *minutes.iloc[i][["open", "high", "low", "close", "volume"]]) for i in range(5)]
    assert [len(e) for e in emitted] == [0, 0, 0, 0, 1]
    bar = emitted[-1][0]
    assert bar.open == row.open and bar.close == minutes.iloc[4].close
    assert bar.high == minutes.iloc[:5].high.max() and bar.volume == minutes.iloc[:5].volume.sum()
    assert len(bar.features) == 24 and bar.features[CORE_NAMES.index("time_of_day")] == 9.5


def test_live_features_refuse_minutes_out_of_order():
    _, sessions = featurized_bars(make_minutes("2023-03-01", "2023-03-01", seed=1), LabConfig())
    state = LiveFeatures(sessions)
    state.update(1_677_681_000_000_000_000, 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(DataError, match="feed minutes in time order"):
        state.update(1_677_681_000_000_000_000, 1.0, 1.0, 1.0, 1.0, 1.0)


def test_columns_of_names_the_missing_features_and_why():
    from lab.market.sessions import regular_sessions

    state = LiveFeatures(regular_sessions("XNYS", pd.Timestamp("2023-03-01").date(), pd.Timestamp("2023-03-03").date()),
                         optional_sets=())
    assert state.columns_of(["rsi_7", "return_1bar"]).tolist() == [CORE_NAMES.index("rsi_7"), 0]
    with pytest.raises(DataError) as caught:
        state.columns_of(["rsi_7", "range_position", "my_momentum"], "the champion")
    text = str(caught.value)
    assert "the champion needs feature(s) ['range_position', 'my_momentum']" in text
    assert "optional_sets = ['breakout']" in text and "['my_momentum'] are not built-in features" in text


@pytest.mark.slow
def test_live_inputs_compute_custom_features_equal_to_the_batch_table():
    """[features] custom on the live path: the user's batch functions on the last window of bars give the batch
    table's values (functions that look back less than the window), in the model's column order."""
    from lab.config import StrategyConfig
    from lab.live.signal import BarRule, LiveInputs

    entries = ["tests.lab.custom_feature_fixtures:session_aware", "tests.lab.custom_feature_fixtures:past_momentum"]
    config = LabConfig().replace({"features.custom": entries})
    minutes = _quirky_minutes()
    batch, sessions = featurized_bars(minutes, config)
    model_features = ["rsi_7", "range_rsi", "momentum_4bar_points", "minutes_into_session", "session_volume_share",
                      "close_vs_mean_12"]
    rule = BarRule(StrategyConfig(), config.rules)
    inputs = LiveInputs(rule, sessions, 5, (), model_features, entries, window_bars=300)
    rows = _feed(inputs, minutes)
    live = np.array([row[inputs.model_columns] for _, row in rows])
    assert [bar.start_ns for bar, _ in rows] == epoch_ns(batch.index).tolist()
    expected = batch[model_features].to_numpy(np.float64)
    np.testing.assert_array_equal(np.isnan(live), np.isnan(expected))
    np.testing.assert_allclose(live, expected, rtol=1e-9, atol=1e-12)


def test_live_inputs_refuse_a_non_built_in_feature_without_custom_entries():
    from lab.config import RulesConfig, StrategyConfig
    from lab.live.signal import BarRule, LiveInputs
    from lab.market.sessions import regular_sessions

    sessions = regular_sessions("XNYS", pd.Timestamp("2023-03-01").date(), pd.Timestamp("2023-03-03").date())
    with pytest.raises(DataError, match="are not built-in features"):
        LiveInputs(BarRule(StrategyConfig(), RulesConfig()), sessions, 5, (), ["rsi_7", "my_momentum"])


def test_optional_sets_asked_in_any_order_name_the_columns_they_fill():
    """Mean reversion asked before breakout: the names follow the order the rows are written in."""
    minutes = _quirky_minutes().loc[:"2023-11-10"]
    batch, sessions = featurized_bars(minutes, LabConfig())
    live = _replay(LiveFeatures(sessions, optional_sets=("mean_reversion", "breakout")), minutes)
    for name in ("mr_rsi_7", "squeeze_duration", "range_position"):
        np.testing.assert_allclose(live[name].to_numpy(), batch[name].to_numpy(np.float64), rtol=1e-9, err_msg=name)
