"""User feature functions named in ``[features] custom``: load, fingerprint, call and check them.

The contract of a custom feature function (``"package.module:function"`` in ``lab.toml``)::

    def my_features(bars: pandas.DataFrame) -> pandas.DataFrame | pandas.Series: ...

It **receives** one DataFrame, a fresh copy it may modify: one row per regular-session 5-minute
bar, indexed by the bar's start time (ET, tz-aware, ascending), with the bar columns ``open``,
``high``, ``low``, ``close`` (points), ``volume`` (contracts), ``session`` (the session's date),
``session_open`` / ``session_close`` (that session's open and close times, known in advance from
the exchange calendar), and every built-in feature column: the 24 core features of
:data:`lab.features.core.FEATURE_NAMES` and the breakout and mean-reversion sets of
:mod:`lab.strategy_features`. No target and no other custom function's output is in it. The
first rows are the file's first bars: indicators still warm up there (NaN is fine).

It **returns** a Series (its ``name`` is the column name) or a DataFrame of numeric columns with
the *same index* as ``bars`` (same rows, same order) and new, unique column names (not a bar,
built-in feature, target or other custom column). Values become float64; +-inf becomes NaN; NaN
is allowed (e.g. warm-up), LightGBM and XGBoost treat it as missing.

The value at bar *t* may use bar *t* (complete at its close, when the signal is taken) and earlier
bars only. Featurize checks this (:mod:`lab.leak_audit`) and refuses a function that looks ahead:
no ``shift(-k)``, no centred windows, no statistics of the whole series (mean, quantiles, ranks
over all rows).

The source of the module holding each function is part of the dataset digest, so editing it
rebuilds the tables. Code it imports from *other* modules is not fingerprinted: keep a feature's
logic in its own module or rebuild with ``--force`` after changing a helper. Custom columns join
the models' inputs after the core and optional sets, in the order of ``[features] custom``.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from lab.config.settings import CUSTOM_ENTRY_HOW, check_custom_entry
from lab.errors import ConfigError, DataError

__all__ = ["CustomFeature", "check_entry", "load_custom_features", "custom_sources_digest", "compute_custom_features"]

_HOW = CUSTOM_ENTRY_HOW


def check_entry(entry: Any) -> None:
    """Raise :class:`ConfigError` unless ``entry`` reads ``"package.module:function"``."""
    check_custom_entry(entry)


@dataclass(frozen=True)
class CustomFeature:
    """One loaded ``[features] custom`` entry."""

    entry: str
    function: Callable[[pd.DataFrame], Any]
    source_sha256: str  # of the module's source text (16 hex)


def load_custom_features(entries: Sequence[str]) -> list[CustomFeature]:
    """Import every entry's module and function, fingerprinting the module's source.

    Raises
    ------
    ConfigError
        An entry is malformed, its module cannot be imported (the import error is quoted), the
        module has no such attribute, the attribute is not callable, or its source is unreadable.
    """
    loaded = []
    for entry in entries:
        check_entry(entry)
        module_name, function_name = entry.split(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any failure while importing user code is a configuration problem
            raise ConfigError(
                f"[features] custom entry {entry!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc}); "
                "put the module on the Python path (e.g. a package in the project directory, where the lab runs) "
                "and fix the error it raises"
            ) from exc
        function = getattr(module, function_name, None)
        if function is None:
            raise ConfigError(f"[features] custom entry {entry!r}: module {module_name!r} "
                              f"({getattr(module, '__file__', '?')}) has no function {function_name!r}; {_HOW}")
        if not callable(function):
            raise ConfigError(f"[features] custom entry {entry!r}: {function_name!r} is a "
                              f"{type(function).__name__}, not a function of the bars table")
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError) as exc:
            raise ConfigError(f"[features] custom entry {entry!r}: the source of module {module_name!r} cannot be "
                              f"read ({exc}); the dataset digest needs it: use a module in a .py file") from exc
        loaded.append(CustomFeature(entry, function, hashlib.sha256(source.encode()).hexdigest()[:16]))
    return loaded


def custom_sources_digest(entries: Sequence[str]) -> dict[str, str]:
    """``{entry: SHA-256 (16 hex) of its module's source}``: the custom part of the dataset digest."""
    return {feature.entry: feature.source_sha256 for feature in load_custom_features(entries)}


def compute_custom_features(features: Sequence[CustomFeature], inputs: pd.DataFrame,
                            reserved: Sequence[str]) -> pd.DataFrame:
    """Call every custom function on a copy of ``inputs`` and check what it returns.

    Parameters
    ----------
    features : sequence of CustomFeature
    inputs : DataFrame
        The bars and built-in features (see the module docstring for the contract).
    reserved : sequence of str
        Column names no custom column may take (bars, built-in features, targets).

    Returns
    -------
    DataFrame
        Index of ``inputs``; every custom column as float64 (+-inf -> NaN), in entry order.

    Raises
    ------
    DataError
        A function raised, returned something other than a Series/DataFrame indexed like the bars,
        a column that is not numeric, or a name that is empty, reserved or already taken.
    """
    taken = set(reserved)
    columns: dict[str, pd.Series] = {}
    for feature in features:
        try:
            result = feature.function(inputs.copy())
        except Exception as exc:
            raise DataError(f"[features] custom function {feature.entry!r} raised {type(exc).__name__}: {exc}") from exc
        frame = _as_frame(feature.entry, result, inputs.index)
        for name in frame.columns:
            if not isinstance(name, str) or not name:
                raise DataError(f"[features] custom function {feature.entry!r} returned a column named {name!r}; "
                                "name every column with a non-empty string (a Series needs .name)")
            if name in taken:
                raise DataError(f"[features] custom function {feature.entry!r} returned column {name!r}, which is "
                                "already a bar, built-in feature, target or earlier custom column; rename it")
            try:
                values = pd.to_numeric(frame[name], errors="raise").astype("float64")
            except (TypeError, ValueError) as exc:
                raise DataError(f"[features] custom function {feature.entry!r}: column {name!r} is not numeric "
                                f"({frame[name].dtype}); return floats") from exc
            columns[name] = values.replace([np.inf, -np.inf], np.nan)
            taken.add(name)
    return pd.DataFrame(columns, index=inputs.index)


def _as_frame(entry: str, result: Any, index: pd.Index) -> pd.DataFrame:
    if isinstance(result, pd.Series):
        result = result.to_frame(name=result.name)
    if not isinstance(result, pd.DataFrame):
        raise DataError(f"[features] custom function {entry!r} returned a {type(result).__name__}; return a pandas "
                        "Series (named) or DataFrame indexed like the bars it received")
    if not result.columns.is_unique:
        raise DataError(f"[features] custom function {entry!r} returned duplicate column names "
                        f"{sorted(set(result.columns[result.columns.duplicated()]))}")
    if not result.index.equals(index):
        raise DataError(f"[features] custom function {entry!r} returned {len(result)} rows indexed differently from "
                        f"the {len(index)} bars it received; keep the bars' index (same rows, same order)")
    return result
