"""The per-bar signal rules, on plain floats (the live path's hot loop).

:class:`BarRule` is any configured strategy at one bar: the strategy object of
:mod:`lab.strategies.registry` decides the side (:meth:`lab.strategies.base.Strategy.bar_side`: the
very array rule its backtest signals call, :func:`~lab.strategies.breakout.breakout_sides` or
:func:`~lab.strategies.mean_reversion.mean_reversion_sides`, on one-element arrays; for direction
the same thresholds and tolerance on one float), its own exit and its confidence; the size tiers
are :func:`lab.backtest.signals.position_contracts`' on one float. :func:`decide` is the direction
strategy's rule; the tests prove it and the bar rule of every strategy agree with the backtest's
vectorised rule on every probability.

Each decision says which rule stopped a bar from trading, among those a single bar can decide:

=============  ==============================================================================
stopped_by     meaning
=============  ==============================================================================
``warmup``     no probability: the features are not formed yet (or a feature is missing)
``threshold``  ``1 - entry_threshold < p < entry_threshold``: not confident enough (direction)
``setup``      the strategy's entry conditions are not all met (breakout, mean reversion)
``long_only``  a short of a long-only (``target_trade``) model
``last_entry`` the entry bar (the next bar) would start after ``session_close -
               last_entry_minutes_before_close`` or at/after the flatten time
``""``         it trades
=============  ==============================================================================

Rules that depend on the book (a position already open, the daily loss limit, the pause after
consecutive losses) belong to the paper trader, which keeps that state.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from lab.backtest.signals import THRESHOLD_TOLERANCE, ExitParams
from lab.config import RulesConfig, StrategyConfig
from lab.live.custom import LiveCustomFeatures
from lab.live.features import CORE_NAMES, OPTIONAL_SET_NAMES, LiveFeatures
from lab.rules import NS_PER_MINUTE, entry_cutoffs_ns, entry_time_allowed
from lab.strategies.registry import get_strategy

__all__ = ["Decision", "decide", "STOP_RULES", "BarRule", "BarSignal", "LiveInputs"]

STOP_RULES = ("warmup", "threshold", "setup", "long_only", "last_entry")
_NS_PER_MINUTE = NS_PER_MINUTE


class Decision(NamedTuple):
    """What the champion says at one bar's close."""

    probability: float  # P(label 1) of the model, NaN when not formed
    side: str  # "long", "short" or "flat"
    contracts: int  # contracts an entry at the next open trades (0 when it does not trade)
    stopped_by: str  # "" when it trades, else one of STOP_RULES


def decide(probability: float, start_ns: int, session_close_ns: int, rules: RulesConfig, bar_minutes: int = 5) -> Decision:
    """The direction rule for one bar (:class:`BarRule` of the direction strategy, its decision).

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
    return BarRule(None, rules, bar_minutes)(probability, start_ns, session_close_ns).decision


def _too_late(start_ns: int, session_close_ns: int, rules: RulesConfig, bar_minutes: int) -> bool:
    """Whether the entry bar (the next one) would start after the last-entry time or at the flatten time."""
    last_entry_ns, flatten_ns = entry_cutoffs_ns(session_close_ns, rules.last_entry_minutes_before_close,
                                                 rules.flatten_minutes_before_close)
    return not entry_time_allowed(start_ns + bar_minutes * _NS_PER_MINUTE, last_entry_ns, flatten_ns)


class BarSignal(NamedTuple):
    """One bar's decision as reported (:class:`Decision`) and as the backtest engine takes it."""

    decision: Decision
    signal: int  # +1 / -1 / 0 for the engine; kept when only the last-entry time stops it (the engine counts that)
    confidence: float  # the strategy's confidence (size tier, reversal); NaN without a probability
    contracts: int  # contracts an entry on this signal trades (sized even when the last-entry time stops it)
    exit_signal: bool  # the strategy's market exit at the next open (mean reversion's high volatility)


