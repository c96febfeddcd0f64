"""Helpers of the backtest tests: run the plain-Python reference, compare trade tables, random signals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lab.backtest import StrategySignals
from lab.config import CostsConfig, RulesConfig
from lab.market.instruments import get_instrument
from tests.lab.backtest.reference import reference_backtest


def reference_trades(bars, minutes, signals: StrategySignals, rules=None, costs=None, instrument=None,
                     reversal_min_confidence=None) -> pd.DataFrame:
    """The reference implementation's trades as a DataFrame."""
    rules = rules or RulesConfig()
    costs = costs or CostsConfig()
    instrument = instrument or get_instrument("MES")
    level = None
    if rules.exit_on_opposite_signal:
        level = rules.full_size_threshold if reversal_min_confidence is None else reversal_min_confidence
    trades = reference_backtest(
        bars,
        signals.signal.fillna(0).astype(int).tolist(),
        signals.confidence.astype(float).tolist(),
        signals.probability.astype(float).tolist(),
        minutes,
        tick_size=instrument.tick_size,
        tick_value=instrument.tick_value_usd,
        target_ticks=signals.exits.profit_target_ticks,
        stop_ticks=signals.exits.stop_loss_ticks,
        time_stop_bars=signals.exits.time_stop_bars,
        entry_slippage_ticks=costs.entry_slippage_ticks,
        exit_slippage_ticks=costs.exit_slippage_ticks,
        commission=costs.commission_per_contract_usd,
        entry_threshold_full=rules.full_size_threshold,
        full_contracts=rules.full_size_contracts,
        half_contracts=rules.half_size_contracts,
        max_contracts=rules.max_position_contracts,
        last_entry_minutes=rules.last_entry_minutes_before_close,
        flatten_minutes=rules.flatten_minutes_before_close,
        daily_loss_limit=rules.daily_loss_limit_usd,
        pause_after_losses=rules.pause_after_consecutive_losses,
        pause_minutes=rules.pause_minutes,
        reversal_min_confidence=level,
        exit_signal=None if signals.exit_signal is None else signals.exit_signal.fillna(False).astype(bool).tolist(),
        exit_signal_reason=signals.exit_signal_reason,
        limit_through_ticks=rules.limit_through_ticks if rules.limit_fill == "through" else 0,
    )
    return pd.DataFrame(trades)


def assert_same_trades(engine: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Same trades: times, side, size, prices, reason, P&L to the cent, MFE/MAE, flags."""
    assert len(engine) == len(reference), f"engine {len(engine)} trades, reference {len(reference)}"
    if not len(engine):
        return
    for column in ("entry_time", "exit_time"):
        left = pd.DatetimeIndex(engine[column]).as_unit("ns")
        right = pd.DatetimeIndex(reference[column]).as_unit("ns")
        mismatch = np.flatnonzero(left != right)
        assert not len(mismatch), f"{column} differs first at trade {mismatch[0]}: {left[mismatch[0]]} vs {right[mismatch[0]]}"
    for column in ("side", "exit_reason", "contracts", "bars_held", "resolved_by_minutes"):
        left, right = engine[column].to_numpy(), reference[column].to_numpy()
        mismatch = np.flatnonzero(left != right)
        assert not len(mismatch), f"{column} differs first at trade {mismatch[0]}: {left[mismatch[0]]!r} vs {right[mismatch[0]]!r}"
    for column, tolerance in (("entry_price", 1e-9), ("exit_price", 1e-9), ("pnl_usd", 0.005),
                              ("mfe_ticks", 1e-9), ("mae_ticks", 1e-9)):
        diff = np.abs(engine[column].to_numpy(float) - reference[column].to_numpy(float))
        assert diff.max() < tolerance, f"{column} differs by {diff.max()} at trade {int(diff.argmax())}"
    left, right = engine["probability"].to_numpy(float), reference["probability"].to_numpy(float)
    assert np.array_equal(left, right, equal_nan=True)


def random_probability(bars: pd.DataFrame, seed: int, missing: float = 0.3, low: float = 0.15, high: float = 0.85) -> pd.Series:
    """Uniform P(up) in [low, high] with a fraction ``missing`` of NaN."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(low, high, len(bars))
    p[rng.random(len(bars)) < missing] = math.nan
    return pd.Series(p, index=bars.index, name="probability")
