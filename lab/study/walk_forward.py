"""Monthly walk-forward validation with a label-horizon purge.

A fold trains on whole calendar months and validates on the month(s) after them:

* ``expanding``: train on months 1..N, validate on N+1..N+v (then 1..N+v, validate on the
  next v months, ...);
* ``rolling``: train on the last ``rolling_train_months`` months only.

Months are calendar months of the index's own time zone (America/New_York in the lab) that
hold at least one bar. The first fold validates right after ``min_train_months`` months; each
fold moves on by ``validation_months``; ``max_folds > 0`` keeps only the *last* ``max_folds``
folds (the most recent, with the longest training spans), as scikit-learn's
``TimeSeriesSplit`` does.

Purge. The label of bar ``i`` is known only at bar ``i + horizon_bars``. A training row is
kept only if its label ends before validation starts: ``i + horizon_bars < v0``, where ``v0``
is the position of the first validation bar. Positions are counted over the *full* bar table
(every bar, labelled or not), so drop unlabelled rows only after splitting: dropping them first
shrinks the distance in positions and lets labels leak across the boundary. No embargo is
needed after validation: an expanding or rolling fold never trains on bars after its
validation window.

.. warning::
   Look-ahead. Early-stopping on the validation fold itself picks the number of trees with the
   fold's own labels, so that fold's AUC is optimistic. :func:`run_walk_forward` therefore
   early-stops on the last training month (purged from the rows it fits on) by default.

Examples
--------
Daily bars at 10:00 from January to June 2022, three months minimum training, one-month
validation, a 2-bar label horizon:

>>> import pandas as pd
>>> from lab.config import WalkForwardConfig
>>> index = pd.date_range("2022-01-03 10:00", "2022-06-30 10:00", freq="B", tz="America/New_York")
>>> folds = describe_folds(index, WalkForwardConfig(min_train_months=3), horizon_bars=2)
>>> for f in folds.itertuples():
...     print(f.fold, f.train_start.date(), f.train_end.date(), f.val_start.date(), f.val_end.date(),
...           f.n_train, f.n_val, f.n_purged)
0 2022-01-03 2022-03-29 2022-04-01 2022-04-29 62 21 2
1 2022-01-03 2022-04-27 2022-05-02 2022-05-31 83 22 2
2 2022-01-03 2022-05-27 2022-06-01 2022-06-30 105 22 2

Rolling, two months of training, only the last two folds:

>>> cfg = WalkForwardConfig(mode="rolling", min_train_months=3, rolling_train_months=2, max_folds=2)
>>> for f in describe_folds(index, cfg, horizon_bars=2).itertuples():
...     print(f.fold, f.train_start.date(), f.train_end.date(), f.val_start.date(), f.val_end.date())
0 2022-03-01 2022-04-27 2022-05-02 2022-05-31
1 2022-04-01 2022-05-27 2022-06-01 2022-06-30
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from lab.config import ModelConfig, WalkForwardConfig
from lab.errors import LabError
from lab.models.evaluation import classification_metrics, roc_auc
from lab.features.core import FEATURE_NAMES
from lab.models.boosters import TrainingData, predict_proba, train_classifier, with_params
from lab.features.targets import target_horizon_bars

__all__ = [
    "FOLD_COLUMNS",
    "walk_forward_splits",
    "describe_folds",
    "run_walk_forward",
]

#: Columns of :func:`run_walk_forward`'s result, in order.
FOLD_COLUMNS = (
    "fold",
    "train_start",
    "train_end",
    "val_start",
    "val_end",
    "n_train",
    "n_val",
    "auc",
    "accuracy",
    "log_loss",
    "brier_score",
    "ece",
    "train_auc",
    "auc_gap",
    "best_iteration",
    "n_early_stopping",
)

def walk_forward_splits(
    index: pd.DatetimeIndex, config: WalkForwardConfig, horizon_bars: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_idx, val_idx)`` positional arrays, one pair per monthly fold.

    Parameters
    ----------
    index : DatetimeIndex
        The full bar table's index (every bar, labelled or not), sorted and unique; months are
        taken in its time zone.
    config : WalkForwardConfig
        ``mode`` (``expanding`` or ``rolling``), ``min_train_months`` (months before the first
        validation), ``rolling_train_months`` (training span in rolling mode),
        ``validation_months`` (months per validation window and step between folds),
        ``max_folds`` (0: all; else the last ``max_folds`` folds).
    horizon_bars : int
        Label horizon in bars (>= 0); training position ``i`` is kept only if
        ``i + horizon_bars`` is before the first validation position.

    Yields
    ------
    train_idx, val_idx : ndarray of int64
        Increasing positions into ``index``; every ``train_idx`` precedes every ``val_idx``.

    Raises
    ------
    LabError
        The index is unsorted or has duplicates, the horizon is negative, or it spans fewer
        months than ``min_train_months + validation_months``.
    """
    for fold in _fold_bounds(index, config, horizon_bars):
        yield np.arange(fold["train_first"], fold["train_stop"]), np.arange(fold["val_first"], fold["val_stop"])