class BarRule:
    """The configured strategy's signal rule at one bar's close (see the module docstring).

    The strategy object (:func:`lab.strategies.registry.get_strategy`) decides the side
    (:meth:`~lab.strategies.base.Strategy.bar_side`), its own exit and its confidence; this class adds
    what every strategy shares: the size tiers and the last-entry time.

    Parameters
    ----------
    strategy : StrategyConfig, optional
        ``name`` and the breakout / mean-reversion settings; default the direction strategy.
    rules : RulesConfig
        Entry threshold and size tiers (direction), the size tiers (every strategy), cut-off times.
    bar_minutes : int, default 5
    long_only : bool, default False
        Direction only: no shorts (a ``target_trade`` model).

    Attributes
    ----------
    name : str
    strategy : lab.strategies.base.Strategy
    features : tuple of str
        The strategy's own feature columns, in the order :meth:`__call__` takes their values.
    feature_set : str
        The optional feature set holding them (``""``: none).
    exits : ExitParams
        The strategy's target, stop and time stop (the rules' for direction).
    exit_reason : str
        The ``exit_reason`` of a trade closed by the strategy's exit signal.
    """

    def __init__(self, strategy: StrategyConfig | None, rules: RulesConfig, bar_minutes: int = 5,
                 long_only: bool = False) -> None:
        settings = strategy or StrategyConfig()
        self.strategy = get_strategy(settings.name)
        self.settings = settings
        self.name, self.rules, self.bar_minutes, self.long_only = settings.name, rules, bar_minutes, long_only
        self.exit_reason = self.strategy.exit_reason
        self.feature_set = self.strategy.feature_set
        self.features: tuple[str, ...] = self.strategy.rule_features
        self.exits: ExitParams = self.strategy.exits(settings, rules)

    def __call__(self, probability: float, start_ns: int, session_close_ns: int,
                 values: Sequence[float] = ()) -> BarSignal:
        """Decide one bar: ``probability`` (P(up) or P(high range); NaN: none), its start and session
        close (ns since the epoch, UTC), and the values of :attr:`features` at its close."""
        strategy, rules = self.strategy, self.rules
        exit_signal = strategy.bar_exit(probability, self.settings)
        # The strategy's rule decides (NaN handling included) and names why a bar does not trade.
        signal, stopped_by = strategy.bar_side(probability, values, self.settings, rules, self.long_only)
        confidence = float(strategy.confidence(probability))
        if signal == 0:
            return BarSignal(Decision(probability, "flat", 0, stopped_by), 0, confidence, 0, exit_signal)
        side = "long" if signal > 0 else "short"
        # position_contracts' tiers on one float (tests prove the two agree)
        full = confidence >= rules.full_size_threshold - THRESHOLD_TOLERANCE
        contracts = min(rules.full_size_contracts if full else rules.half_size_contracts, rules.max_position_contracts)
        # The engine itself refuses an entry bar after the last-entry time (and counts it), so the
        # signal keeps its size even when the decision reports "last_entry".
        if _too_late(start_ns, session_close_ns, rules, self.bar_minutes):
            return BarSignal(Decision(probability, side, 0, "last_entry"), signal, confidence, contracts, exit_signal)
        return BarSignal(Decision(probability, side, contracts, ""), signal, confidence, contracts, exit_signal)


class LiveInputs:
    """Minutes in; per completed bar, the bar and its full feature row, with where the model's inputs
    and the strategy's own features sit in it.

    The row is the built-in live state's features (core, ``optional_sets`` plus the strategy's own
    set; every set when custom features are read, as featurize hands them all to the functions)
    followed by the model's ``[features] custom`` columns (:class:`lab.live.custom.LiveCustomFeatures`).

    Parameters
    ----------
    rule : BarRule
    sessions : DataFrame
        Regular sessions covering the stream (:func:`lab.market.sessions.regular_sessions`).
    bar_minutes : int
    optional_sets : sequence of str
    model_features : sequence of str
        The model's inputs, in training order.
    custom : sequence of str, optional
        ``[features] custom`` entries; model features that are not built-in come from them.
    window_bars : int, default 1400
        Bars of history the custom functions see (``[session] warmup_bars``).
    who : str
        Names the model in errors.

    Raises
    ------
    DataError
        A feature neither the live state nor the custom functions compute.
    """

    def __init__(self, rule: BarRule, sessions, bar_minutes: int, optional_sets: Sequence[str],
                 model_features: Sequence[str], custom: Sequence[str] = (), window_bars: int = 1400,
                 who: str = "the model") -> None:
        built_in = set(CORE_NAMES).union(*OPTIONAL_SET_NAMES.values())
        custom_names = [f for f in model_features if f not in built_in] if custom else []
        sets = [*optional_sets, *([rule.feature_set] if rule.feature_set else [])]
        if custom_names:
            sets += list(OPTIONAL_SET_NAMES)
        self.state = LiveFeatures(sessions, bar_minutes, list(dict.fromkeys(sets)))
        self.custom = (LiveCustomFeatures(custom, self.state.names, custom_names, window_bars)
                       if custom_names else None)
        names = self.state.names + tuple(custom_names)
        self.state.columns_of([f for f in model_features if f not in custom_names], who)  # a clear refusal
        self.names = names
        self.model_columns = np.array([names.index(f) for f in model_features], dtype=np.int64)
        self.strategy_columns = self.state.columns_of(rule.features, f"the {rule.name} strategy")
        #: Bars starting before this (ns) get NaN custom columns: set it to the first bar anybody reads, so
        #: the warm-up does not pay for the custom functions (the window still fills).
        self.custom_from_ns = 0

    def update(self, time_ns: int, open_: float, high: float, low: float, close: float, volume: float) -> list:
        """Feed one minute; ``[(LiveBar, row)]`` of the bars it completed (``row``: float64 array of :attr:`names`)."""
        return [self._row(bar) for bar in self.state.update(time_ns, open_, high, low, close, volume)]

    def flush(self) -> list:
        """The bar still being filled, completed (end of the stream)."""
        return [self._row(bar) for bar in self.state.flush()]

    def _row(self, bar):
        if self.custom is None:
            values = bar.features
        else:
            values = bar.features + self.custom.update(bar, compute=bar.start_ns >= self.custom_from_ns)
        return bar, np.asarray(values, dtype=np.float64)
