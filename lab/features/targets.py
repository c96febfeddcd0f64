"""Targets: what a model is asked to predict at a bar's close. No label reaches past its session.

``target_3bar``, ``target_6bar``, ``target_12bar``
    Direction: 1.0 when ``close[t+h] - close[t] >= min_move_ticks`` ticks, 0.0 when
    ``<= -min_move_ticks`` ticks, NaN (not labelled) for smaller moves or when ``t+h`` is not
    in the same session.
``target_vol``
    Volatility: 1.0 when the range of the next ``h`` bars (max high - min low of bars
    ``t+1..t+h``, as a fraction of ``close[t]``) is above the ``percentile``-th percentile of
    the *realised* ``h``-bar ranges of the trailing ``lookback`` bars (each known at its own
    close), else 0.0; NaN when the next ``h`` bars leave the session or the history is short.
``target_trade``
    The trade's own outcome under the backtest's rules for a *long* entry signalled at ``t``:
    entry at the open of ``t+1`` plus entry slippage; profit target and stop measured from the
    fill; exit on the target (a resting limit: under ``rules.limit_fill = "through"`` a bar must
    trade ``limit_through_ticks`` ticks beyond it, under ``"touch"`` reach it), the stop (minus exit
    slippage; a bar opening through the stop fills at its open), the time stop at the close of the
    ``time_stop_bars``-th bar, or the flatten bar's open. 1.0 when the trade's P&L after commission is > 0, else 0.0; NaN when the
    rules forbid the entry (after the last entry time). When target and stop both lie inside one
    5-minute bar the label takes the stop (the backtest resolves the order with 1-minute bars;
    the label is the conservative reading).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.config import TARGET_NAMES, CostsConfig, RulesConfig, TargetsConfig
from lab.errors import ConfigError
from lab.market.instruments import Instrument
from lab.rules import (barrier_touches, entry_cutoffs_ns, entry_time_allowed, is_flatten_bar, stop_gapped,
                       target_beyond_points, target_gapped)
from lab.market.sessions import epoch_ns

__all__ = ["compute_targets", "direction_target", "volatility_target", "trade_target", "target_horizon_bars"]


def target_horizon_bars(target: str, targets: TargetsConfig | None = None, rules: RulesConfig | None = None) -> int:
    """How many bars ahead a target's label looks: its purge length (the one definition).

    Parameters
    ----------
    target : str
        ``target_3bar`` (3), ``target_6bar`` (6), ``target_12bar`` (12), ``target_vol``
        (``targets.volatility_horizon_bars``, default 6) or ``target_trade``
        (``rules.time_stop_bars + 1``, default 7: entry at the next bar's open, then the
        time stop).
    targets, rules : TargetsConfig, RulesConfig, optional
        Default: the built-in defaults.

    Returns
    -------
    int
        Horizon in bars.

    Raises
    ------
    ConfigError
        Unknown target.
    """
    targets = targets or TargetsConfig()
    rules = rules or RulesConfig()
    if target == "target_vol":
        return int(targets.volatility_horizon_bars)
    if target == "target_trade":
        return int(rules.time_stop_bars) + 1  # entry on the next bar, then time_stop_bars held
    if target in TARGET_NAMES:
        return int(target[len("target_") : -len("bar")])
    raise ConfigError(f"target = {target!r} has no known horizon; use one of {', '.join(TARGET_NAMES)}")


def _same_session_ahead(session: np.ndarray, h: int) -> np.ndarray:
    """True where bar ``t+h`` exists and belongs to bar ``t``'s session."""
    ok = np.zeros(len(session), dtype=bool)
    if h < len(session):
        ok[: len(session) - h] = session[h:] == session[:-h]
    return ok


def direction_target(bars: pd.DataFrame, horizon_bars: int, min_move_points: float) -> pd.Series:
    """Direction label over ``horizon_bars`` with a minimum move in points (see module doc)."""
    close = bars["close"].to_numpy()
    ok = _same_session_ahead(bars["session"].to_numpy(), horizon_bars)
    move = np.full(len(close), np.nan)
    move[:-horizon_bars] = close[horizon_bars:] - close[:-horizon_bars]
    label = np.where(move >= min_move_points - 1e-9, 1.0, np.where(move <= -min_move_points + 1e-9, 0.0, np.nan))
    label[~ok] = np.nan
    return pd.Series(label, index=bars.index, name=f"target_{horizon_bars}bar")


def _forward_extreme(values: np.ndarray, h: int, fn) -> np.ndarray:
    """fn over values[t+1 .. t+h] for each t (NaN where fewer than h bars follow)."""
    out = np.full(len(values), np.nan)
    if h >= len(values):
        return out
    window = np.lib.stride_tricks.sliding_window_view(values[1:], h)
    out[: len(window)] = fn(window, axis=1)
    return out


