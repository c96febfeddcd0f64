"""O(1) building blocks of the live feature state: plain floats, no pandas, no numpy.

Each class reproduces one pandas operation of the batch pipeline on a stream of values:

==================  ==========================================================================
class               batch counterpart
==================  ==========================================================================
:class:`Ewm`        ``Series.ewm(com=..., adjust=False).mean()`` (pandas' recursion, its NaN rules)
:class:`Ring`       ``Series.rolling(n)`` max / min / rank(pct=True) and ``shift(k)``: a ring
                    buffer of the last ``n`` values
:class:`RollingMoments`  ``rolling(n).mean()`` / ``.std(ddof=0)`` with pandas' running sums
:class:`KahanSum`   ``groupby(...).cumsum()`` (pandas' compensated running sum)
==================  ==========================================================================

Work per value is constant: the recursions are O(1); a ring's statistics cost O(n) for its fixed
``n`` (at most 100 values here), whatever the length of the history.
"""

from __future__ import annotations

import math

from lab.features.spec import smoothing_alpha

__all__ = ["Ewm", "Ring", "RollingMoments", "KahanSum", "NAN", "ratio"]

NAN = float("nan")


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN where pandas would give an infinity or 0/0 (the batch
    tables hold NaN for both)."""
    if denominator == 0.0:
        return NAN
    return numerator / denominator


class Ewm:
    """Exponentially weighted mean, ``adjust=False``, ``ignore_na=False``, as pandas computes it."""

    __slots__ = ("_factor", "_new", "_old", "value")

    def __init__(self, com: float) -> None:
        alpha = smoothing_alpha(com)
        self._factor = 1.0 - alpha
        self._new = alpha
        self._old = 1.0
        self.value = NAN

    def update(self, x: float) -> float:
        """Add ``x`` (NaN allowed) and return the mean."""
        w = self.value
        if w == w:
            self._old *= self._factor
            if x == x:
                if w != x:  # pandas skips the update on equal values (exact constant series)
                    old = self._old
                    w = (old * w + self._new * x) / (old + self._new)
                self._old = 1.0
        elif x == x:
            w = x
        self.value = w
        return w


class Ring:
    """The last ``size`` values (NaN allowed): ``shift(k)`` and the rolling max / min / rank (NaN
    until ``size`` non-NaN values are in the window, as ``rolling(size)`` with its default
    ``min_periods``). Means and deviations use :class:`RollingMoments`."""

    __slots__ = ("size", "_values", "_pos", "_count", "_nans")

    def __init__(self, size: int) -> None:
        self.size = size
        self._values = [NAN] * size
        self._pos = 0  # where the next value goes
        self._count = 0  # values pushed, capped at size
        self._nans = size  # NaN slots in the window (empty slots count as NaN)

    def push(self, x: float) -> None:
        """Add ``x``, dropping the oldest value once full."""
        pos = self._pos
        old = self._values[pos]
        if old != old:
            self._nans -= 1
        if x != x:
            self._nans += 1
        self._values[pos] = x
        self._pos = pos + 1 if pos + 1 < self.size else 0
        if self._count < self.size:
            self._count += 1

    @property
    def full(self) -> bool:
        """Every slot holds a non-NaN value."""
        return self._nans == 0

    def ago(self, k: int) -> float:
        """The value pushed ``k`` pushes ago (0 = the newest), NaN when there is none (``shift(k)``)."""
        if k >= self._count:
            return NAN
        return self._values[(self._pos - 1 - k) % self.size]

    def max(self) -> float:
        return max(self._values) if self._nans == 0 else NAN

    def min(self) -> float:
        return min(self._values) if self._nans == 0 else NAN

    def rank_pct_of_newest(self) -> float:
        """Average rank of the newest value among the window, divided by its size (``rank(pct=True)``)."""
        if self._nans:
            return NAN
        x = self._values[(self._pos - 1) % self.size]
        less = equal = 0
        for v in self._values:
            if v < x:
                less += 1
            elif v == x:
                equal += 1
        return (less + (equal + 1) / 2.0) / self.size


class KahanSum:
    """A running sum with pandas' compensation (``cumsum``); ``reset()`` starts a new group."""

    __slots__ = ("total", "_carry")

    def __init__(self) -> None:
        self.total = 0.0
        self._carry = 0.0

    def reset(self) -> None:
        self.total = 0.0
        self._carry = 0.0

    def add(self, x: float) -> float:
        y = x - self._carry
        t = self.total + y
        self._carry = t - self.total - y
        self.total = t
        return t


