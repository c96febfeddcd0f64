"""Gradient-boosted binary classifiers: LightGBM or XGBoost behind one narrow API.

Pure computation: arrays or DataFrames in, a native booster out. Nothing here imports mlflow;
the caller logs the booster with MLflow's native ``lightgbm`` / ``xgboost`` flavor.

The hyperparameters are those of :class:`lab.config.settings.ModelConfig` (LightGBM names). For XGBoost
they are mapped to the nearest equivalents:

==================  ==================================================================
ModelConfig         XGBoost
==================  ==================================================================
num_leaves          ``max_leaves`` with ``grow_policy="lossguide"`` (leaf-wise, as LightGBM)
max_depth           ``max_depth``
learning_rate       ``eta``
min_data_in_leaf    ``min_child_weight = 0.25 * min_data_in_leaf`` (the logistic hessian
                    p(1-p) is 0.25 at p = 0.5, so a leaf of n balanced rows weighs n/4)
feature_fraction    ``colsample_bytree``
bagging_fraction    ``subsample``
seed, num_threads   ``seed``, ``nthread``
max_bin             ``max_bin`` (of the ``QuantileDMatrix``; LightGBM: of the ``Dataset``)
==================  ==================================================================

Both engines use histogram trees and early stopping on validation AUC. ``bagging_fraction``
takes effect in LightGBM only with ``bagging_freq > 0``; it is set to 1 (re-sample every
round) whenever ``bagging_fraction < 1``.

LightGBM is boosted round by round here rather than through ``lgb.train`` and its callbacks: after
each round the engine's validation AUC goes to :class:`lab.models.early_stopping.EarlyStopping`,
the rule of LightGBM's ``early_stopping`` callback, so the trees, the best round and its AUC are
those ``lgb.train`` gives (tests), without the callback machinery per round.

Examples
--------
>>> import numpy as np
>>> from lab.config import ModelConfig
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((600, 3)); y = (X[:, 0] + rng.standard_normal(600) > 0).astype(float)
>>> data = TrainingData.from_arrays(X[:400], y[:400], X[400:], y[400:])
>>> model = train_classifier(data, ModelConfig(min_data_in_leaf=20, num_threads=1))
>>> p = predict_proba(model.booster, X[400:])
>>> p.shape, bool(0.0 < p.min() <= p.max() < 1.0)
((200,), True)
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from lab.config import ModelConfig
from lab.errors import LabError
from lab.models.early_stopping import EarlyStopping
from lab.models.evaluation import ranking_auc

if TYPE_CHECKING:  # pragma: no cover - annotations only: the engines load when a model is trained
    import lightgbm as lgb
    import xgboost as xgb

__all__ = [
    "ENGINES",
    "TrainingData",
    "TrainedModel",
    "train_classifier",
    "predict_proba",
    "feature_importance",
    "native_params",
    "with_params",
    "grown_config",
]

ENGINES = ("lightgbm", "xgboost")

#: Hyperparameters a tuning trial or a caller may override on a :class:`ModelConfig`.
_TUNABLE = (
    "num_leaves",
    "max_depth",
    "learning_rate",
    "min_data_in_leaf",
    "feature_fraction",
    "bagging_fraction",
    "num_boost_round",
    "early_stopping_rounds",
    "num_threads",
    "seed",
)

#: LightGBM Dataset parameters. ``feature_pre_filter=False`` lets one constructed Dataset
#: serve every ``min_data_in_leaf`` of a grid (LightGBM otherwise refuses to lower it).
_LGB_DATASET_PARAMS = {"feature_pre_filter": False, "verbose": -1}


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Training and validation arrays, with engine datasets built once and reused.

    Build one per grid and pass it to every :func:`train_classifier` call: the LightGBM
    ``Dataset`` (binned features, ``free_raw_data=False``) and the XGBoost ``QuantileDMatrix``
    are constructed on first use and cached, which saves their construction on every trial
    (0.2 s for 70 K x 24 + 18 K rows on 2 threads; see ``benchmarks/bench_training.py``).

    Other processes of one search share the binned LightGBM datasets: :meth:`share_lightgbm`
    writes them once as LightGBM binary files; a copy of this object pickled to a worker process
    carries their paths and loads them (0.03 s of CPU instead of 0.4 s of binning on one thread, on
    the default data): the same bins, the same models (tested).

    Use :meth:`from_arrays`; the constructor does not validate.

    Attributes
    ----------
    X_train, X_val : ndarray of float64, shape (n_rows, n_features)
    y_train, y_val : ndarray of float64, shape (n_rows,), values 0.0 / 1.0
    feature_names : tuple of str
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    feature_names: tuple[str, ...]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _shared: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the engine datasets (native handles); the shared files' paths travel."""
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_arrays(
        cls,
        X_train: pd.DataFrame | np.ndarray,
        y_train: pd.Series | np.ndarray,
        X_val: pd.DataFrame | np.ndarray,
        y_val: pd.Series | np.ndarray,
        feature_names: Sequence[str] | None = None,
    ) -> "TrainingData":
        """Validate and wrap training and validation data.

        Parameters
        ----------
        X_train, X_val : DataFrame or ndarray, shape (n_rows, n_features)
            Features; NaN allowed (trees route missing values). Same columns in both.
        y_train, y_val : Series or ndarray, shape (n_rows,)
            Binary labels 0/1 (float or int); no NaN: drop unlabelled rows first.
        feature_names : sequence of str, optional
            Default: the DataFrame's columns, else ``f0, f1, ...``.

        Raises
        ------
        LabError
            Shapes disagree, a label is NaN or not 0/1, or a label set holds a single class
            (AUC, and so early stopping, is undefined).
        """
        if feature_names is None:
            feature_names = (
                [str(c) for c in X_train.columns]
                if isinstance(X_train, pd.DataFrame)
                else [f"f{i}" for i in range(np.shape(X_train)[1])]
            )
        names = tuple(feature_names)
        arrays = []
        for role, X, y in (("train", X_train, y_train), ("validation", X_val, y_val)):
            X_arr = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
            y_arr = np.asarray(y, dtype=np.float64).ravel()
            if X_arr.ndim != 2 or X_arr.shape[1] != len(names):
                raise LabError(
                    f"{role} features have shape {X_arr.shape}; expected (n_rows, {len(names)}) "
                    f"for features {list(names)[:4]}..."
                )
            if X_arr.shape[0] != y_arr.shape[0]:
                raise LabError(f"{role} has {X_arr.shape[0]} feature rows but {y_arr.shape[0]} labels")
            _check_labels(y_arr, role)
            arrays += [X_arr, y_arr]
        return cls(arrays[0], arrays[1], arrays[2], arrays[3], names)

    def lightgbm_datasets(self, num_threads: int = 0, max_bin: int = 255) -> tuple[lgb.Dataset, lgb.Dataset]:
        """The cached, constructed LightGBM ``(train, validation)`` Datasets (``max_bin`` bins per feature)."""
        import lightgbm as lgb  # heavy: the boosting library

        key = ("lightgbm", max_bin)
        if key not in self._cache:
            params = dict(_LGB_DATASET_PARAMS, num_threads=num_threads, max_bin=max_bin)
            if key in self._shared:  # binned once by the process that shared them
                train_file, val_file = self._shared[key]
                train = lgb.Dataset(train_file, params=params)
                val = lgb.Dataset(val_file, reference=train, params=params)
            else:
                train = lgb.Dataset(
                    self.X_train, self.y_train, feature_name=list(self.feature_names), free_raw_data=False,
                    params=params,
                )
                val = lgb.Dataset(self.X_val, self.y_val, reference=train, free_raw_data=False, params=params)
            train.construct()
            val.construct()
            self._cache[key] = (train, val)
        return self._cache[key]

    def share_lightgbm(self, folder: str | os.PathLike, num_threads: int = 0, max_bin: int = 255) -> None:
        """Write the binned LightGBM datasets to ``folder`` (``train-<bins>.bin``, ``validation-<bins>.bin``)
        for the processes this object is pickled to; the folder must outlive them."""
        train, val = self.lightgbm_datasets(num_threads, max_bin)
        paths = (os.path.join(folder, f"train-{max_bin}.bin"), os.path.join(folder, f"validation-{max_bin}.bin"))
        for dataset, path in zip((train, val), paths):
            if os.path.exists(path):
                os.remove(path)  # LightGBM refuses to overwrite
            dataset.save_binary(path)
        self._shared[("lightgbm", max_bin)] = paths

    def xgboost_matrices(self, num_threads: int = 0, max_bin: int = 256) -> tuple[xgb.DMatrix, xgb.DMatrix]:
        """The cached XGBoost ``(train, validation)`` quantile matrices (``max_bin`` bins per feature)."""
        import xgboost as xgb  # heavy: the boosting library

        key = ("xgboost", max_bin)
        if key not in self._cache:
            nthread = num_threads or (os.cpu_count() or 1)
            names = list(self.feature_names)
            train = xgb.QuantileDMatrix(self.X_train, self.y_train, feature_names=names, nthread=nthread, max_bin=max_bin)
            val = xgb.QuantileDMatrix(self.X_val, self.y_val, feature_names=names, ref=train, nthread=nthread,
                                      max_bin=max_bin)
            self._cache[key] = (train, val)
        return self._cache[key]


