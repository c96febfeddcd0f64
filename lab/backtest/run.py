"""Run a strategy's signals through the rules: pandas in, a trades table out.

Execution semantics (every number from :class:`lab.config.settings.RulesConfig`,
:class:`lab.config.settings.CostsConfig` and the instrument; MES: tick 0.25 points = $1.25):

Entry
    A signal is decided at a bar's close; the position opens at the NEXT bar's open plus
    ``entry_slippage_ticks`` against the position. The next bar must belong to the same session
    (a signal on a session's last bar is dropped). Entries are allowed when the entry bar starts at
    or before ``session_close - last_entry_minutes_before_close`` (15:45 on a normal day: the 15:45
    bar is the last allowed, a signal at the 15:40 close still enters, one at the 15:45 close does
    not) and before the flatten time. One position at a time: signals while a position is open are
    ignored (no pyramiding); a signal is acted on when the book is flat at the next open, which
    includes a position closed at that very open by a stop or target gap. Contracts: ``full_size_contracts`` when confidence >=
    ``full_size_threshold``, else ``half_size_contracts``, capped by ``max_position_contracts``.
Entry bar
    The position is live from the entry bar's open: the entry bar's high and low can fill the
    target or the stop (the whole bar after its open is assumed to follow the fill).
Profit target
    A limit ``profit_target_ticks`` from the entry fill, filled at exactly its price (no
    slippage). ``limit_fill = "through"`` (the default): only when a bar's high (long) / low
    (short) trades at least ``limit_through_ticks`` ticks beyond it (a touch may leave the order
    in the queue); ``"touch"``: when the high / low reaches it. A bar that opens that far beyond
    it also fills at the target price (never better).
Stop
    ``stop_loss_ticks`` from the entry fill, touched by the low (long) / high (short); fill = stop
    price less ``exit_slippage_ticks``. A bar after the entry bar that OPENS through the stop (a
    gap) fills at that open less slippage.
Both in one bar
    The 1-minute bars of that 5-minute bar decide, in time order, with the same rules per minute
    (a minute opening through a barrier is a gap); both inside one minute -> the stop. Without
    usable minutes -> the stop. ``resolved_by_minutes`` marks trades decided by minutes.
Time stop
    After ``time_stop_bars`` bars held, the entry bar counting as bar 1, the position is closed
    at the close of that bar (the 6th bar: a 10:00 entry leaves at the 10:25 bar's close, 10:30)
    less exit slippage; ``exit_time`` is the bar's end.
Flatten
    At the open of the first bar starting at or after ``session_close -
    flatten_minutes_before_close`` (the 15:55 bar, 12:55 on an early close) less exit slippage.
    A session whose data ends earlier flattens at its last bar's close.
Reversal
    With ``exit_on_opposite_signal``, an opposite signal with confidence >=
    ``reversal_min_confidence`` (default ``full_size_threshold``) at a bar's close exits at the
    next open less slippage; the same signal may then open the opposite position at that open if
    every entry rule allows it. A strategy exit signal (mean reversion's high-volatility exit)
    works the same way without the re-entry.
Precedence at an open
    flatten, then a scheduled market exit, then a stop gap, then a target gap.
Risk
    ``pnl_usd = (exit - entry) * side / tick_size * tick_value * contracts - commission *
    contracts``. Once the session's realised P&L is <= ``-daily_loss_limit_usd`` no entry for the
    rest of the session. After ``pause_after_consecutive_losses`` losing trades in a row
    (``pnl_usd < 0``; a trade with ``pnl_usd >= 0`` resets the count; the count resets each
    session and when a pause starts) no entry bar may start before ``exit_time + pause_minutes``.
Times
    ``entry_time`` is the entry bar's start; ``exit_time`` is the exit bar's start for fills at
    the open or inside the bar (target, stop), its end for fills at the close (time stop); the
    rules (the loss pause) count from ``exit_time``. ``exit_minute`` is the minute of the fill:
    ``exit_time`` for fills at an open or a close; for a fill inside a bar, the start of the first
    1-minute bar of it whose range reached the target or the stop (the minute that resolved it),
    ``NaT`` when no 1-minute bar did (no minutes given).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from lab.backtest import engine
from lab.backtest.signals import BacktestInputError, ExitParams, StrategySignals, is_full_size, position_contracts
from lab.config import CostsConfig, RulesConfig
from lab.market.instruments import Instrument, get_instrument
from lab.rules import entry_cutoffs_ns, target_beyond_points

__all__ = ["BacktestResult", "run_backtest", "trades_to_csv", "TRADE_COLUMNS", "empty_trades"]

NY = "America/New_York"
_NS_PER_MINUTE = 60_000_000_000
_BAR_COLUMNS = ("open", "high", "low", "close", "session", "session_open", "session_close")

#: Columns of the trades table, in order (the first nine are the ``trades.csv`` contract).
#: ``side``, ``exit_reason``, ``confidence_tier`` and ``time_of_day`` are pandas categoricals
#: with fixed categories (compare them with strings as usual).
TRADE_COLUMNS = (
    "entry_time", "exit_time", "side", "contracts", "entry_price", "exit_price", "exit_reason",
    "pnl_usd", "probability", "confidence", "confidence_tier", "mfe_ticks", "mae_ticks",
    "bars_held", "resolved_by_minutes", "session", "time_of_day", "exit_minute",
)


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of one backtest.

    Attributes
    ----------
    trades : pandas.DataFrame
        One row a trade, columns :data:`TRADE_COLUMNS`, in time order.
    session_dates : pandas.DatetimeIndex
        Every session date of the bars (naive midnights), traded or not: the denominator of
        the per-day metrics.
    diagnostics : dict of str to int
        Engine counters (:data:`lab.backtest.engine.COUNTER_NAMES`) plus ``bars``.
    settings : dict of str to Any
        The rule values used, flat, for logging.
    """

    trades: pd.DataFrame
    session_dates: pd.DatetimeIndex
    diagnostics: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def engine_params(rules: RulesConfig, costs: CostsConfig, instrument: Instrument, bar_minutes: int = 5,
                  exits: ExitParams | None = None, reversal_min_confidence: float | None = None) -> engine.EngineParams:
    """The engine's rule values (:class:`engine.EngineParams`): the one mapping from the configuration,
    used by :func:`run_backtest` and the paper trader alike.

    Parameters
    ----------
    rules, costs, instrument
        As handed to the backtest.
    bar_minutes : int, default 5
        Bar length, minutes.
    exits : ExitParams, optional
        The strategy's exits; default the rules' (the direction strategy).
    reversal_min_confidence : float, optional
        Confidence an opposite signal needs to exit; default ``rules.full_size_threshold``; never
        when ``rules.exit_on_opposite_signal`` is off.
    """
    exits = (exits or ExitParams.from_rules(rules)).validate()
    if reversal_min_confidence is None:
        reversal_min_confidence = rules.full_size_threshold
    reversal = float(reversal_min_confidence) if rules.exit_on_opposite_signal else np.inf
    return engine.EngineParams(
        tick_size=float(instrument.tick_size), tick_value=float(instrument.tick_value_usd),
        target_ticks=float(exits.profit_target_ticks), stop_ticks=float(exits.stop_loss_ticks),
        time_stop_bars=int(exits.time_stop_bars), entry_slippage_ticks=float(costs.entry_slippage_ticks),
        exit_slippage_ticks=float(costs.exit_slippage_ticks), commission=float(costs.commission_per_contract_usd),
        daily_loss_limit=float(rules.daily_loss_limit_usd), pause_after_losses=int(rules.pause_after_consecutive_losses),
        pause_ns=int(rules.pause_minutes) * _NS_PER_MINUTE, reversal_min_confidence=reversal,
        bar_ns=bar_minutes * _NS_PER_MINUTE,
        target_beyond=target_beyond_points(rules.limit_fill, rules.limit_through_ticks, instrument.tick_size),
    )


