"""The per-bar signal rule of the direction strategy, on plain floats (the live path's hot loop).

The backtest's vectorised rule is :func:`lab.strategies.direction.direction_signals` with
:func:`lab.backtest.signals.position_contracts`; this scalar form uses the same thresholds,
tolerance and size tiers, and the tests prove the two agree on every probability. It also says
which rule stopped a bar from trading, among those a single bar can decide:

=============  ==============================================================================
stopped_by     meaning
=============  ==============================================================================
``warmup``     no probability: the features are not formed yet (or a feature is missing)
``threshold``  ``1 - entry_threshold < p < entry_threshold``: not confident enough
``last_entry`` the entry bar (the next bar) would start after ``session_close -
               last_entry_minutes_before_close`` or at/after the flatten time
``""``         it trades
=============  ==============================================================================

Rules that depend on the book (a position already open, the daily loss limit, the pause after
consecutive losses) belong to the paper trader, which keeps that state.
"""

from __future__ import annotations

from typing import NamedTuple

from lab.backtest.signals import THRESHOLD_TOLERANCE
from lab.config import RulesConfig

__all__ = ["Decision", "decide", "STOP_RULES"]

STOP_RULES = ("warmup", "threshold", "last_entry")
_NS_PER_MINUTE = 60_000_000_000


class Decision(NamedTuple):
    """What the champion says at one bar's close."""

    probability: float  # P(label 1) of the model, NaN when not formed
    side: str  # "long", "short" or "flat"
    contracts: int  # contracts an entry at the next open trades (0 when it does not trade)
    stopped_by: str  # "" when it trades, else one of STOP_RULES


def decide(probability: float, start_ns: int, session_close_ns: int, rules: RulesConfig, bar_minutes: int = 5) -> Decision:
    """The direction rule for one bar.

    Parameters
    ----------
    probability : float
        P(up) at the bar's close (NaN: no prediction).
    start_ns, session_close_ns : int
        Bar start and its session's close, ns since the epoch (UTC).
    rules : RulesConfig
        ``entry_threshold``, size tiers, last-entry and flatten minutes.
    bar_minutes : int, default 5
        Bar length; the entry bar starts one bar later.
    """
    if probability != probability:
        return Decision(probability, "flat", 0, "warmup")
    threshold = rules.entry_threshold
    if probability >= threshold - THRESHOLD_TOLERANCE:
        side, confidence = "long", probability
    elif probability <= 1.0 - threshold + THRESHOLD_TOLERANCE:
        side, confidence = "short", 1.0 - probability
    else:
        return Decision(probability, "flat", 0, "threshold")
    entry_ns = start_ns + bar_minutes * _NS_PER_MINUTE
    if (entry_ns > session_close_ns - rules.last_entry_minutes_before_close * _NS_PER_MINUTE
            or entry_ns >= session_close_ns - rules.flatten_minutes_before_close * _NS_PER_MINUTE):
        return Decision(probability, side, 0, "last_entry")
    full = confidence >= rules.full_size_threshold - THRESHOLD_TOLERANCE
    contracts = min(rules.full_size_contracts if full else rules.half_size_contracts, rules.max_position_contracts)
    return Decision(probability, side, contracts, "")