class RollingMoments:
    """``rolling(size).mean()`` and ``.std(ddof=0)`` carried forward value by value with pandas'
    own running sums (Kahan-compensated sum, Welford variance, its constant-run rules), so the
    live values equal the batch table's to the last bit rather than to a rounding error.

    Each push is O(1): the leaving value is removed, the new one added.
    """

    __slots__ = ("size", "_ring", "_pos", "_pushed", "_variance", "_nobs", "_sum", "_neg", "_comp_add", "_comp_remove",
                 "_same", "_prev", "_mean_x", "_ssqdm", "_vcomp_add", "_vcomp_remove")

    def __init__(self, size: int, variance: bool = False) -> None:
        self.size = size
        self._ring = [NAN] * size
        self._pos = 0
        self._pushed = 0
        self._variance = variance
        self._nobs = 0
        self._sum = self._comp_add = self._comp_remove = 0.0
        self._neg = 0
        self._same = 0
        self._prev = NAN
        self._mean_x = self._ssqdm = self._vcomp_add = self._vcomp_remove = 0.0

    def push(self, x: float) -> None:
        """Slide the window one value forward."""
        ring, pos = self._ring, self._pos
        if self._pushed >= self.size:
            self._remove(ring[pos])
        else:
            if self._pushed == 0:
                self._prev = x
            self._pushed += 1
        ring[pos] = x
        self._pos = pos + 1 if pos + 1 < self.size else 0
        self._add(x)

    def _add(self, val: float) -> None:
        if val != val:
            return
        self._nobs += 1
        nobs = self._nobs
        y = val - self._comp_add
        t = self._sum + y
        self._comp_add = t - self._sum - y
        self._sum = t
        if val < 0:
            self._neg += 1
        self._same = self._same + 1 if val == self._prev else 1
        self._prev = val
        if self._variance:
            prev_mean = self._mean_x - self._vcomp_add
            y = val - self._vcomp_add
            t = y - self._mean_x
            self._vcomp_add = t + self._mean_x - y
            self._mean_x += t / nobs
            self._ssqdm += (val - prev_mean) * (val - self._mean_x)

    def _remove(self, val: float) -> None:
        if val != val:
            return
        self._nobs -= 1
        y = -val - self._comp_remove
        t = self._sum + y
        self._comp_remove = t - self._sum - y
        self._sum = t
        if val < 0:
            self._neg -= 1
        if self._variance:
            nobs = self._nobs
            if nobs:
                prev_mean = self._mean_x - self._vcomp_remove
                y = val - self._vcomp_remove
                t = y - self._mean_x
                self._vcomp_remove = t + self._mean_x - y
                self._mean_x -= t / nobs
                self._ssqdm -= (val - prev_mean) * (val - self._mean_x)
            else:
                self._mean_x = self._ssqdm = 0.0

    def mean(self) -> float:
        nobs = self._nobs
        if nobs < self.size:
            return NAN
        if self._same >= nobs:
            return self._prev
        result = self._sum / nobs
        if self._neg == 0 and result < 0:
            return 0.0
        if self._neg == nobs and result > 0:
            return 0.0
        return result

    def std(self) -> float:
        """Population standard deviation (ddof=0)."""
        nobs = self._nobs
        if nobs < self.size:
            return NAN
        if nobs == 1 or self._same >= nobs:
            return 0.0
        variance = self._ssqdm / nobs
        return math.sqrt(variance) if variance >= 0 else 0.0