@dataclass(frozen=True)
class TrainedModel:
    """A fitted classifier.

    Attributes
    ----------
    engine : str
        ``"lightgbm"`` or ``"xgboost"``.
    booster : lightgbm.Booster or xgboost.Booster
        The native booster, ready for ``mlflow.lightgbm`` / ``mlflow.xgboost`` logging, holding
        only the trees up to the best iteration (LightGBM trims itself when training ends; the
        XGBoost booster is sliced), so any loader predicts as :func:`predict_proba` does.
    best_iteration : int
        Boosting rounds kept (1-based count of trees per class) at the best validation AUC.
    best_validation_auc : float
        The validation AUC at ``best_iteration``: the value of the engine's ``auc`` metric (LightGBM's
        computed by :func:`lab.models.evaluation.ranking_auc` from its running scores).
    params : dict
        The native parameters passed to the engine.
    feature_names : tuple of str
    fit_seconds : float
        Wall-clock training time in seconds (excluding cached dataset construction).
    """

    engine: str
    booster: lgb.Booster | xgb.Booster
    best_iteration: int
    best_validation_auc: float
    params: dict[str, Any]
    feature_names: tuple[str, ...]
    fit_seconds: float


def with_params(config: ModelConfig, params: Mapping[str, Any] | None = None) -> ModelConfig:
    """A copy of ``config`` with hyperparameters overridden, e.g. a tuning trial's ``params``.

    Raises
    ------
    LabError
        A key is not a tunable :class:`ModelConfig` field.
    """
    if not params:
        return config
    unknown = sorted(set(params) - set(_TUNABLE) - {"engine"})
    if unknown:
        raise LabError(f"unknown model parameter(s) {unknown}; valid: {', '.join(_TUNABLE)}")
    return dataclasses.replace(config, **dict(params))