def volatility_target(bars: pd.DataFrame, horizon_bars: int, lookback_bars: int, percentile: float) -> pd.Series:
    """Volatility regime label: future range above the trailing percentile of realised ranges."""
    close = bars["close"].to_numpy()
    high, low = bars["high"].to_numpy(), bars["low"].to_numpy()
    session = bars["session"].to_numpy()
    future = (_forward_extreme(high, horizon_bars, np.max) - _forward_extreme(low, horizon_bars, np.min)) / close
    future[~_same_session_ahead(session, horizon_bars)] = np.nan
    # Realised range of bars t-h+1..t, known at t's close; only within one session.
    realised = (
        pd.Series(high).rolling(horizon_bars).max() - pd.Series(low).rolling(horizon_bars).min()
    ).to_numpy() / close
    same_back = np.zeros(len(session), dtype=bool)
    back = horizon_bars - 1
    same_back[back:] = session[back:] == session[: len(session) - back] if back else True
    realised[~same_back] = np.nan
    threshold = (
        pd.Series(realised)
        .rolling(lookback_bars, min_periods=max(lookback_bars // 2, 1))
        .quantile(percentile / 100.0)
        .to_numpy()
    )
    label = np.where(future > threshold, 1.0, 0.0)
    label[np.isnan(future) | np.isnan(threshold)] = np.nan
    return pd.Series(label, index=bars.index, name="target_vol")


def trade_target(bars: pd.DataFrame, rules: RulesConfig, costs: CostsConfig, instrument: Instrument) -> pd.Series:
    """Whether a long trade signalled at each bar's close would make money (see module doc)."""
    n = len(bars)
    tick = instrument.tick_size
    open_, high, low, close = (bars[c].to_numpy() for c in ("open", "high", "low", "close"))
    session = bars["session"].to_numpy()
    stamp = epoch_ns(bars.index)
    close_ns = epoch_ns(bars["session_close"])
    last_entry, flatten = entry_cutoffs_ns(close_ns, rules.last_entry_minutes_before_close,
                                           rules.flatten_minutes_before_close)

    label = np.full(n, np.nan)
    entry_pos = np.arange(n) + 1
    valid = entry_pos < n
    valid[valid] &= session[entry_pos[valid]] == session[valid.nonzero()[0]]
    valid[valid] &= entry_time_allowed(stamp[entry_pos[valid]], last_entry[entry_pos[valid]], flatten[entry_pos[valid]])
    candidates = np.flatnonzero(valid)
    if len(candidates) == 0:
        return pd.Series(label, index=bars.index, name="target_trade")
    fill = open_[candidates + 1] + costs.entry_slippage_ticks * tick
    target_price = fill + rules.profit_target_ticks * tick
    stop_price = fill - rules.stop_loss_ticks * tick
    beyond = target_beyond_points(rules.limit_fill, rules.limit_through_ticks, tick)
    exit_price = np.full(len(candidates), np.nan)
    for k in range(rules.time_stop_bars):
        pos = candidates + 1 + k
        open_now = ~np.isnan(exit_price)
        in_range = pos < n
        pos_c = np.minimum(pos, n - 1)
        alive = ~open_now & in_range & (session[pos_c] == session[candidates])
        # Flatten: the bar starting at the flatten time exits at its open.
        flat = alive & is_flatten_bar(stamp[pos_c], flatten[pos_c])
        exit_price[flat] = open_[pos_c][flat] - costs.exit_slippage_ticks * tick
        alive &= ~flat
        # After the entry bar, an open through the stop fills at that open, one through the target at the target.
        gap_stop = alive & (k > 0) & stop_gapped(1, open_[pos_c], stop_price)
        exit_price[gap_stop] = open_[pos_c][gap_stop] - costs.exit_slippage_ticks * tick
        alive &= ~gap_stop
        gap_target = alive & (k > 0) & target_gapped(1, open_[pos_c], target_price, beyond)
        exit_price[gap_target] = target_price[gap_target]
        alive &= ~gap_target
        touched_target, touched_stop = barrier_touches(1, high[pos_c], low[pos_c], target_price, stop_price,
                                                       beyond)
        hit_stop = alive & touched_stop  # both inside the bar: the stop (the conservative reading)
        exit_price[hit_stop] = stop_price[hit_stop] - costs.exit_slippage_ticks * tick
        alive &= ~hit_stop
        hit_target = alive & touched_target
        exit_price[hit_target] = target_price[hit_target]
        alive &= ~hit_target
        if k == rules.time_stop_bars - 1:
            exit_price[alive] = close[pos_c][alive] - costs.exit_slippage_ticks * tick
        # Trades whose session ended early (no flatten bar in data): exit at the last close.
        ended = ~open_now & ~alive & np.isnan(exit_price)
        if ended.any():
            last = np.maximum(np.where(in_range, pos_c - 1, n - 1), candidates + 1)
            exit_price[ended] = close[last][ended] - costs.exit_slippage_ticks * tick
    pnl_points = exit_price - fill
    pnl_usd = pnl_points / tick * instrument.tick_value_usd - costs.commission_per_contract_usd
    label[candidates] = (pnl_usd > 0).astype("float64")
    return pd.Series(label, index=bars.index, name="target_trade")


def compute_targets(
    bars: pd.DataFrame, targets: TargetsConfig, rules: RulesConfig, costs: CostsConfig, instrument: Instrument
) -> pd.DataFrame:
    """All five targets (see :data:`lab.config.settings.TARGET_NAMES`) for every bar."""
    min_move = targets.min_move_ticks * instrument.tick_size
    columns = [direction_target(bars, h, min_move) for h in sorted(targets.direction_horizons_bars)]
    columns.append(
        volatility_target(bars, targets.volatility_horizon_bars, targets.volatility_lookback_bars, targets.volatility_percentile)
    )
    columns.append(trade_target(bars, rules, costs, instrument))
    return pd.concat(columns, axis=1)
