import pytest

from lab.dataset.cache import FeatureCache
from lab.config import TARGET_NAMES, load_config
from lab.dataset.code import pipeline_modules
from lab.dataset.build import prepare_dataset
from lab.features.core import FEATURE_NAMES
from lab.data.readers import write_firstrate
from tests.conftest import make_minutes
from tests.lab.conftest import SMALL_WINDOWS

WINDOWS = SMALL_WINDOWS


def _config(path, **extra):
    return load_config(None, {"data.path": str(path), **WINDOWS, **extra})


def test_prepare_dataset_builds_train_and_validation_only(minute_file):
    dataset = prepare_dataset(_config(minute_file), progress=lambda m: None)
    assert set(dataset.tables) == {"train", "validation"}
    for table in dataset.tables.values():
        assert set(FEATURE_NAMES) | set(TARGET_NAMES) <= set(table.columns)
        assert table.index.max().date().isoformat() < "2023-12-01"
        assert table[list(FEATURE_NAMES)].notna().all().all()
    assert dataset.manifest["rows_held_out"] > 0
    folder_files = sorted(p.name for p in dataset.folder.iterdir())
    assert folder_files == ["data_findings.parquet", "manifest.json", "minutes_validation.parquet", "rolls.parquet",
                            "session_prints.parquet", "train.parquet", "validation.parquet"]


def test_prepare_dataset_drops_the_warm_up_bars(minute_file):
    config = _config(minute_file, **{"windows.train": ["2023-08-01", "2023-10-31"], "session.warmup_bars": 200})
    train = prepare_dataset(config, progress=lambda m: None).tables["train"]
    # 200 bars = two whole sessions of 78 bars (Aug 1, Aug 2) + 44 bars of Aug 3 (09:30 + 44 x 5 min)
    assert str(train.index[0]) == "2023-08-03 13:10:00-04:00"


def test_prepare_dataset_reuses_cache_until_inputs_change(minute_file):
    first = prepare_dataset(_config(minute_file), progress=lambda m: None)
    again = prepare_dataset(_config(minute_file), progress=lambda m: None)
    assert again.cache_hit and again.digest == first.digest
    assert again.tables["train"].equals(first.tables["train"])
    changed = prepare_dataset(_config(minute_file, **{"targets.min_move_ticks": 3}), progress=lambda m: None)
    assert not changed.cache_hit and changed.digest != first.digest
    with minute_file.open("a") as handle:
        handle.write("2023-12-29 16:59:00,4000,4000,4000,4000,1\n")
    edited = prepare_dataset(_config(minute_file), progress=lambda m: None)
    assert edited.digest != first.digest


def test_prepare_dataset_digest_ignores_the_strategies_signal_settings(minute_file):
    first = prepare_dataset(_config(minute_file), progress=lambda m: None)
    signal_keys = {"strategy.name": "breakout", "strategy.breakout.min_consolidation_score": 0.9,
                   "strategy.breakout.range_low": 0.1, "strategy.breakout.range_high": 0.9,
                   "strategy.breakout.min_volatility_probability": 0.8, "strategy.mean_reversion.rsi_oversold": 20.0,
                   "strategy.mean_reversion.rsi_overbought": 80.0, "strategy.mean_reversion.min_ema_deviation_pct": 0.5,
                   "strategy.mean_reversion.max_volatility_probability": 0.3,
                   # the direction strategy's thresholds and the rules no label follows
                   "rules.entry_threshold": 0.55, "rules.full_size_threshold": 0.8, "rules.daily_loss_limit_usd": 250.0,
                   "rules.pause_after_consecutive_losses": 5, "rules.full_size_contracts": 1}
    again = prepare_dataset(_config(minute_file, **signal_keys), progress=lambda m: None)
    assert again.cache_hit and again.digest == first.digest
    exits = prepare_dataset(_config(minute_file, **{"rules.stop_loss_ticks": 10.0}), progress=lambda m: None)
    assert exits.digest != first.digest  # the target_trade label follows the stop
    # ... and the signal rules' code is not part of the digest either (only the feature layer is)
    assert "lab.features.strategy_sets" in pipeline_modules()
    assert not [m for m in pipeline_modules() if m.startswith("lab.strategies")]