def grown_config(config: ModelConfig) -> ModelConfig:
    """``config`` as the trees can actually grow it: ``num_leaves`` capped at ``2 ** max_depth``.

    Both engines grow trees leaf by leaf up to ``num_leaves`` leaves and never deeper than
    ``max_depth`` (a depth-4 tree has at most 16 leaves), so two configurations with the same
    grown config train the same model from the same data and seed: the plan's grid holds 9
    such pairs (``num_leaves`` 31 and 63 at ``max_depth`` 4). ``max_depth <= 0`` is no cap.
    """
    if config.max_depth <= 0 or config.num_leaves <= 2 ** config.max_depth:
        return config
    return dataclasses.replace(config, num_leaves=2 ** config.max_depth)


def native_params(config: ModelConfig) -> dict[str, Any]:
    """The engine-native parameter dict for ``config`` (see the module table for the mapping)."""
    if config.engine == "lightgbm":
        params: dict[str, Any] = {
            "objective": "binary",
            "metric": "auc",
            "num_leaves": config.num_leaves,
            "max_depth": config.max_depth,
            "learning_rate": config.learning_rate,
            "min_data_in_leaf": config.min_data_in_leaf,
            "feature_fraction": config.feature_fraction,
            "bagging_fraction": config.bagging_fraction,
            "bagging_freq": 1 if config.bagging_fraction < 1.0 else 0,
            "seed": config.seed,
            "num_threads": config.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "max_bin": config.max_bin,
            "verbose": -1,
        }
        return params
    if config.engine == "xgboost":
        return {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "tree_method": "hist",
            "grow_policy": "lossguide",
            "max_leaves": config.num_leaves,
            "max_depth": config.max_depth,
            "eta": config.learning_rate,
            "min_child_weight": 0.25 * config.min_data_in_leaf,
            "colsample_bytree": config.feature_fraction,
            "subsample": config.bagging_fraction,
            "max_bin": config.max_bin,
            "seed": config.seed,
            "nthread": config.num_threads or (os.cpu_count() or 1),
            "verbosity": 0,
        }
    raise LabError(f"model.engine = {config.engine!r} is not one of {', '.join(ENGINES)}")


