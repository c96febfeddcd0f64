"""A second, plain-Python implementation of the trading rules, written from the rule text.

It shares no code with :mod:`lab.backtest` (no arrays, no engine): it walks pandas Timestamps
and Python floats bar by bar, derives each session's cut-off times from ``session_close`` with
``Timedelta`` arithmetic and finds a 5-minute bar's minutes by time. Slow, obvious, and the
yardstick the numba engine is compared to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

EPS = 1e-9


@dataclass
class Position:
    side: int
    contracts: int
    entry_bar: int
    fill: float
    target: float
    stop: float
    probability: float
    confidence: float
    best: float
    worst: float


def reference_backtest(
    bars: pd.DataFrame,
    signal: list[int],
    confidence: list[float],
    probability: list[float],
    minutes: pd.DataFrame | None,
    *,
    tick_size: float,
    tick_value: float,
    target_ticks: float,
    stop_ticks: float,
    time_stop_bars: int,
    entry_slippage_ticks: float,
    exit_slippage_ticks: float,
    commission: float,
    entry_threshold_full: float,
    full_contracts: int,
    half_contracts: int,
    max_contracts: int,
    last_entry_minutes: int,
    flatten_minutes: int,
    daily_loss_limit: float,
    pause_after_losses: int,
    pause_minutes: int,
    reversal_min_confidence: float | None,
    exit_signal: list[bool] | None = None,
    exit_signal_reason: str = "signal",
    limit_through_ticks: int = 0,
) -> list[dict]:
    """Trades as dicts: entry_time, exit_time, side, contracts, entry_price, exit_price,
    exit_reason, pnl_usd, probability, mfe_ticks, mae_ticks, bars_held, resolved_by_minutes."""
    times = list(bars.index)
    opens, highs = bars["open"].tolist(), bars["high"].tolist()
    lows, closes = bars["low"].tolist(), bars["close"].tolist()
    sessions = list(bars["session"])
    closes_at = list(bars["session_close"])
    five = pd.Timedelta(minutes=5)
    cutoffs = {
        day: (close - pd.Timedelta(minutes=flatten_minutes), close - pd.Timedelta(minutes=last_entry_minutes))
        for day, close in zip(sessions, closes_at)
    }

    def minutes_of(start: pd.Timestamp) -> list[tuple[float, float, float]]:
        """The 1-minute bars starting in [start, start + 5 min), in time order."""
        if minutes is None:
            return []
        rows = minutes.loc[start : start + pd.Timedelta(seconds=299)]
        return list(zip(rows["open"].tolist(), rows["high"].tolist(), rows["low"].tolist()))
    entry_slip = entry_slippage_ticks * tick_size
    exit_slip = exit_slippage_ticks * tick_size
    beyond = limit_through_ticks * tick_size  # a target fills only this far beyond it (0: on a touch)
    trades: list[dict] = []
    pos: Position | None = None
    pending: str | None = None
    day = None
    realised = 0.0
    streak = 0
    paused_until = None
    stopped_for_day = False

    def book(exit_bar: int, price: float, reason: str, when: pd.Timestamp, held: int, resolved: bool) -> None:
        nonlocal realised, streak, paused_until, stopped_for_day, pos
        pnl = (price - pos.fill) * pos.side / tick_size * tick_value * pos.contracts - commission * pos.contracts
        trades.append(
            dict(
                entry_time=times[pos.entry_bar], exit_time=when, side="long" if pos.side > 0 else "short",
                contracts=pos.contracts, entry_price=pos.fill, exit_price=price, exit_reason=reason,
                pnl_usd=pnl, probability=pos.probability, mfe_ticks=max(pos.best, 0.0) / tick_size,
                mae_ticks=max(pos.worst, 0.0) / tick_size, bars_held=held, resolved_by_minutes=resolved,
            )
        )
        realised += pnl
        if pnl < 0:
            streak += 1
            if pause_after_losses > 0 and streak >= pause_after_losses:
                paused_until = when + pd.Timedelta(minutes=pause_minutes)
                streak = 0
        else:
            streak = 0
        if realised <= -daily_loss_limit + EPS:
            stopped_for_day = True
        pos = None

    def favourable(price: float) -> float:
        return (price - pos.fill) * pos.side

    for i, now in enumerate(times):
        if sessions[i] != day:
            day = sessions[i]
            realised, streak, paused_until, stopped_for_day, pending = 0.0, 0, None, False, None
        flatten_at, last_entry_at = cutoffs[sessions[i]]

        # the open
        if pos is not None:
            o = opens[i]
            reason = price = None
            if now >= flatten_at:
                reason, price = "flatten", o - pos.side * exit_slip
            elif pending is not None:
                reason, price = pending, o - pos.side * exit_slip
            elif i > pos.entry_bar and favourable(o) <= favourable(pos.stop) + EPS:
                reason, price = "stop", o - pos.side * exit_slip
            elif i > pos.entry_bar and favourable(o) >= favourable(pos.target) + beyond - EPS:
                reason, price = "target", pos.target
            if reason is not None:
                pos.best = max(pos.best, favourable(o))
                pos.worst = max(pos.worst, -favourable(o))
                book(i, price, reason, now, i - pos.entry_bar, False)
        pending = None

        # entry on the previous bar's signal
        if i > 0 and sessions[i - 1] == sessions[i] and signal[i - 1] != 0 and pos is None:
            allowed = now <= last_entry_at and now < flatten_at and not stopped_for_day
            if paused_until is not None and now < paused_until:
                allowed = False
            if allowed:
                side = signal[i - 1]
                conf = confidence[i - 1]
                size = full_contracts if conf >= entry_threshold_full - 1e-12 else half_contracts
                fill = opens[i] + side * entry_slip
                pos = Position(
                    side=side, contracts=min(size, max_contracts), entry_bar=i, fill=fill,
                    target=fill + side * target_ticks * tick_size, stop=fill - side * stop_ticks * tick_size,
                    probability=probability[i - 1], confidence=conf,
                    best=(opens[i] - fill) * side, worst=(fill - opens[i]) * side,
                )

        # inside the bar
        if pos is not None:
            if pos.side > 0:
                touch_target, touch_stop = highs[i] >= pos.target + beyond - EPS, lows[i] <= pos.stop + EPS
                best_price, worst_price = min(highs[i], pos.target), max(lows[i], pos.stop)
            else:
                touch_target, touch_stop = lows[i] <= pos.target - beyond + EPS, highs[i] >= pos.stop - EPS
                best_price, worst_price = max(lows[i], pos.target), min(highs[i], pos.stop)
            pos.best = max(pos.best, favourable(best_price))
            pos.worst = max(pos.worst, -favourable(worst_price))
            held = i - pos.entry_bar + 1
            if touch_target and touch_stop:
                reason, price, resolved = "stop", pos.stop - pos.side * exit_slip, False
                for mo, mh, ml in minutes_of(now):
                    if favourable(mo) <= favourable(pos.stop) + EPS:
                        reason, price, resolved = "stop", mo - pos.side * exit_slip, True
                        break
                    if favourable(mo) >= favourable(pos.target) + beyond - EPS:
                        reason, price, resolved = "target", pos.target, True
                        break
                    hi_fav, lo_fav = favourable(mh), favourable(ml)
                    up, down = max(hi_fav, lo_fav), min(hi_fav, lo_fav)
                    reach_target = up >= favourable(pos.target) + beyond - EPS
                    reach_stop = down <= favourable(pos.stop) + EPS
                    if reach_stop:  # alone, or together with the target: the stop
                        resolved = True
                        break
                    if reach_target:
                        reason, price, resolved = "target", pos.target, True
                        break
                book(i, price, reason, now, held, resolved)
            elif touch_target:
                book(i, pos.target, "target", now, held, False)
            elif touch_stop:
                book(i, pos.stop - pos.side * exit_slip, "stop", now, held, False)
            elif held >= time_stop_bars:
                book(i, closes[i] - pos.side * exit_slip, "time", now + five, held, False)
            elif i + 1 == len(times) or sessions[i + 1] != sessions[i]:
                book(i, closes[i] - pos.side * exit_slip, "flatten", now + five, held, False)

        # the close
        if pos is not None and i + 1 < len(times) and sessions[i + 1] == sessions[i]:
            if (
                reversal_min_confidence is not None
                and signal[i] == -pos.side
                and not math.isnan(confidence[i])
                and confidence[i] >= reversal_min_confidence - 1e-12
            ):
                pending = "reversal"
            elif exit_signal is not None and exit_signal[i]:
                pending = exit_signal_reason
    return trades