_BUFFERS = threading.local()


def _trades_buffer(records: int) -> np.ndarray:
    """This thread's reusable trades record buffer, at least ``records`` long.

    A fresh 3 MB array per call costs fresh pages from the allocator (about 1 ms per 36 K bars);
    the trades table copies every field out of it, so the buffer can be reused by the next call.
    """
    buffer = getattr(_BUFFERS, "trades", None)
    if buffer is None or len(buffer) < records:
        buffer = _BUFFERS.trades = np.empty(records, engine.TRADE_DTYPE)
    return buffer[:records]


def run_backtest(
    bars: pd.DataFrame,
    signals: StrategySignals,
    minutes: pd.DataFrame | None = None,
    *,
    rules: RulesConfig | None = None,
    costs: CostsConfig | None = None,
    instrument: Instrument | None = None,
    bar_minutes: int = 5,
    reversal_min_confidence: float | None = None,
) -> BacktestResult:
    """Simulate ``signals`` on ``bars`` under the trading rules (see the module docstring).

    Parameters
    ----------
    bars : pandas.DataFrame
        5-minute regular-session bars: tz-aware DatetimeIndex of bar starts, float ``open``,
        ``high``, ``low``, ``close`` (points), ``session`` (naive session date),
        ``session_open`` and ``session_close`` (tz-aware).
    signals : StrategySignals
        Per-bar signal, confidence, probability and exits, aligned to ``bars``.
    minutes : pandas.DataFrame, optional
        1-minute bars (tz-aware index of minute starts, ``open``/``high``/``low``) used only to
        order a target and a stop inside one 5-minute bar. Without it such bars take the stop.
    rules : RulesConfig, optional
        Trading rules; default ``RulesConfig()``. The strategy's ``exits`` replace its
        target/stop/time-stop values.
    costs : CostsConfig, optional
        Commission (USD per contract per round trip) and slippage (ticks); default
        ``CostsConfig()``.
    instrument : Instrument, optional
        Tick size and value; default MES.
    bar_minutes : int, default 5
        Length of one bar, minutes (the end of a time-stop bar).
    reversal_min_confidence : float, optional
        Confidence an opposite signal needs to exit (when ``rules.exit_on_opposite_signal``);
        default ``rules.full_size_threshold``.

    Returns
    -------
    BacktestResult

    Raises
    ------
    BacktestInputError
        A missing column, a naive or unsorted index, or signals not aligned to ``bars``.
    """
    rules = rules or RulesConfig()
    costs = costs or CostsConfig()
    instrument = instrument or get_instrument("MES")
    if bar_minutes < 1:
        raise BacktestInputError(f"bar_minutes = {bar_minutes!r} must be a positive number of minutes, e.g. 5")
    exits = signals.exits.validate()
    if reversal_min_confidence is None:
        reversal_min_confidence = rules.full_size_threshold
    arrays = prepare_arrays(bars, signals, minutes, rules)
    params = engine_params(rules, costs, instrument, bar_minutes, exits, reversal_min_confidence)
    count, trade_records, counters = engine.simulate_into(*arrays.kernel_arrays(), params, _trades_buffer(len(bars) + 1))
    engine.fill_exit_minutes(trade_records[:count], params, arrays.minute_ns, arrays.minute_open, arrays.minute_high,
                             arrays.minute_low)
    trades = trades_frame(trade_records[:count], arrays, rules, signals.exit_signal_reason)
    diagnostics = {"bars": len(bars), **{name: int(counters[0][name]) for name in engine.COUNTER_NAMES}}
    settings = {
        "strategy": signals.name,
        "instrument": instrument.symbol,
        "profit_target_ticks": exits.profit_target_ticks,
        "stop_loss_ticks": exits.stop_loss_ticks,
        "time_stop_bars": exits.time_stop_bars,
        "reversal_min_confidence": reversal_min_confidence,
        "limit_fill": rules.limit_fill,
        "limit_through_ticks": rules.limit_through_ticks,
        "bar_minutes": bar_minutes,
        "minutes_given": minutes is not None,
    }
    days = arrays.session
    if len(days):
        days = days[np.r_[True, days[1:] != days[:-1]]]
    sessions = pd.DatetimeIndex(np.unique(days).astype("datetime64[D]").astype("datetime64[ns]"), name="session")
    return BacktestResult(trades, sessions, diagnostics, settings)