def train_classifier(data: TrainingData, config: ModelConfig) -> TrainedModel:
    """Fit a binary classifier with early stopping on validation AUC.

    Parameters
    ----------
    data : TrainingData
        Training and validation sets (:meth:`TrainingData.from_arrays`); reuse one object
        across calls to reuse its engine datasets.
    config : ModelConfig
        Engine and hyperparameters; ``num_boost_round`` caps the rounds,
        ``early_stopping_rounds`` (rounds without a validation-AUC gain of more than
        ``early_stopping_min_delta``) stops earlier.
        ``num_threads = 0`` uses every core. Same seed, threads and data give the same model.

    Returns
    -------
    TrainedModel

    Raises
    ------
    LabError
        Unknown engine.
    """
    params = native_params(config)
    start = time.perf_counter()
    if config.engine == "lightgbm":
        import lightgbm as lgb  # heavy: the boosting library

        train_set, val_set = data.lightgbm_datasets(config.num_threads, config.max_bin)
        start = time.perf_counter()
        # num_iterations as lgb.train records it: the saved model's parameter block is the same too
        booster, best, best_auc = _boost_lightgbm(lgb.Booster(dict(params, num_iterations=config.num_boost_round),
                                                              train_set),
                                                  val_set, config.num_boost_round, config.early_stopping_rounds,
                                                  config.early_stopping_min_delta)
    else:
        import xgboost as xgb  # heavy: the boosting library

        dtrain, dval = data.xgboost_matrices(config.num_threads, config.max_bin)
        start = time.perf_counter()
        stop = xgb.callback.EarlyStopping(rounds=config.early_stopping_rounds, metric_name="auc",
                                          data_name="validation", maximize=True,
                                          min_delta=config.early_stopping_min_delta)
        full = xgb.train(params, dtrain, num_boost_round=config.num_boost_round, evals=[(dval, "validation")],
                         callbacks=[stop], verbose_eval=False)
        best = int(full.best_iteration) + 1
        best_auc = float(full.best_score)
        booster = full[:best]  # slice: every consumer (and the MLflow flavor) sees the best rounds
        booster.set_attr(best_iteration=str(best - 1), best_score=str(best_auc))
    return TrainedModel(
        engine=config.engine,
        booster=booster,
        best_iteration=best,
        best_validation_auc=best_auc,
        params=params,
        feature_names=data.feature_names,
        fit_seconds=time.perf_counter() - start,
    )


def _boost_lightgbm(booster: lgb.Booster, val_set: lgb.Dataset, rounds: int,
                    patience: int, min_delta: float = 0.0) -> tuple[lgb.Booster, int, float]:
    """Boost until :class:`EarlyStopping` says stop: the booster trimmed to the best round, that round
    and its validation AUC (the value of the engine's ``auc`` metric, :func:`_running_validation_auc`)."""
    booster.add_valid(val_set, "validation")
    rule = EarlyStopping(patience, rounds, min_delta)
    validation_auc = _running_validation_auc(booster, val_set)
    for round_ in range(1, rounds + 1):
        booster.update()
        if rule.update(round_, validation_auc()):
            break
    booster.best_iteration = rule.best_round
    # as lgb.train ends (keep_training_booster=False): the model re-read from its text, which holds
    # the trees up to the best iteration only, and the training data released
    booster.model_from_string(booster.model_to_string()).free_dataset()
    booster.best_iteration = rule.best_round
    booster.best_score = {"validation": {"auc": rule.best_score}}
    return booster, rule.best_round, rule.best_score


def _running_validation_auc(booster: lgb.Booster, val_set: lgb.Dataset) -> Callable[[], float]:
    """The validation AUC of the booster's current round, from the engine's running validation scores.

    The same Mann-Whitney value as LightGBM's ``auc`` metric (:func:`lab.models.evaluation.ranking_auc`;
    the trees, best rounds and AUCs equal ``lgb.train``'s, tested) at about two thirds of its cost: the
    scores the engine keeps for its first validation set are copied out (``LGBM_BoosterGetPredict``,
    0.6 ms for 18 K rows) and ranked with NumPy's sort, where the engine's metric sorts more slowly
    (1.2-1.6 ms). Falls back to the engine's metric if this LightGBM lacks that entry point.
    """
    try:
        from lightgbm.basic import _LIB, _safe_call  # the C API the Python package itself calls
    except ImportError:  # pragma: no cover - another LightGBM layout
        return lambda: float(booster.eval_valid()[0][2])
    positive = np.asarray(val_set.get_label()) > 0
    scores = np.empty(len(positive), dtype=np.float64)
    length = ctypes.c_int64(0)
    out = scores.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

    def current() -> float:
        _safe_call(_LIB.LGBM_BoosterGetPredict(booster._handle, ctypes.c_int(1), ctypes.byref(length), out))  # noqa: SLF001
        if length.value != scores.size:  # one score a row for a binary objective; anything else is not ours to rank
            raise LabError(f"LightGBM returned {length.value} validation scores for {scores.size} rows")
        return ranking_auc(scores, positive)

    return current


