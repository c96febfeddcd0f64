"""The look-ahead audit of every feature: recompute on truncated prefixes, refuse what changes.

A feature is honest when its value at bar *t* depends on bars ``<= t`` only. Then removing
every bar after a cut changes no value at or before the cut. :func:`audit_look_ahead` checks
exactly that, on the features as the pipeline computed them:

1. draw ``n_cuts`` distinct cut bars with a seeded RNG (:data:`AUDIT_SEED`) among the bars
   ``first_cut .. first_cut + span_bars - 1`` (by default the first bars after the warm-up, where
   every built-in indicator is formed and a leaky value is not hidden by warm-up NaNs);
2. for each cut *c*, recompute every feature on the prefix ``bars[0 .. c]`` -- it starts at the
   *same first bar* as the full computation, so recursive indicators (EMA, Wilder RSI/ATR) get
   the same start values and honest features agree bar for bar;
3. compare the prefix's values with the full table's at bars ``0 .. c`` (equal within
   ``rtol``; NaN equals NaN) and raise :class:`LookAheadError` naming each feature that differs
   and its first differing bar.

What this catches: ``shift(-k)``, centred windows, session or day aggregates that include later
bars (``groupby(...).transform("last")``), and statistics of the whole series (a z-score with
the full mean, ranks over all rows). Such whole-series normalisations are refused on purpose:
their past values would change as new data arrive, so a backtest would not see what live
trading sees.

What it does not see: a leak that only shows after the audited span (e.g. code that looks ahead
only in 2024), or a look-ahead further than the data (``shift(-k)`` with *k* beyond the last
bar compares NaN with NaN).

Cost: each cut recomputes every feature on ``c + 1`` bars, so the audit costs about
``n_cuts * (first_cut + span_bars / 2)`` bars of feature computation, independent of the file's
length: with the defaults (5 cuts, warm-up 1,400 bars, :data:`AUDIT_SPAN_BARS`) that is
~10,000 bars, a small share of featurizing ~130,000 bars (``benchmarks/bench_featurize.py``
prints it). The trade-off: cuts spread over the whole file would audit more of it, but each
prefix from the first bar would then cost half the file on average.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from lab.errors import DataError

__all__ = ["AUDIT_CUTS", "AUDIT_SEED", "AUDIT_SPAN_BARS", "LeakAudit", "LookAheadError", "audit_look_ahead",
           "choose_cuts"]

AUDIT_CUTS = 5
AUDIT_SEED = 20190501
#: Bars after ``first_cut`` among which the cuts fall (~10 sessions of 78 five-minute bars).
AUDIT_SPAN_BARS = 780


class LookAheadError(DataError):
    """A feature's value at some bar changed when later bars were removed."""


@dataclass(frozen=True)
class LeakAudit:
    """What an audit checked: the cut bars, the features, the bars recomputed and its wall time."""

    cuts: tuple[pd.Timestamp, ...]
    features: tuple[str, ...]
    bars_recomputed: int
    seconds: float

    def summary(self) -> dict:
        """JSON-ready: cut times (ISO), number of features, bars recomputed, seconds."""
        return {"cuts": [str(c) for c in self.cuts], "features_audited": len(self.features),
                "bars_recomputed": self.bars_recomputed, "seconds": round(self.seconds, 4)}


def choose_cuts(n_bars: int, n_cuts: int = AUDIT_CUTS, first_cut: int = 0, span_bars: int = AUDIT_SPAN_BARS,
                seed: int = AUDIT_SEED) -> np.ndarray:
    """Sorted distinct cut positions (0-based bar numbers) drawn with a seeded RNG.

    Drawn among ``first_cut .. first_cut + span_bars - 1``, clipped to the data; when the data
    end before ``first_cut`` the span moves back to the last ``span_bars`` bars. Fewer than
    ``n_cuts`` only when there are fewer bars than that.
    """
    if n_bars <= 0:
        return np.empty(0, dtype=np.int64)
    span_bars = max(span_bars, n_cuts)
    lo = max(0, min(first_cut, n_bars - span_bars))
    hi = min(n_bars, lo + span_bars)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.arange(lo, hi), size=min(n_cuts, hi - lo), replace=False))


def audit_look_ahead(bars: pd.DataFrame, features: pd.DataFrame, compute: Callable[[pd.DataFrame], pd.DataFrame], *,
                     n_cuts: int = AUDIT_CUTS, first_cut: int = 0, span_bars: int = AUDIT_SPAN_BARS,
                     seed: int = AUDIT_SEED, rtol: float = 1e-9) -> LeakAudit:
    """Refuse any feature whose value at or before a cut changes when the bars after it are removed.

    Parameters
    ----------
    bars : DataFrame
        The bars ``compute`` takes (regular-session 5-minute bars, time-ordered).
    features : DataFrame
        ``compute(bars)`` as the pipeline computed it (same index as ``bars``); every column is audited.
    compute : callable
        ``bars -> features`` for any prefix of ``bars`` (the same code that made ``features``).
    n_cuts : int
        Number of cut bars (default 5).
    first_cut, span_bars : int
        The cuts fall among bars ``first_cut .. first_cut + span_bars - 1`` (0-based; see
        :func:`choose_cuts`). Cost grows with ``n_cuts * (first_cut + span_bars / 2)`` bars.
    seed : int
        Seed of the cut draw (fixed by default, so an audit is reproducible).
    rtol : float
        Relative tolerance of "unchanged" (1e-9: float noise only); NaN equals NaN.

    Returns
    -------
    LeakAudit

    Raises
    ------
    LookAheadError
        Naming every feature that changed, its first differing bar (time), both values and the cut.
    """
    started = time.perf_counter()
    if not features.index.equals(bars.index):
        raise DataError("audit_look_ahead needs the features indexed like the bars (the full computation)")
    cuts = choose_cuts(len(bars), n_cuts, first_cut, span_bars, seed)
    first_difference: dict[str, tuple[int, int, float, float]] = {}  # feature -> (bar, cut, full, prefix)
    for cut in cuts:
        prefix = compute(bars.iloc[: cut + 1])
        missing = [name for name in features.columns if name not in prefix.columns]
        if missing:
            raise LookAheadError(f"feature(s) {missing} vanish when the bars after {bars.index[cut]} are removed; "
                                 "a feature must exist for any prefix of the bars")
        full_part = features.iloc[: cut + 1]
        for name in features.columns:
            full = full_part[name].to_numpy(dtype="float64")
            part = prefix[name].to_numpy(dtype="float64")
            same = (full == part) | (np.isnan(full) & np.isnan(part)) | np.isclose(full, part, rtol=rtol, atol=0.0)
            if not same.all():
                bar = int(np.argmin(same))
                if name not in first_difference or bar < first_difference[name][0]:
                    first_difference[name] = (bar, int(cut), float(full[bar]), float(part[bar]))
    if first_difference:
        index = bars.index
        lines = [f"{name} (first differing bar {index[bar]}: {full!r} with all bars, {part!r} with the bars up to "
                 f"{index[cut]} only)" for name, (bar, cut, full, part) in first_difference.items()]
        raise LookAheadError(
            f"look-ahead: {len(lines)} feature(s) change at or before a cut when the later bars are removed: "
            + "; ".join(lines)
            + ". A feature's value at a bar may use that bar and earlier ones only: no shift(-k), no centred "
            "windows, no statistics of the whole series; fix the feature (or remove it from [features] custom)"
        )
    return LeakAudit(tuple(bars.index[c] for c in cuts), tuple(features.columns), int((cuts + 1).sum()),
                     time.perf_counter() - started)