def describe_folds(index: pd.DatetimeIndex, config: WalkForwardConfig, horizon_bars: int) -> pd.DataFrame:
    """The folds of :func:`walk_forward_splits` as a table (one row per fold).

    Returns
    -------
    DataFrame
        ``fold``, ``train_start``, ``train_end``, ``val_start``, ``val_end`` (bar start
        timestamps of the first and last row), ``n_train``, ``n_val`` (bars, after the purge),
        ``n_purged`` (training bars dropped by the purge).
    """
    rows = []
    for k, fold in enumerate(_fold_bounds(index, config, horizon_bars)):
        rows.append(
            {
                "fold": k,
                "train_start": index[fold["train_first"]],
                "train_end": index[fold["train_stop"] - 1],
                "val_start": index[fold["val_first"]],
                "val_end": index[fold["val_stop"] - 1],
                "n_train": fold["train_stop"] - fold["train_first"],
                "n_val": fold["val_stop"] - fold["val_first"],
                "n_purged": fold["val_first"] - fold["train_stop"],
            }
        )
    return pd.DataFrame(rows)


#: Training months a fold needs under ``early_stopping="inner"``: one to fit, the last to stop on.
INNER_MIN_TRAIN_MONTHS = 2


def run_walk_forward(
    table: pd.DataFrame,
    target: str,
    model: ModelConfig,
    walk_forward: WalkForwardConfig,
    *,
    params: Mapping[str, Any] | None = None,
    horizon_bars: int | None = None,
    features: Sequence[str] | None = None,
    early_stopping: str = "inner",
    predictions: list | None = None,
    on_fold: Callable[[int, int, Mapping[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Train and evaluate one model per monthly fold.

    Parameters
    ----------
    table : DataFrame
        Feature table: tz-aware DatetimeIndex of 5-minute bar starts (every bar of the window,
        including unlabelled ones), feature columns and the ``target`` column (0/1, NaN where
        unlabelled).
    target : str
        Target column, e.g. ``"target_6bar"``. Rows with NaN target are dropped per fold,
        after the purge.
    model : ModelConfig
        Engine and hyperparameters (``model.engine`` picks LightGBM or XGBoost).
    walk_forward : WalkForwardConfig
        Fold layout (see :func:`walk_forward_splits`).
    params : mapping, optional
        Hyperparameter overrides, e.g. the best tuning trial's ``params``.
    horizon_bars : int, optional
        Purge length in bars. Default: :func:`lab.features.targets.target_horizon_bars` of ``target``.
    features : sequence of str, optional
        Feature columns. Default: the 24 of :data:`lab.features.core.FEATURE_NAMES` (the table's
        bar columns such as ``open`` or ``session`` are never features).
    early_stopping : {"inner", "validation"}, default "inner"
        ``inner``: early-stop on the fold's last training month (itself purged from the rows
        fitted on), leaving the validation month unseen. ``validation``: early-stop on the
        validation fold, as tuning does: its AUC is then optimistic.
    predictions : list, optional
        When given, one DataFrame per fold is appended: the validation rows' ``time`` (index),
        ``fold``, ``label`` and out-of-fold ``probability`` (for a pooled reliability diagram).
    on_fold : callable, optional
        Called after each fold as ``on_fold(done, total, row)`` (``row`` is the fold's result):
        progress for a terminal or a log.

    Returns
    -------
    DataFrame
        One row per fold, columns :data:`FOLD_COLUMNS`: ``train_start``/``train_end``/
        ``n_train`` cover every labelled training row after the purge (including the
        ``n_early_stopping`` rows of an inner early-stopping month), ``val_*`` the labelled
        validation rows; metrics as :func:`lab.models.evaluation.classification_metrics`;
        ``train_auc`` on the rows fitted on; ``auc_gap = train_auc - auc``;
        ``best_iteration`` (trees kept).

    Raises
    ------
    LabError
        Unknown target or feature columns, too few months, a fold with a single class, or
        ``early_stopping="inner"`` with fewer than two training months.
    """
    if early_stopping not in ("inner", "validation"):
        raise LabError(f"early_stopping = {early_stopping!r} is not one of inner, validation")
    shortest = min(walk_forward.min_train_months,
                   walk_forward.rolling_train_months if walk_forward.mode == "rolling" else walk_forward.min_train_months)
    if early_stopping == "inner" and shortest < INNER_MIN_TRAIN_MONTHS:
        need = INNER_MIN_TRAIN_MONTHS + walk_forward.validation_months
        raise LabError(
            f"early_stopping='inner' stops each fold on its last training month, so a fold needs at least "
            f"{INNER_MIN_TRAIN_MONTHS} training months: set walk_forward.min_train_months"
            + (" and rolling_train_months" if walk_forward.mode == "rolling" else "")
            + f" >= {INNER_MIN_TRAIN_MONTHS}; walk-forward then needs at least {INNER_MIN_TRAIN_MONTHS} + "
            f"{walk_forward.validation_months} = {need} months of bars")
    if target not in table.columns:
        raise LabError(f"target {target!r} is not a column of the feature table; columns: {list(table.columns)}")
    features = list(features) if features is not None else list(FEATURE_NAMES)
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise LabError(
            f"feature column(s) {missing} are not in the feature table; pass features= with the columns to use"
        )
    if horizon_bars is None:
        horizon_bars = target_horizon_bars(target)
    config = with_params(model, params)
    X = table[features].to_numpy(dtype=np.float64)
    y = table[target].to_numpy(dtype=np.float64)
    labelled = ~np.isnan(y)
    month = _month_keys(table.index)
    rows = []
    total = len(_fold_bounds(table.index, walk_forward, horizon_bars))
    for k, (train_idx, val_idx) in enumerate(walk_forward_splits(table.index, walk_forward, horizon_bars)):
        if early_stopping == "inner":
            last_month = month[train_idx[-1]]
            es_first = int(train_idx[np.searchsorted(month[train_idx], last_month)])
            if es_first == train_idx[0]:
                raise LabError(
                    f"fold {k}: early_stopping='inner' needs at least two training months; raise "
                    "walk_forward.min_train_months or rolling_train_months"
                )
            fit_idx = train_idx[train_idx + horizon_bars < es_first]
            es_idx = train_idx[train_idx >= es_first]
        else:
            fit_idx, es_idx = train_idx, val_idx
        fit_idx, es_idx = fit_idx[labelled[fit_idx]], es_idx[labelled[es_idx]]
        used_train = train_idx[labelled[train_idx]]
        val_idx = val_idx[labelled[val_idx]]
        if min(fit_idx.size, es_idx.size, val_idx.size) == 0:
            raise LabError(
                f"fold {k} ({table.index[train_idx[0]]:%Y-%m}..{table.index[train_idx[-1]]:%Y-%m}) has no labelled "
                f"rows to fit ({fit_idx.size}), early-stop ({es_idx.size}) or validate ({val_idx.size}) on"
            )
        try:
            data = TrainingData.from_arrays(X[fit_idx], y[fit_idx], X[es_idx], y[es_idx], feature_names=features)
            fitted = train_classifier(data, config)
            probability = predict_proba(fitted.booster, X[val_idx])
            metrics = classification_metrics(y[val_idx], probability)
            train_auc = roc_auc(y[fit_idx], predict_proba(fitted.booster, X[fit_idx]))
        except LabError as exc:
            raise LabError(f"fold {k} (validation from {table.index[val_idx[0]]:%Y-%m-%d}): {exc}") from None
        if predictions is not None:
            predictions.append(pd.DataFrame({"fold": k, "label": y[val_idx], "probability": probability},
                                            index=table.index[val_idx]))
        rows.append(
            {
                "fold": k,
                "train_start": table.index[used_train[0]],
                "train_end": table.index[used_train[-1]],
                "val_start": table.index[val_idx[0]],
                "val_end": table.index[val_idx[-1]],
                "n_train": int(used_train.size),
                "n_val": int(val_idx.size),
                **metrics,
                "train_auc": train_auc,
                "auc_gap": train_auc - metrics["auc"],
                "best_iteration": fitted.best_iteration,
                "n_early_stopping": int(es_idx.size) if early_stopping == "inner" else 0,
            }
        )
        if on_fold is not None:
            on_fold(k + 1, total, rows[-1])
    return pd.DataFrame(rows, columns=list(FOLD_COLUMNS))


def _month_keys(index: pd.DatetimeIndex) -> np.ndarray:
    return (index.year.to_numpy(np.int64) * 12 + index.month.to_numpy(np.int64) - 1).astype(np.int64)


def _fold_bounds(index: pd.DatetimeIndex, config: WalkForwardConfig, horizon_bars: int) -> list[dict[str, int]]:
    if not isinstance(index, pd.DatetimeIndex):
        raise LabError(f"walk-forward needs a DatetimeIndex, got {type(index).__name__}")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise LabError("walk-forward needs a sorted index without duplicate timestamps; sort and deduplicate the table")
    if int(horizon_bars) != horizon_bars or horizon_bars < 0:
        raise LabError(f"horizon_bars = {horizon_bars!r} must be a whole number of bars >= 0")
    if config.mode not in ("expanding", "rolling"):
        raise LabError(f"walk_forward.mode = {config.mode!r} is not one of expanding, rolling")
    month = _month_keys(index)
    months, starts = np.unique(month, return_index=True)
    bounds = np.append(starts, len(index))  # bounds[m] .. bounds[m + 1]: positions of month m
    need = config.min_train_months + config.validation_months
    if months.size < need:
        span = f"{index[0]:%Y-%m}..{index[-1]:%Y-%m}" if len(index) else "no rows"
        raise LabError(
            f"walk-forward needs at least min_train_months + validation_months = {config.min_train_months} + "
            f"{config.validation_months} = {need} months of bars; the table holds {months.size} ({span}). "
            "Lower walk_forward.min_train_months or use a longer window"
        )
    folds = []
    step = config.validation_months
    for first_val in range(config.min_train_months, months.size - step + 1, step):
        first_train = 0 if config.mode == "expanding" else max(0, first_val - config.rolling_train_months)
        val_first = int(bounds[first_val])
        train_stop = max(int(bounds[first_train]), val_first - int(horizon_bars))  # keep i + h < val_first
        if train_stop <= bounds[first_train]:
            raise LabError(
                f"the purge of {horizon_bars} bars removes every training bar before {index[val_first]:%Y-%m-%d}; "
                "lower the horizon or train on more months"
            )
        folds.append(
            {
                "train_first": int(bounds[first_train]),
                "train_stop": train_stop,
                "val_first": val_first,
                "val_stop": int(bounds[first_val + config.validation_months]),
            }
        )
    if config.max_folds > 0:
        folds = folds[-config.max_folds :]
    return folds