def trades_to_csv(trades: pd.DataFrame) -> str:
    """The trades table as CSV text, times in ISO 8601 with their UTC offset.

    ``entry_time``, ``exit_time`` and ``exit_minute`` look like ``2023-03-01T10:05:00-05:00``
    (America/New_York; ``exit_minute`` empty when unknown);
    ``session`` is written as ``YYYY-MM-DD``; ``pnl_usd`` to the cent. The caller writes the text
    wherever it wants (the core never takes a path).

    Parameters
    ----------
    trades : pandas.DataFrame
        A trades table from :func:`run_backtest`.

    Returns
    -------
    str
    """
    missing = [c for c in TRADE_COLUMNS[:9] if c not in trades.columns]
    if missing:
        raise BacktestInputError(
            f"trades table lacks column(s) {', '.join(missing)}; pass BacktestResult.trades from run_backtest"
        )
    out = trades.copy()
    for column in ("entry_time", "exit_time", "exit_minute"):
        if column in out.columns:  # exit_minute: empty when unknown (NaT)
            out[column] = ["" if pd.isna(t) else t.isoformat() for t in pd.DatetimeIndex(out[column]).tz_convert(NY)]
    if "session" in out.columns:
        out["session"] = pd.DatetimeIndex(out["session"]).strftime("%Y-%m-%d")
    out["pnl_usd"] = out["pnl_usd"].round(2)
    return out.to_csv(index=False, lineterminator="\n")