def test_featurize_imports_no_numba():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    code = ("import sys, jobs.featurize, lab.dataset.build, lab.features.strategy_sets, lab.features.targets; "
            "print(sorted(m for m in sys.modules if m == 'numba' or m.startswith(('numba.', 'lab.backtest', 'lab.strategies'))))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env)
    assert out.stdout.strip() == "[]", out.stdout


def test_feature_cache_write_is_atomic_and_idempotent(tmp_path):
    import pandas as pd

    cache = FeatureCache(tmp_path)
    table = pd.DataFrame({"a": [1.0]})
    cache.write("abc", {"t": table}, {"x": 1})
    cache.write("abc", {"t": table}, {"x": 1})
    assert cache.has("abc") and cache.manifest("abc") == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["abc"]


def test_prepare_dataset_refuses_a_window_the_file_does_not_cover(minute_file):
    from lab.errors import DataError

    config = _config(minute_file, **{"windows.train": ["2019-05-01", "2022-12-31"]})
    with pytest.raises(DataError, match=r"the train window 2019-05-01..2022-12-31 holds no regular-session bar .* "
                                        r"set \[windows\] in lab.toml"):
        prepare_dataset(config, progress=lambda m: None)


def test_prepare_dataset_warns_about_a_target_without_labels(minute_file):
    config = _config(minute_file, **{"targets.volatility_lookback_bars": 20_000})
    with pytest.warns(UserWarning, match=r"target_vol has no labelled row in the train window"):
        prepare_dataset(config, progress=lambda m: None)


def test_prepare_dataset_optional_sets_are_formed_with_history_and_feed_models_on_request(minute_file):
    from lab.features.strategy_sets import BREAKOUT_FEATURES, MEAN_REVERSION_FEATURES

    plain = prepare_dataset(_config(minute_file), progress=lambda m: None)
    validation = plain.tables["validation"]
    # the strategies' features are in every table, already formed on the window's first bar
    assert validation[list(BREAKOUT_FEATURES) + list(MEAN_REVERSION_FEATURES)].iloc[0].notna().all()
    assert plain.feature_names == list(FEATURE_NAMES)
    with_sets = prepare_dataset(_config(minute_file, **{"features.optional_sets": ["breakout"]}), progress=lambda m: None)
    assert with_sets.feature_names == list(FEATURE_NAMES) + list(BREAKOUT_FEATURES)


def test_prepare_dataset_warns_about_flagged_sessions_and_drops_them_on_request(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    minutes = make_minutes("2023-08-01", "2023-12-29", seed=11, overnight=True)
    day = minutes.index.tz_localize(None).normalize()
    minutes.loc[day == pd.Timestamp("2023-10-02"), "volume"] = 0
    path = write_firstrate(minutes, tmp_path / "raw.txt")
    with pytest.warns(UserWarning, match=r"the data doctor flagged 1 of \d+ sessions \(zero_volume 1\); kept them"):
        kept = prepare_dataset(_config(path), progress=lambda m: None)
    assert kept.manifest["data_doctor"]["sessions_flagged"] == 1
    assert "2023-10-02" in set(kept.tables["train"]["session"].dt.strftime("%Y-%m-%d"))
    with pytest.warns(UserWarning, match=r"dropped them \(1,320 minutes\)"):
        dropped = prepare_dataset(_config(path, **{"data.on_bad_sessions": "drop"}), progress=lambda m: None)
    assert dropped.digest != kept.digest
    assert dropped.manifest["data_doctor"]["sessions_dropped"] == 1
    assert "2023-10-02" not in set(dropped.tables["train"]["session"].dt.strftime("%Y-%m-%d"))
    findings = FeatureCache(tmp_path / "data" / "features").read(dropped.digest, "data_findings")
    assert findings[["session", "kind"]].values.tolist() == [["2023-10-02", "zero_volume"]]


def test_prepare_dataset_says_a_file_whose_prices_never_move_is_at_fault(tmp_path, monkeypatch):
    from lab.errors import DataError

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    minutes = make_minutes("2023-08-01", "2023-12-29", seed=11, overnight=True)
    minutes[["open", "high", "low", "close"]] = 4000.0
    path = write_firstrate(minutes, tmp_path / "frozen.txt")
    with pytest.warns(UserWarning, match="stale_prices"), pytest.raises(
            DataError, match=r"^the minute file's prices never move in the train window 2023-09-01..2023-10-31: every "
                             r"open, high, low and close of its 3276 bars is 4000, so no bar can be labelled; check the "
                             r"file \(a frozen feed, a placeholder, or a wrong column\) - another window will not help$"):
        prepare_dataset(_config(path), progress=lambda m: None)


def test_prepare_dataset_builds_the_same_dataset_with_the_doctor_beside_featurize_as_before_it(tmp_path, monkeypatch):
    """With [data] on_bad_sessions = "warn" the doctor runs on a second thread while featurize builds the
    tables from the roll-adjusted minutes; with "drop" it runs first. Nothing flagged: the same dataset."""
    import pandas as pd

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    minutes = make_minutes("2023-08-01", "2023-12-29", seed=11, overnight=True)
    minutes.loc[minutes.index >= pd.Timestamp("2023-09-06 18:00", tz=minutes.index.tz), ["open", "high", "low", "close"]] += 30.0
    path = write_firstrate(minutes, tmp_path / "rolled.txt")
    beside = prepare_dataset(_config(path, **{"data.on_bad_sessions": "warn"}), progress=lambda m: None)
    first = prepare_dataset(_config(path, **{"data.on_bad_sessions": "drop"}), progress=lambda m: None)
    assert beside.manifest["data_doctor"]["rolls"] == 1 and beside.manifest["data_doctor"]["sessions_flagged"] == 0
    for name in beside.tables:
        pd.testing.assert_frame_equal(beside.tables[name], first.tables[name])
    assert beside.session_prints == first.session_prints
    assert beside.manifest["data_doctor"] == first.manifest["data_doctor"]
    assert beside.manifest["leak_audit"]["features_audited"] == first.manifest["leak_audit"]["features_audited"]
    for table in ("rolls", "data_findings", "minutes_validation", "session_prints"):
        pd.testing.assert_frame_equal(pd.read_parquet(beside.folder / f"{table}.parquet"),
                                      pd.read_parquet(first.folder / f"{table}.parquet"))
    assert {"doctor_s", "fingerprints_s", "featurize_s"} <= set(beside.timings_s)


def test_prepare_dataset_back_adjusts_a_planted_roll_and_keeps_its_table(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    base = make_minutes("2023-08-01", "2023-12-29", seed=11, overnight=True)
    prices = ["open", "high", "low", "close"]
    rolled, shifted = base.copy(), base.copy()
    rolled.loc[rolled.index >= pd.Timestamp("2023-09-06 18:00", tz=rolled.index.tz), prices] += 30.0  # MESU23 -> MESZ23
    shifted[prices] += 30.0  # the series as the new contract would have traded all along
    back = prepare_dataset(_config(write_firstrate(rolled, tmp_path / "rolled.txt")), progress=lambda m: None)
    clean = prepare_dataset(_config(write_firstrate(shifted, tmp_path / "shifted.txt")), progress=lambda m: None)
    pd.testing.assert_frame_equal(back.tables["train"], clean.tables["train"])
    rolls = pd.read_parquet(back.folder / "rolls.parquet")
    assert rolls[["date", "gap", "method", "front", "next", "adjust"]].to_dict("records") == [
        {"date": "2023-09-07", "gap": 30.0, "method": "detected", "front": "MESU23", "next": "MESZ23", "adjust": "back"}]
    assert back.manifest["data_doctor"]["rolls"] == 1 and back.manifest["data_doctor"]["sessions_flagged"] == 0
    kept = prepare_dataset(_config(tmp_path / "rolled.txt", **{"data.roll_adjust": "none"}), progress=lambda m: None)
    assert kept.digest != back.digest  # the setting is part of the digest
    jump = (kept.tables["train"]["return_24bar"] - clean.tables["train"]["return_24bar"]).abs().max()
    assert jump > 0.005  # unadjusted, the roll is in the features


def test_prepare_dataset_warns_once_when_the_warm_up_is_shorter_than_ema_200s(minute_file):
    with pytest.warns(UserWarning, match=r"warmup_bars = 200 is shorter than the slowest indicator's warm-up: "
                                         r"EMA 200 needs 1,383 bars"):
        prepare_dataset(_config(minute_file, **{"session.warmup_bars": 200}), progress=lambda m: None)


def test_prepare_dataset_says_when_the_warm_up_eats_the_train_window(minute_file):
    from lab.errors import DataError

    config = _config(minute_file, **{"windows.train": ["2023-08-01", "2023-08-20"]})
    with pytest.raises(DataError, match=r"the file holds 1,092 regular-session bars up to the end of the train window "
                                        r"2023-08-01..2023-08-20 \(about 14 sessions\): the 1,400-bar warm-up alone "
                                        r"takes about 18 sessions"):
        prepare_dataset(config, progress=lambda m: None)


def test_the_synthetic_default_is_hashed_once_per_resolution(monkeypatch):
    """The default file's SHA-256 checks its provenance record and names its content: one pass over the bytes."""
    from lab.dataset import build

    config = load_config(None, {"data.path": "", "data.synthetic_start": "2023-01-02", "data.synthetic_end": "2023-01-31"})
    generated = build.data_source(config, progress=lambda m: None)
    calls = []
    real = build.file_sha256
    monkeypatch.setattr(build, "file_sha256", lambda path: calls.append(path) or real(path))
    again = build.data_source(config, progress=lambda m: None)
    assert len(calls) == 1 and again.sha256 == generated.sha256 and again.synthetic is not None


def test_prepare_dataset_reports_the_doctors_error_before_featurizes_when_both_fail(minute_file, monkeypatch):
    """The doctor runs beside featurize; if both fail, the doctor's verdict on the file is what the user sees."""
    import lab.dataset.build as build
    from lab.errors import DataError

    def doctor_fails(*args, **kwargs):
        raise DataError("the doctor's verdict")

    def featurize_fails(*args, **kwargs):
        raise DataError("featurize's complaint")

    real_build_tables = build.build_tables
    monkeypatch.setattr(build, "examine_for_featurize", doctor_fails)
    monkeypatch.setattr(build, "build_tables", featurize_fails)
    with pytest.raises(DataError, match="the doctor's verdict"):
        prepare_dataset(_config(minute_file), progress=lambda m: None, force=True)
    monkeypatch.setattr(build, "build_tables", real_build_tables)
    with pytest.raises(DataError, match="the doctor's verdict"):  # the doctor alone fails: its error
        prepare_dataset(_config(minute_file), progress=lambda m: None, force=True)
