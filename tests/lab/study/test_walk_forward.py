"""Tests for lab.walk_forward: monthly folds, the label-horizon purge, per-fold results."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lab.config import ModelConfig, WalkForwardConfig
from lab.errors import LabError
from lab.plots.models import fold_auc_figure
from lab.study.walk_forward import (
    FOLD_COLUMNS,
    describe_folds,
    run_walk_forward,
    walk_forward_splits,
)

BARS_PER_DAY = 6  # 09:30..09:55: a thin session keeps the tables small


def _index(start: str = "2022-01-03", end: str = "2022-08-31") -> pd.DatetimeIndex:
    days = pd.bdate_range(start, end)
    stamps = [day + pd.Timedelta(hours=9, minutes=30 + 5 * k) for day in days for k in range(BARS_PER_DAY)]
    return pd.DatetimeIndex(stamps, name="time").tz_localize("America/New_York")


def _table(index: pd.DatetimeIndex, seed: int = 0, nan_share: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((len(index), 4))
    y = (X[:, 0] + 0.7 * rng.standard_normal(len(index)) > 0).astype(float)
    y[rng.random(len(index)) < nan_share] = np.nan
    table = pd.DataFrame(X, index=index, columns=FEATURES)
    table["close"] = 4000.0 + np.cumsum(X[:, 1])  # a bar column: never a feature
    table["target_6bar"] = y
    table["target_3bar"] = np.nan  # another target: must not be used as a feature
    return table


FEATURES = ["return_1bar", "rsi_7", "atr_14", "time_of_day"]
MODEL = ModelConfig(num_leaves=7, max_depth=3, learning_rate=0.1, min_data_in_leaf=20, num_boost_round=100,
                    early_stopping_rounds=10, num_threads=1)


def test_walk_forward_splits_expanding_trains_on_all_previous_months() -> None:
    index = _index()
    folds = list(walk_forward_splits(index, WalkForwardConfig(min_train_months=3), horizon_bars=0))
    assert len(folds) == 5  # validate April..August
    months = index.month.to_numpy()
    for k, (train, val) in enumerate(folds):
        assert train[0] == 0
        assert set(months[val]) == {4 + k}
        assert set(months[train]) == set(range(1, 4 + k))
        assert train[-1] + 1 == val[0]  # no purge with a zero horizon


def test_walk_forward_splits_rolling_trains_on_last_months_only() -> None:
    index = _index()
    cfg = WalkForwardConfig(mode="rolling", min_train_months=3, rolling_train_months=2)
    months = index.month.to_numpy()
    for k, (train, val) in enumerate(walk_forward_splits(index, cfg, horizon_bars=0)):
        assert set(months[train]) == {2 + k, 3 + k}
        assert set(months[val]) == {4 + k}


def test_walk_forward_splits_validation_months_step_and_max_folds_keep_latest() -> None:
    index = _index()
    cfg = WalkForwardConfig(min_train_months=2, validation_months=2, max_folds=2)
    months = index.month.to_numpy()
    folds = list(walk_forward_splits(index, cfg, horizon_bars=0))
    assert [sorted(set(months[val])) for _, val in folds] == [[5, 6], [7, 8]]


@pytest.mark.parametrize("horizon", [1, 6, 12])
def test_walk_forward_splits_purge_keeps_only_labels_ending_before_validation(horizon: int) -> None:
    index = _index()
    for train, val in walk_forward_splits(index, WalkForwardConfig(min_train_months=3), horizon_bars=horizon):
        first_val = val[0]
        assert (train + horizon < first_val).all()
        # the label of the last kept row ends on the bar just before validation: nothing more dropped
        assert train[-1] == first_val - horizon - 1
        # in time: every kept label's end bar starts before the first validation bar
        assert (index[train + horizon] < index[first_val]).all()


def test_walk_forward_splits_purge_catches_label_end_measured_bug() -> None:
    # The known bug elsewhere measured the purge from the first validation label's end
    # (first_val + horizon), which keeps every training row: the last `horizon` rows leak.
    index = _index()
    horizon = 6
    train, val = next(walk_forward_splits(index, WalkForwardConfig(min_train_months=3), horizon_bars=horizon))
    leaking = np.arange(val[0] - horizon, val[0])
    buggy_train = np.arange(0, val[0])
    buggy_train = buggy_train[index[buggy_train] < index[min(val[0] + horizon, len(index) - 1)]]
    assert np.isin(leaking, buggy_train).all()  # the bug keeps them ...
    assert not np.isin(leaking, train).any()  # ... the purge drops them


def test_run_walk_forward_purges_by_bar_position_before_dropping_unlabelled_rows() -> None:
    index = _index()
    table = _table(index, nan_share=0.0)
    cfg = WalkForwardConfig(min_train_months=3, max_folds=1)
    _, val = list(walk_forward_splits(index, cfg, horizon_bars=6))[-1]
    first_val = val[0]
    # unlabelled bars right before validation (as at a session's close): counting positions
    # after dropping them would purge too early and keep labelled rows first_val-6..first_val-4
    table.iloc[first_val - 3 : first_val, table.columns.get_loc("target_6bar")] = np.nan
    result = run_walk_forward(table, "target_6bar", MODEL, cfg, early_stopping="validation", features=FEATURES)
    assert result.loc[0, "train_end"] == index[first_val - 7]


def test_run_walk_forward_returns_one_row_per_fold() -> None:
    table = _table(_index())
    result = run_walk_forward(table, "target_6bar", MODEL, WalkForwardConfig(min_train_months=4), features=FEATURES)
    assert list(result.columns) == list(FOLD_COLUMNS)
    assert result["fold"].tolist() == [0, 1, 2, 3]
    assert (result["val_start"] > result["train_end"]).all()
    assert ((result["auc"] > 0.6) & (result["auc"] <= 1)).all()
    assert np.allclose(result["auc_gap"], result["train_auc"] - result["auc"])
    assert (result["best_iteration"] >= 1).all()
    assert (result["n_early_stopping"] > 0).all()
    labelled = table["target_6bar"].notna()
    assert result.loc[0, "n_val"] == int(labelled[table.index.month == 5].sum())


def test_run_walk_forward_reports_progress_after_each_fold() -> None:
    seen = []
    result = run_walk_forward(_table(_index()), "target_6bar", MODEL, WalkForwardConfig(min_train_months=4),
                              features=FEATURES, on_fold=lambda done, total, row: seen.append((done, total, row["fold"])))
    assert seen == [(k + 1, len(result), k) for k in range(len(result))]


def test_run_walk_forward_inner_early_stopping_never_reads_validation_labels() -> None:
    table = _table(_index())
    cfg = WalkForwardConfig(min_train_months=4, max_folds=2)
    shuffled = table.copy()
    in_val = shuffled.index >= pd.Timestamp("2022-08-01", tz="America/New_York")  # the last validation month
    labels = shuffled.loc[in_val, "target_6bar"].to_numpy()
    shuffled.loc[in_val, "target_6bar"] = np.random.default_rng(9).permutation(labels)
    inner = run_walk_forward(table, "target_6bar", MODEL, cfg, features=FEATURES)
    inner_shuffled = run_walk_forward(shuffled, "target_6bar", MODEL, cfg, features=FEATURES)
    assert inner["best_iteration"].tolist() == inner_shuffled["best_iteration"].tolist()
    peeking = run_walk_forward(table, "target_6bar", MODEL, cfg, early_stopping="validation", features=FEATURES)
    peeking_shuffled = run_walk_forward(
        shuffled, "target_6bar", MODEL, cfg, early_stopping="validation", features=FEATURES
    )
    assert peeking["best_iteration"].tolist() != peeking_shuffled["best_iteration"].tolist()  # the test can tell
    assert (peeking["n_early_stopping"] == 0).all()


def test_run_walk_forward_params_override_model() -> None:
    table = _table(_index("2022-01-03", "2022-04-29"))
    cfg = WalkForwardConfig(min_train_months=3)
    overrides = {"num_boost_round": 2, "early_stopping_rounds": 5}
    result = run_walk_forward(table, "target_6bar", MODEL, cfg, params=overrides, features=FEATURES)
    assert result["best_iteration"].max() <= 2


def test_walk_forward_splits_too_few_months_raises() -> None:
    index = _index("2022-01-03", "2022-03-31")
    with pytest.raises(LabError, match=r"needs at least min_train_months \+ validation_months = 12 \+ 1 = 13 months"):
        list(walk_forward_splits(index, WalkForwardConfig(), horizon_bars=6))


def test_walk_forward_splits_unsorted_index_raises() -> None:
    index = _index()[::-1]
    with pytest.raises(LabError, match="sorted index without duplicate timestamps"):
        list(walk_forward_splits(index, WalkForwardConfig(min_train_months=2), horizon_bars=6))


def test_run_walk_forward_inner_needs_two_training_months() -> None:
    table = _table(_index("2022-01-03", "2022-03-31"))
    cfg = WalkForwardConfig(min_train_months=1, mode="rolling", rolling_train_months=1)
    with pytest.raises(LabError, match=r"at least 2 training months: set walk_forward.min_train_months and "
                                       r"rolling_train_months >= 2; walk-forward then needs at least 2 \+ 1 = 3 months"):
        run_walk_forward(table, "target_6bar", MODEL, cfg, features=FEATURES)


def test_run_walk_forward_month_messages_agree_at_the_inner_minimum() -> None:
    # 1 + 1 = 2 months used to pass the month count and then fail on the inner early stop: both now say 3
    table = _table(_index("2022-01-03", "2022-02-28"))
    with pytest.raises(LabError, match=r"needs at least 2 \+ 1 = 3 months"):
        run_walk_forward(table, "target_6bar", MODEL, WalkForwardConfig(min_train_months=1), features=FEATURES)
    with pytest.raises(LabError, match=r"min_train_months \+ validation_months = 2 \+ 1 = 3 months of bars; the table holds 2"):
        run_walk_forward(table, "target_6bar", MODEL, WalkForwardConfig(min_train_months=2), features=FEATURES)


def test_run_walk_forward_default_features_must_be_present() -> None:
    with pytest.raises(LabError, match=r"feature column\(s\) \['return_3bar', .*pass features="):
        run_walk_forward(_table(_index()), "target_6bar", MODEL, WalkForwardConfig(min_train_months=3))


def test_run_walk_forward_unknown_target_raises() -> None:
    with pytest.raises(LabError, match="target 'target_vol' is not a column"):
        cfg = WalkForwardConfig(min_train_months=3)
        run_walk_forward(_table(_index()), "target_vol", MODEL, cfg, features=FEATURES)


def test_describe_folds_counts_purged_bars() -> None:
    folds = describe_folds(_index(), WalkForwardConfig(min_train_months=6), horizon_bars=12)
    assert folds["n_purged"].tolist() == [12, 12]
    assert folds["val_start"].dt.month.tolist() == [7, 8]


def test_fold_auc_figure_draws_one_bar_per_fold(tmp_path) -> None:
    cfg = WalkForwardConfig(min_train_months=5)
    result = run_walk_forward(_table(_index()), "target_6bar", MODEL, cfg, features=FEATURES)
    fig = fold_auc_figure(result)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == len(result)
    fig.savefig(tmp_path / "folds.png")


def test_run_walk_forward_returns_out_of_fold_predictions_on_request():
    from lab.config import ModelConfig, WalkForwardConfig
    from lab.study.walk_forward import run_walk_forward

    rng = np.random.default_rng(1)
    index = pd.date_range("2021-01-04 09:30", periods=24 * 30 * 6, freq="1h", tz="America/New_York")
    table = pd.DataFrame({"x": rng.normal(size=len(index))}, index=index)
    table["target_6bar"] = (table["x"] + rng.normal(size=len(index)) > 0).astype(float)
    collected: list = []
    folds = run_walk_forward(table, "target_6bar", ModelConfig(num_threads=1, min_data_in_leaf=20),
                             WalkForwardConfig(min_train_months=3), features=["x"], predictions=collected)
    pooled = pd.concat(collected)
    assert len(collected) == len(folds) and list(pooled.columns) == ["fold", "label", "probability"]
    assert pooled.groupby("fold").size().tolist() == folds["n_val"].tolist()
    assert pooled["probability"].between(0, 1).all()