def predict_proba(booster: lgb.Booster | xgb.Booster, X: pd.DataFrame | np.ndarray) -> np.ndarray:
    """P(class 1) for each row, using the booster's best iteration.

    Parameters
    ----------
    booster : lightgbm.Booster or xgboost.Booster
        As returned in :attr:`TrainedModel.booster` (or loaded back from MLflow).
    X : DataFrame or ndarray, shape (n_rows, n_features)
        Columns in the training order.

    Returns
    -------
    ndarray of float64, shape (n_rows,)
        Probabilities in (0, 1).
    """
    X_arr = np.asarray(X, dtype=np.float64)
    engine = _engine_of(booster)
    if engine == "lightgbm":
        best = booster.best_iteration if booster.best_iteration > 0 else None
        return np.asarray(booster.predict(X_arr, num_iteration=best), dtype=np.float64)
    if engine == "xgboost":
        import xgboost as xgb  # heavy: the boosting library

        rounds = booster.num_boosted_rounds()
        attr = booster.attr("best_iteration")
        end = min(int(attr) + 1, rounds) if attr is not None else rounds
        matrix = xgb.DMatrix(X_arr, feature_names=booster.feature_names)
        return np.asarray(booster.predict(matrix, iteration_range=(0, end)), dtype=np.float64)
    raise LabError(f"predict_proba needs a lightgbm.Booster or xgboost.Booster, got {type(booster).__name__}")


def _engine_of(booster: Any) -> str:
    """``lightgbm`` or ``xgboost`` for their ``Booster`` (without importing the other library), else ``""``."""
    kind = type(booster)
    if kind.__name__ == "Booster" and kind.__module__.split(".")[0] in ENGINES:
        return kind.__module__.split(".")[0]
    return ""


def feature_importance(booster: lgb.Booster | xgb.Booster) -> pd.DataFrame:
    """Total gain and split count per feature, sorted by gain (descending).

    Returns
    -------
    DataFrame
        Columns ``feature`` (str), ``gain`` (float, total loss reduction over the best
        iteration's trees), ``split`` (int, times the feature was used to split). Features
        never used appear with 0.
    """
    engine = _engine_of(booster)
    if engine == "lightgbm":
        names = booster.feature_name()
        best = booster.best_iteration if booster.best_iteration > 0 else None
        gain = booster.feature_importance("gain", iteration=best)
        split = booster.feature_importance("split", iteration=best)
    elif engine == "xgboost":
        names = list(booster.feature_names or [f"f{i}" for i in range(booster.num_features())])
        total_gain = booster.get_score(importance_type="total_gain")
        weight = booster.get_score(importance_type="weight")
        gain = [float(total_gain.get(n, 0.0)) for n in names]
        split = [int(weight.get(n, 0)) for n in names]
    else:
        raise LabError(f"feature_importance needs a lightgbm.Booster or xgboost.Booster, got {type(booster).__name__}")
    table = pd.DataFrame(
        {"feature": list(names), "gain": np.asarray(gain, dtype=np.float64), "split": np.asarray(split, dtype=np.int64)}
    )
    return table.sort_values(["gain", "split"], ascending=False, kind="stable").reset_index(drop=True)


def _check_labels(y: np.ndarray, role: str) -> None:
    if y.size == 0:
        raise LabError(f"{role} set is empty; widen the {role} window")
    if np.isnan(y).any():
        raise LabError(
            f"{role} labels hold {int(np.isnan(y).sum())} NaN values; drop unlabelled rows "
            "(NaN target) before training"
        )
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise LabError(f"{role} labels must be 0 or 1; found {float(y[bad][0])!r}")
    classes = np.unique(y)
    if classes.size < 2:
        raise LabError(
            f"{role} labels hold a single class ({int(classes[0])}, {y.size} rows): AUC and early "
            f"stopping are undefined; widen the {role} window or choose another target"
        )
