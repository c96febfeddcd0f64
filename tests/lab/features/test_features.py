
import numpy as np
import pandas as pd
import pytest

from lab.errors import DataError
from lab.features.core import FEATURE_NAMES, compute_features, session_vwap


@pytest.fixture(scope="module")
def bars(rth_bars_factory):
    return rth_bars_factory("2023-02-01", "2023-03-31", seed=3)


def test_compute_features_has_the_24_plan_features(bars):
    features = compute_features(bars)
    assert len(FEATURE_NAMES) == 24 and list(features.columns) == list(FEATURE_NAMES)
    assert (features.dtypes == np.float64).all()
    assert features.iloc[200:].notna().all().all()  # nothing missing after the warm-up


@pytest.mark.parametrize("cut", [300, 777, 1500])
def test_compute_features_no_look_ahead(bars, cut):
    """Changing every bar after `cut` changes no feature at or before `cut`."""
    base = compute_features(bars)
    future = bars.copy()
    rng = np.random.default_rng(cut)
    shock = rng.normal(0, 5, len(bars) - cut - 1).round() * 0.25
    for column in ("open", "high", "low", "close"):
        future.iloc[cut + 1 :, future.columns.get_loc(column)] += shock + 40.0
    future.iloc[cut + 1 :, future.columns.get_loc("volume")] *= 7
    changed = compute_features(future)
    pd.testing.assert_frame_equal(base.iloc[: cut + 1], changed.iloc[: cut + 1])
    assert not base.iloc[cut + 1 :].equals(changed.iloc[cut + 1 :])


def test_session_vwap_resets_each_session(bars):
    vwap = session_vwap(bars)
    firsts = bars.groupby("session").head(1)
    typical = (firsts["high"] + firsts["low"] + firsts["close"]) / 3
    np.testing.assert_allclose(vwap.loc[firsts.index], typical)


def test_compute_features_time_features(bars):
    features = compute_features(bars)
    first = features.loc["2023-02-01 09:30"]
    assert first["time_of_day"] == 9.5 and first["minutes_since_open"] == 0
    assert first["is_first_hour"] == 1.0 and first["is_last_hour"] == 0.0
    assert features.loc["2023-02-01 10:25", "is_first_hour"] == 1.0
    assert features.loc["2023-02-01 10:30", "is_first_hour"] == 0.0
    assert features.loc["2023-02-01 14:55", "is_last_hour"] == 0.0
    assert features.loc["2023-02-01 15:00", "is_last_hour"] == 1.0


def test_compute_features_rsi_is_bounded(bars):
    features = compute_features(bars)
    for name in ("rsi_7", "rsi_14"):
        values = features[name].dropna()
        assert values.between(0, 100).all()


def test_compute_features_refuses_bars_without_sessions(bars):
    with pytest.raises(DataError, match=r"lack column\(s\) \['session'"):
        compute_features(bars.drop(columns=["session"]))
