import numpy as np
import pandas as pd
import pytest

from lab.config import load_config
from lab.features.custom import load_custom_features
from lab.dataset.build import feature_columns, prepare_dataset
from lab.features.leak_audit import AUDIT_SPAN_BARS, LookAheadError, audit_look_ahead, choose_cuts
from lab.data.readers import write_firstrate
from tests.conftest import make_minutes

FIXTURES = "tests.lab.custom_feature_fixtures"


@pytest.fixture(scope="module")
def bars(rth_bars_factory):
    return rth_bars_factory("2023-02-01", "2023-03-31", seed=7)


def _audit(bars, compute, **kwargs):
    return audit_look_ahead(bars, compute(bars), compute, first_cut=300, **kwargs)


def test_choose_cuts_is_seeded_distinct_and_inside_the_span():
    cuts = choose_cuts(10_000, n_cuts=5, first_cut=1400, span_bars=780, seed=1)
    assert len(cuts) == 5 and len(set(cuts)) == 5 and list(cuts) == sorted(cuts)
    assert cuts.min() >= 1400 and cuts.max() < 1400 + 780
    assert np.array_equal(cuts, choose_cuts(10_000, n_cuts=5, first_cut=1400, span_bars=780, seed=1))
    assert not np.array_equal(cuts, choose_cuts(10_000, n_cuts=5, first_cut=1400, span_bars=780, seed=2))
    # a file shorter than the warm-up: the span moves back inside the data
    short = choose_cuts(1000, first_cut=1400)
    assert len(short) == 5 and short.max() < 1000
    assert len(choose_cuts(3)) == 3 and len(choose_cuts(0)) == 0


def test_audit_passes_every_built_in_feature(bars):
    report = _audit(bars, feature_columns)
    assert len(report.features) == 24 + 14 + 5 and len(report.cuts) == 5
    assert report.bars_recomputed == sum(bars.index.get_loc(c) + 1 for c in report.cuts)


def test_audit_refuses_a_custom_feature_using_the_next_close_naming_it_and_the_first_differing_bar(bars):
    custom = load_custom_features([f"{FIXTURES}:past_momentum", f"{FIXTURES}:next_close_change"])
    first_cut = bars.index[choose_cuts(len(bars), first_cut=300).min()]
    with pytest.raises(LookAheadError) as caught:
        _audit(bars, lambda part: feature_columns(part, custom))
    message = str(caught.value)
    assert message.startswith("look-ahead: 1 feature(s) change")
    # shift(-1): the last bar of the earliest prefix has no next close, the full table has one
    assert f"peek_next_close (first differing bar {first_cut}:" in message
    assert f"with the bars up to {first_cut} only)" in message and "momentum" not in message


def test_audit_refuses_a_whole_series_normalisation_from_the_first_bar(bars):
    custom = load_custom_features([f"{FIXTURES}:whole_series_zscore"])
    with pytest.raises(LookAheadError, match=rf"close_zscore_all \(first differing bar {bars.index[0]}:"):
        _audit(bars, lambda part: feature_columns(part, custom))


def test_audit_refuses_a_session_aggregate_that_includes_later_bars(bars):
    def compute(part):
        last = part.groupby("session")["close"].transform("last")
        return pd.DataFrame({"close_vs_session_last": part["close"] / last - 1.0}, index=part.index)

    with pytest.raises(LookAheadError, match=r"close_vs_session_last \(first differing bar"):
        _audit(bars, compute)


def test_audit_ignores_float_noise_but_not_a_real_change(bars):
    full = feature_columns(bars)

    def noisy(scale):
        return lambda part: full.loc[part.index] * (1.0 + scale) if len(part) < len(bars) else full

    audit_look_ahead(bars, full, noisy(1e-13), first_cut=300)
    with pytest.raises(LookAheadError, match=r"look-ahead: \d+ feature\(s\)"):
        audit_look_ahead(bars, full, noisy(1e-6), first_cut=300)


def test_audit_cost_does_not_grow_with_the_file(bars):
    """Each cut recomputes a prefix from the first bar up to a cut inside the span: bounded work."""
    report = _audit(bars, feature_columns, span_bars=AUDIT_SPAN_BARS)
    assert report.bars_recomputed <= 5 * (300 + AUDIT_SPAN_BARS)


@pytest.mark.slow
def test_featurize_refuses_a_leaky_custom_feature_and_writes_no_tables(tmp_path, monkeypatch):
    from lab import paths

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    path = write_firstrate(make_minutes("2023-08-01", "2023-12-29", seed=11, overnight=True), tmp_path / "raw.txt")
    config = load_config(None, {"data.path": str(path), "windows.train": ["2023-09-01", "2023-10-31"],
                                "windows.validation": ["2023-11-01", "2023-11-30"],
                                "windows.test": ["2023-12-01", "2023-12-29"], "targets.volatility_lookback_bars": 200,
                                "features.custom": [f"{FIXTURES}:next_close_change"]})
    with pytest.raises(LookAheadError, match=r"peek_next_close \(first differing bar 2023-\d\d-\d\d \d\d:\d\d"):
        prepare_dataset(config, progress=lambda m: None)
    assert not any(paths.features_dir().glob("*/manifest.json"))