def empty_trades() -> pd.DataFrame:
    """A trades table with no rows and the right columns and dtypes."""
    return trades_frame(np.empty(0, engine.TRADE_DTYPE), None, RulesConfig(), "signal")


# -- internals -------------------------------------------------------------------------------


def _ns(values: Any) -> np.ndarray:
    index = pd.DatetimeIndex(values)
    return np.ascontiguousarray(index.as_unit("ns").asi8)


class _Arrays(NamedTuple):
    """The kernel's inputs, plus what the trades table needs."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    start_ns: np.ndarray
    session: np.ndarray  # days since the epoch
    last_entry_ns: np.ndarray
    flatten_ns: np.ndarray
    signal: np.ndarray
    confidence: np.ndarray
    contracts: np.ndarray
    exit_signal: np.ndarray
    minute_ns: np.ndarray
    minute_open: np.ndarray
    minute_high: np.ndarray
    minute_low: np.ndarray
    open_ns: np.ndarray
    close_ns: np.ndarray
    probability: np.ndarray

    def kernel_arrays(self) -> tuple:
        return self[:16]


def prepare_arrays(
    bars: pd.DataFrame, signals: StrategySignals, minutes: pd.DataFrame | None, rules: RulesConfig
) -> _Arrays:
    """Validate the inputs and turn them into the kernel's contiguous arrays (private helper)."""
    if not isinstance(bars, pd.DataFrame):
        raise BacktestInputError(f"bars must be a pandas DataFrame, got {type(bars).__name__}")
    missing = [c for c in _BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise BacktestInputError(
            f"bars lack column(s) {', '.join(missing)}; build them with the lab's session bars "
            "(open/high/low/close plus session, session_open, session_close)"
        )
    if not isinstance(bars.index, pd.DatetimeIndex) or bars.index.tz is None:
        raise BacktestInputError(
            "bars must have a tz-aware DatetimeIndex of bar starts; localize it, e.g. "
            "bars.tz_localize('America/New_York')"
        )
    start_ns = _ns(bars.index)
    if len(start_ns) > 1 and not (np.diff(start_ns) > 0).all():
        raise BacktestInputError("bars index must be sorted and unique; call bars.sort_index() and drop duplicates")
    prices = [np.ascontiguousarray(bars[c].to_numpy(np.float64)) for c in ("open", "high", "low", "close")]
    if any(np.isnan(x).any() for x in prices):
        raise BacktestInputError("bars hold NaN prices; drop or fill those bars before the backtest")
    session = bars["session"].to_numpy().astype("datetime64[D]").astype(np.int64)
    close_ns = _ns(bars["session_close"])
    signal = _aligned(signals.signal, bars, "signal").fillna(0).to_numpy(np.int8)
    if not np.isin(signal, (-1, 0, 1)).all():
        raise BacktestInputError("signals.signal must hold only -1, 0 and +1 (short, nothing, long)")
    confidence = np.ascontiguousarray(_aligned(signals.confidence, bars, "confidence").to_numpy(np.float64))
    probability = _aligned(signals.probability, bars, "probability").to_numpy(np.float64)
    active = signal != 0
    if np.isnan(confidence[active]).any():
        raise BacktestInputError("signals.confidence is NaN on a bar with a signal; give every signal a confidence")
    contracts = np.where(active, position_contracts(np.nan_to_num(confidence), rules), 0).astype(np.int64)
    if signals.exit_signal is None:
        exit_signal = np.zeros(len(bars), np.bool_)
    else:
        exit_signal = _aligned(signals.exit_signal, bars, "exit_signal").fillna(False).to_numpy(np.bool_)
    last_entry_ns, flatten_ns = entry_cutoffs_ns(close_ns, rules.last_entry_minutes_before_close,
                                                 rules.flatten_minutes_before_close)
    return _Arrays(
        *prices, start_ns, session, last_entry_ns, flatten_ns,
        signal, confidence, contracts, np.ascontiguousarray(exit_signal), *_minute_arrays(minutes),
        _ns(bars["session_open"]), close_ns, probability,
    )


def _aligned(series: pd.Series, bars: pd.DataFrame, name: str) -> pd.Series:
    if not isinstance(series, pd.Series):
        series = pd.Series(np.asarray(series), index=bars.index)
    if len(series) != len(bars) or not series.index.equals(bars.index):
        raise BacktestInputError(
            f"signals.{name} is not aligned to the bars ({len(series)} rows vs {len(bars)}); "
            "reindex it with .reindex(bars.index)"
        )
    return series


def _minute_arrays(minutes: pd.DataFrame | None) -> tuple:
    if minutes is None or len(minutes) == 0:
        empty = np.empty(0, np.float64)
        return np.empty(0, np.int64), empty, empty, empty
    if not isinstance(minutes.index, pd.DatetimeIndex) or minutes.index.tz is None:
        raise BacktestInputError(
            "minutes must have a tz-aware DatetimeIndex of minute starts; localize it, e.g. "
            "minutes.tz_localize('America/New_York')"
        )
    missing = [c for c in ("open", "high", "low") if c not in minutes.columns]
    if missing:
        raise BacktestInputError(f"minutes lack column(s) {', '.join(missing)}; give 1-minute open/high/low")
    if not minutes.index.is_monotonic_increasing:
        raise BacktestInputError("minutes index must be sorted; call minutes.sort_index()")
    return (
        _ns(minutes.index),
        np.ascontiguousarray(minutes["open"].to_numpy(np.float64)),
        np.ascontiguousarray(minutes["high"].to_numpy(np.float64)),
        np.ascontiguousarray(minutes["low"].to_numpy(np.float64)),
    )


def reason_names(exit_signal_reason: str) -> np.ndarray:
    names = [""] * 6
    names[engine.REASON_TARGET] = "target"
    names[engine.REASON_STOP] = "stop"
    names[engine.REASON_TIME] = "time"
    names[engine.REASON_FLATTEN] = "flatten"
    names[engine.REASON_REVERSAL] = "reversal"
    names[engine.REASON_EXIT_SIGNAL] = exit_signal_reason
    return np.array(names, dtype=object)


def _categorical(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(names))


def trades_frame(records: np.ndarray, arrays: _Arrays | None, rules, exit_signal_reason) -> pd.DataFrame:
    """The trades table from the engine's :data:`lab.backtest.engine.TRADE_DTYPE` records."""
    # one contiguous array a field, copied once (a field read in place walks the records with a stride)
    field = {name: np.array(records[name], copy=True, order="C") for name in engine.TRADE_DTYPE.names}  # own copies: the records may be a reused buffer
    entry_idx = field["entry_index"]
    signal_idx = entry_idx - 1
    if arrays is None:
        entry_ns = np.empty(0, np.int64)
        open_ns = close_ns = session = entry_ns
        probability = confidence = np.empty(0, np.float64)
    else:
        entry_ns = arrays.start_ns[entry_idx]
        open_ns, close_ns = arrays.open_ns[entry_idx], arrays.close_ns[entry_idx]
        session = arrays.session[entry_idx]
        probability, confidence = arrays.probability[signal_idx], arrays.confidence[signal_idx]
    hour = 60 * _NS_PER_MINUTE
    tod = np.where(entry_ns < open_ns + hour, 0, np.where(entry_ns >= close_ns - hour, 2, 1))
    reasons = tuple(reason_names(exit_signal_reason))
    return pd.DataFrame({
        "entry_time": _ny_times(entry_ns),
        "exit_time": _ny_times(field["exit_ns"]),
        "side": _categorical((field["side"] < 0).astype(np.int64), ("long", "short")),
        "contracts": field["contracts"],
        "entry_price": field["entry_price"],
        "exit_price": field["exit_price"],
        "exit_reason": _categorical(field["reason"].astype(np.int64), reasons),
        "pnl_usd": np.round(field["pnl_usd"], 2),
        "probability": probability,
        "confidence": confidence,
        "confidence_tier": _categorical((~is_full_size(confidence, rules)).astype(np.int64), ("full", "half")),
        "mfe_ticks": field["mfe_ticks"],
        "mae_ticks": field["mae_ticks"],
        "bars_held": field["bars_held"],
        "resolved_by_minutes": field["resolved"],
        "session": session.astype("datetime64[D]").astype("datetime64[ns]"),
        "time_of_day": _categorical(tod.astype(np.int64), ("first_hour", "midday", "last_hour")),
        "exit_minute": _ny_times(field["exit_minute_ns"]),
    })


def _ny_times(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC").tz_convert(NY)
