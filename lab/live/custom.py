"""The ``[features] custom`` columns on the live path: the user's own batch functions, per completed bar.

A custom feature is a batch function of the bars table (:mod:`lab.custom_features`): it has no
incremental form for the lab to run. :class:`LiveCustomFeatures` therefore keeps the last
``window_bars`` completed bars (their prices, session fields and every built-in feature, in the
columns and dtypes featurize hands the function) and, at each bar's close, calls the same
:func:`lab.features.custom.compute_custom_features` on that window and keeps its last row. A
value that may use only its bar and earlier ones (what the look-ahead audit enforces) is then the
batch table's value whenever the function looks back at most ``window_bars`` bars; a function with
a longer memory (an expanding mean, a slow EMA) gets the error a warm-up of ``window_bars`` leaves.

Cost: one call of the user's functions on a ``window_bars``-row frame per bar (milliseconds with
pandas), not the O(1) of the built-in state; only a model that uses custom features pays it.
"""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np
import pandas as pd

from lab.config import TARGET_NAMES
from lab.features.custom import CustomFeature, compute_custom_features, load_custom_features
from lab.errors import DataError
from lab.live.features import LiveBar

__all__ = ["LiveCustomFeatures"]

NY = "America/New_York"
_BAR_FIELDS = ("open", "high", "low", "close", "volume")


class LiveCustomFeatures:
    """The custom columns ``names`` of each completed bar, from the last ``window_bars`` bars.

    Parameters
    ----------
    entries : sequence of str
        ``[features] custom`` entries (``package.module:function``).
    builtin_names : sequence of str
        The names of a :class:`lab.live.LiveBar`'s ``features`` (core and every optional set,
        as featurize hands them to the functions).
    names : sequence of str
        The custom columns wanted, in this order (e.g. the model's custom inputs).
    window_bars : int
        Bars of history each call sees (``[session] warmup_bars``).
    """

    def __init__(self, entries: Sequence[str], builtin_names: Sequence[str], names: Sequence[str],
                 window_bars: int) -> None:
        self.functions: list[CustomFeature] = load_custom_features(entries)
        self.builtin_names = tuple(builtin_names)
        self.names = tuple(names)
        self._bars: deque[LiveBar] = deque(maxlen=max(int(window_bars), 1))

    def update(self, bar: LiveBar, compute: bool = True) -> tuple[float, ...]:
        """Add a completed bar; the values of :attr:`names` at its close (NaN without ``compute``: a
        warm-up bar nobody reads, which still joins the window)."""
        self._bars.append(bar)
        if not compute:
            return (float("nan"),) * len(self.names)
        inputs = self._inputs()
        out = compute_custom_features(self.functions, inputs, reserved=(*inputs.columns, *TARGET_NAMES))
        missing = [n for n in self.names if n not in out.columns]
        if missing:
            raise DataError(f"the [features] custom functions returned no column(s) {missing} live; they return "
                            f"{list(out.columns)}")
        last = out.iloc[-1]
        return tuple(float(last[n]) for n in self.names)

    def _inputs(self) -> pd.DataFrame:
        """The window as featurize gives it to the functions: index = bar start (ET), bar columns, features."""
        bars = list(self._bars)
        start = pd.DatetimeIndex(np.array([b.start_ns for b in bars], "datetime64[ns]")).tz_localize("UTC").tz_convert(NY)
        opens = pd.DatetimeIndex(np.array([b.session_open_ns for b in bars], "datetime64[ns]")).tz_localize("UTC")
        closes = pd.DatetimeIndex(np.array([b.session_close_ns for b in bars], "datetime64[ns]")).tz_localize("UTC")
        opens, closes = opens.tz_convert(NY), closes.tz_convert(NY)
        frame = pd.DataFrame({name: np.array([getattr(b, name) for b in bars], np.float64) for name in _BAR_FIELDS},
                             index=start.rename("time"))
        frame["volume"] = frame["volume"].round().astype(np.int64)
        frame["session"] = opens.tz_localize(None).normalize().to_numpy()
        frame["session_open"], frame["session_close"] = opens, closes
        features = pd.DataFrame(np.array([b.features for b in bars], np.float64), index=frame.index,
                                columns=list(self.builtin_names))
        return pd.concat([frame, features], axis=1)
