"""The incremental feature state: one 1-minute bar in, at each 5-minute bar's close one feature row.

:class:`LiveFeatures` reproduces, bar for bar, what the batch pipeline
(:func:`lab.data.bars.resample_bars` -> :func:`lab.data.bars.regular_session_bars` ->
:func:`lab.features.core.compute_features` and the optional sets) computes from the same minutes:

* minutes are bucketed on the wall clock (:00, :05 ...), open first, high max, low min, close
  last, volume sum, every minute of the bucket counting (also those before the open);
* a bucket is kept when its start lies in a regular session (``open <= start < close``, holidays
  absent, early closes honoured); a bucket with no minute is no bar (nothing is filled), so the
  indicators' "n bars ago" skips it exactly as the batch table does;
* the indicators run across sessions; the VWAP restarts at each session.

A bucket closes when its last minute (``:04``, ``:09`` ...) arrives, or when a minute of a later
bucket arrives (its last minute was missing), or on :meth:`LiveFeatures.flush`. The window
lengths and smoothing constants come from :mod:`lab.feature_spec`, shared with the batch code.

Work per minute is O(1); per 5-minute bar it is bounded by the longest ring (100 values).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from lab.errors import ConfigError, DataError
from lab.features.spec import (
    ATR_PERIOD_BARS,
    BOLLINGER_BARS,
    BOLLINGER_STDS,
    EMA_SPANS_BARS,
    FIRST_HOUR_MINUTES,
    LAST_HOUR_MINUTES,
    MACD_FAST_BARS,
    MACD_SIGNAL_BARS,
    MACD_SLOW_BARS,
    RETURN_LAGS_BARS,
    RSI_PERIODS_BARS,
    VOLUME_LONG_BARS,
    VOLUME_SHORT_BARS,
    ema_com,
    rsi_from_averages,
    wilder_com,
)
from lab.live._optional import BREAKOUT_NAMES, MEAN_REVERSION_NAMES, OptionalFeatures
from lab.live._recursions import NAN, Ewm, KahanSum, Ring, RollingMoments, ratio
from lab.market.sessions import epoch_ns

__all__ = ["LiveFeatures", "LiveBar", "SessionTable", "CORE_NAMES", "OPTIONAL_SET_NAMES"]

NS_PER_MINUTE = 60_000_000_000

#: The 24 core features in the batch table's order (checked against :data:`lab.features.core.FEATURE_NAMES`).
CORE_NAMES: tuple[str, ...] = (
    *(f"return_{k}bar" for k in RETURN_LAGS_BARS),
    *(f"close_vs_ema{n}" for n in EMA_SPANS_BARS),
    *(f"rsi_{n}" for n in RSI_PERIODS_BARS),
    "macd", "macd_signal", "macd_hist", "atr_14", "bb_width", "bar_range", "volume_ratio_20", "volume_trend",
    "vwap_deviation", "time_of_day", "minutes_since_open", "is_first_hour", "is_last_hour",
)
OPTIONAL_SET_NAMES = {"breakout": BREAKOUT_NAMES, "mean_reversion": MEAN_REVERSION_NAMES}


class LiveBar(NamedTuple):
    """A completed regular-session bar and its feature row (``features`` in ``LiveFeatures.names`` order)."""

    start_ns: int  # bar start, ns since the epoch (UTC)
    open: float
    high: float
    low: float
    close: float
    volume: float
    session_open_ns: int
    session_close_ns: int
    features: tuple[float, ...]


class SessionTable:
    """Regular sessions as sorted integer arrays, walked forward by a pointer (no pandas per bar).

    Parameters
    ----------
    sessions : DataFrame
        From :func:`lab.market.sessions.regular_sessions` (``session_open``/``session_close``, tz-aware ET).
    """

    def __init__(self, sessions) -> None:  # pandas only here, once
        self.open_ns = [int(x) for x in epoch_ns(sessions["session_open"])]
        self.close_ns = [int(x) for x in epoch_ns(sessions["session_close"])]
        local = sessions["session_open"].dt
        self.open_local_minutes = [int(h) * 60 + int(m) for h, m in zip(local.hour, local.minute)]
        self._i = 0

    def find(self, start_ns: int) -> int:
        """Index of the session holding a bar starting at ``start_ns``, or -1; starts never go back."""
        i, closes = self._i, self.close_ns
        n = len(closes)
        while i < n and start_ns >= closes[i]:
            i += 1
        self._i = i
        if i < n and self.open_ns[i] <= start_ns:
            return i
        return -1


class LiveFeatures:
    """Incremental features of regular-session bars built from a stream of 1-minute bars.

    Parameters
    ----------
    sessions : DataFrame
        The regular sessions covering the stream (:func:`lab.market.sessions.regular_sessions`).
    bar_minutes : int, default 5
        Bar length, minutes (divides 60), as ``[session] bar_minutes``.
    optional_sets : sequence of str, default ("breakout", "mean_reversion")
        Optional feature sets appended after the 24 core features (breakout first, whatever the order given).

    Examples
    --------
    >>> import datetime as dt
    >>> from lab.market.sessions import regular_sessions
    >>> sessions = regular_sessions("XNYS", dt.date(2023, 3, 6), dt.date(2023, 3, 6))
    >>> state = LiveFeatures(sessions)
    >>> first = sessions.session_open.iloc[0].value  # 09:30 ET, ns since the epoch
    >>> bars = [bar for k in range(10)  # ten minutes of 10 contracts each
    ...         for bar in state.update(first + k * 60_000_000_000, 4000.0, 4000.5, 3999.75, 4000.25, 10)]
    >>> len(bars), bars[0].volume, len(bars[0].features) == len(state.names)  # two 5-minute bars closed
    (2, 50.0, True)
    """

    def __init__(self, sessions, bar_minutes: int = 5, optional_sets: Sequence[str] = ("breakout", "mean_reversion")):
        unknown = [name for name in optional_sets if name not in OPTIONAL_SET_NAMES]
        if unknown:
            raise ConfigError(f"optional feature set(s) {unknown} unknown; choose from {sorted(OPTIONAL_SET_NAMES)}")
        self.sessions = SessionTable(sessions)
        self.bar_ns = bar_minutes * NS_PER_MINUTE
        # In the one order the rows are written in (breakout, then mean reversion), whatever order was asked.
        self.optional_sets = tuple(name for name in OPTIONAL_SET_NAMES if name in optional_sets)
        self.names: tuple[str, ...] = CORE_NAMES + tuple(n for s in self.optional_sets for n in OPTIONAL_SET_NAMES[s])
        # the bucket being filled
        self._bucket = None
        self._o = self._h = self._l = self._c = self._v = 0.0
        self._last_minute_ns = None
        # indicator state
        self._closes = Ring(max(RETURN_LAGS_BARS) + 1)
        self._emas = [Ewm(ema_com(n)) for n in EMA_SPANS_BARS]
        self._fast, self._slow = Ewm(ema_com(MACD_FAST_BARS)), Ewm(ema_com(MACD_SLOW_BARS))
        self._signal = Ewm(ema_com(MACD_SIGNAL_BARS))
        self._gains = [Ewm(wilder_com(n)) for n in RSI_PERIODS_BARS]
        self._losses = [Ewm(wilder_com(n)) for n in RSI_PERIODS_BARS]
        self._atr = Ewm(wilder_com(ATR_PERIOD_BARS))
        self._bollinger = RollingMoments(BOLLINGER_BARS, variance=True)
        self._volume_long = RollingMoments(VOLUME_LONG_BARS)
        self._volume_short = RollingMoments(VOLUME_SHORT_BARS)
        self._session = -1
        self._pv, self._vol = KahanSum(), KahanSum()
        self._rsi7, self._rsi14 = CORE_NAMES.index("rsi_7"), CORE_NAMES.index("rsi_14")
        self._optional = OptionalFeatures(self.optional_sets, self._emas[EMA_SPANS_BARS.index(21)]) \
            if self.optional_sets else None

    def columns_of(self, names: Sequence[str], who: str = "the model") -> np.ndarray:
        """Positions of ``names`` in :attr:`names` (int64), or a :class:`lab.errors.DataError` that says
        which features the live state does not compute and why (an optional set not enabled, or a
        custom feature of ``[features] custom``, which only featurize computes)."""
        missing = [f for f in names if f not in self.names]
        if missing:
            optional = {n: s for s, members in OPTIONAL_SET_NAMES.items() for n in members}
            sets = sorted({optional[f] for f in missing if f in optional})
            custom = [f for f in missing if f not in optional]
            why = []
            if sets:
                why.append(f"enable [features] optional_sets = {sets} as in training")
            if custom:
                why.append(f"{custom} are not built-in features (custom features of [features] custom are computed by "
                           "featurize only, not live): paper trading and serving need a model of built-in features")
            raise DataError(f"{who} needs feature(s) {missing} that the live state does not compute: " + "; ".join(why))
        return np.array([self.names.index(f) for f in names], dtype=np.int64)

    # -- the minute stream ------------------------------------------------------------------

    def update(self, time_ns: int, open_: float, high: float, low: float, close: float, volume: float) -> list[LiveBar]:
        """Add one 1-minute bar (stamped at its start, ns since the epoch, UTC).

        Returns
        -------
        list of LiveBar
            The regular-session bars this minute completed (usually none, at most two).

        Raises
        ------
        DataError
            The minute is not later than the previous one.
        """
        last = self._last_minute_ns
        if last is not None and time_ns <= last:
            raise DataError(f"minute stamped {time_ns} ns arrives after {last} ns; feed minutes in time order, once each")
        self._last_minute_ns = time_ns
        out: list[LiveBar] = []
        bucket = time_ns // self.bar_ns
        if bucket != self._bucket:
            if self._bucket is not None:
                self._close_bucket(out)
            self._bucket = bucket
            self._o, self._h, self._l, self._c, self._v = open_, high, low, close, volume
        else:
            if high > self._h:
                self._h = high
            if low < self._l:
                self._l = low
            self._c = close
            self._v += volume
        if time_ns - bucket * self.bar_ns == self.bar_ns - NS_PER_MINUTE:
            self._close_bucket(out)
        return out

    def flush(self) -> list[LiveBar]:
        """Close the bucket being filled (end of the stream, or its time has passed)."""
        out: list[LiveBar] = []
        if self._bucket is not None:
            self._close_bucket(out)
        return out

    def _close_bucket(self, out: list[LiveBar]) -> None:
        start = self._bucket * self.bar_ns
        self._bucket = None
        index = self.sessions.find(start)
        if index < 0:
            return
        out.append(self._bar(start, index))

    # -- one bar ------------------------------------------------------------------------------

    def _bar(self, start: int, index: int) -> LiveBar:
        o, h, l, c, v = self._o, self._h, self._l, self._c, float(self._v)
        sessions = self.sessions
        open_ns, close_ns = sessions.open_ns[index], sessions.close_ns[index]
        closes = self._closes
        previous = closes.ago(0)
        closes.push(c)
        row: list[float] = [c / closes.ago(k) - 1.0 for k in RETURN_LAGS_BARS]
        for ema in self._emas:
            row.append(c / ema.update(c) - 1.0)
        change = c - previous
        for gains, losses in zip(self._gains, self._losses):
            if change == change:
                gain = gains.update(change if change > 0.0 else 0.0)
                loss = losses.update(-change if -change > 0.0 else 0.0)
                row.append(rsi_from_averages(gain, loss))
            else:
                gains.update(NAN)
                losses.update(NAN)
                row.append(NAN)
        macd = (self._fast.update(c) - self._slow.update(c)) / c
        signal = self._signal.update(macd)
        row += (macd, signal, macd - signal)
        true_range = h - l if previous != previous else max(h - l, abs(h - previous), abs(l - previous))
        atr14 = self._atr.update(true_range)
        row.append(atr14 / c)
        bollinger = self._bollinger
        bollinger.push(c)
        middle, deviation = bollinger.mean(), bollinger.std()
        row.append(ratio(2.0 * BOLLINGER_STDS * deviation, middle))
        row.append((h - l) / c)
        self._volume_long.push(v)
        self._volume_short.push(v)
        mean_volume = self._volume_long.mean()
        row.append(ratio(v, mean_volume))
        row.append(ratio(self._volume_short.mean(), mean_volume) - 1.0)
        if index != self._session:
            self._session = index
            self._pv.reset()
            self._vol.reset()
        typical = (h + l + c) / 3.0
        cum_pv = self._pv.add(typical * v)
        cum_v = self._vol.add(v)
        row.append(c / (cum_pv / cum_v if cum_v > 0 else typical) - 1.0)
        since_open = (start - open_ns) / NS_PER_MINUTE
        to_close = (close_ns - start) / NS_PER_MINUTE
        row.append((sessions.open_local_minutes[index] + since_open) / 60.0)
        row.append(since_open)
        row.append(1.0 if since_open < FIRST_HOUR_MINUTES else 0.0)
        row.append(1.0 if to_close <= LAST_HOUR_MINUTES else 0.0)
        if self._optional is not None:
            self._optional.append(row, high=h, low=l, close=c, volume=v, true_range=true_range, atr14=atr14,
                                  middle=middle, deviation=deviation, rsi7=row[self._rsi7], rsi14=row[self._rsi14],
                                  closes=closes, mean_volume=mean_volume, since_open=since_open, to_close=to_close)
        features = tuple(NAN if x in (math.inf, -math.inf) else x for x in row)
        return LiveBar(start, o, h, l, c, v, open_ns, close_ns, features)
