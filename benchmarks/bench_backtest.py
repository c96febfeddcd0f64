"""Benchmark of the backtest engine: prints figures, asserts nothing.

    python benchmarks/bench_backtest.py [--bars 36000] [--repeat 21] [--no-backtesting-py]

Figures (medians of ``--repeat`` runs, on synthetic bars, default 36,000, about the 2024-2025
test window; the fastest run is printed beside a median: on a busy machine a call of a few
milliseconds is often preempted, and only figures taken side by side at the same time compare):

* numba kernel time per 36 K bars after compilation (arrays in, arrays out);
* ``run_backtest`` end to end per 36 K bars (validation, array preparation, kernel, trades table);
* a fresh Python process's import + first call with the on-disk numba cache warm;
* backtesting.py (``pip install backtesting``) on the same simple rules (signal at a bar's close,
  entry at the next open, 6-tick target, 8-tick stop, 6-bar time stop, one contract), and the
  ratio to the numba kernel.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

import _common  # this checkout first on the import path
from _common import ROOT

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar

from lab.backtest import engine, run_backtest  # noqa: E402
from lab.backtest.run import _NS_PER_MINUTE, prepare_arrays  # noqa: E402
from lab.config import CostsConfig, RulesConfig  # noqa: E402
from lab.strategies import direction_signals  # noqa: E402

NY = "America/New_York"
TICK = 0.25


def synthetic(n_bars: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_bars`` 5-minute XNYS bars (random walk on ticks) and their 1-minute bars."""
    import exchange_calendars as xcals

    calendar = xcals.get_calendar("XNYS", start="2019-01-01", end="2030-12-31")
    schedule = calendar.schedule.loc["2024-01-01":]
    stamps, opens, closes = [], [], []
    total = 0
    for session, row in schedule.iterrows():
        o, c = row["open"].tz_convert(NY), row["close"].tz_convert(NY)
        minutes = pd.date_range(o, c - pd.Timedelta(minutes=1), freq="min")
        stamps.append(minutes)
        opens.append(np.full(len(minutes), o.value))
        closes.append(np.full(len(minutes), c.value))
        total += len(minutes) // 5
        if total >= n_bars:
            break
    index = stamps[0].append(stamps[1:])
    rng = np.random.default_rng(seed)
    n = len(index)
    close = 20000 + np.cumsum(rng.integers(-2, 3, n))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.integers(0, 3, n)
    low = np.minimum(open_, close) - rng.integers(0, 3, n)
    minutes = pd.DataFrame(
        {"open": open_ * TICK, "high": high * TICK, "low": low * TICK, "close": close * TICK, "volume": rng.integers(1, 500, n)},
        index=pd.DatetimeIndex(index, name="time"),
    )
    group = minutes.groupby(minutes.index.floor("5min"))
    bars = pd.DataFrame({"open": group["open"].first(), "high": group["high"].max(), "low": group["low"].min(),
                         "close": group["close"].last(), "volume": group["volume"].sum()})
    session_open = pd.Series(np.concatenate(opens), index=index).groupby(minutes.index.floor("5min")).first()
    session_close = pd.Series(np.concatenate(closes), index=index).groupby(minutes.index.floor("5min")).first()
    bars["session"] = bars.index.tz_localize(None).normalize()
    bars["session_open"] = pd.to_datetime(session_open.to_numpy(), utc=True).tz_convert(NY)
    bars["session_close"] = pd.to_datetime(session_close.to_numpy(), utc=True).tz_convert(NY)
    return bars.iloc[:n_bars], minutes


def median_seconds(fn, repeat: int) -> tuple[float, float]:
    """(median, fastest) of ``repeat`` timed calls after one untimed call, seconds."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def fresh_process_seconds(repeat: int) -> tuple[float, float]:
    """Medians over new interpreters of (``import lab.backtest`` + first kernel call, whole process)."""
    code = (
        "import time; t = time.perf_counter()\n"
        "import numpy as np\n"
        "from lab.backtest import engine\n"
        "f = np.zeros(3); i = np.zeros(3, np.int64)\n"
        "p = engine.EngineParams(0.25, 1.25, 6.0, 8.0, 6, 1.0, 1.0, 0.84, 100.0, 3, 1800000000000, np.inf, 300000000000, 0.25)\n"
        "engine.simulate(f, f, f, f, i, i, i, i, np.zeros(3, np.int8), f, i, np.zeros(3, np.bool_),"
        " np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), p)\n"
        "print(time.perf_counter() - t)\n"
    )
    env = _common.child_env()
    inside, whole = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        whole.append(time.perf_counter() - start)
        inside.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(inside), statistics.median(whole)


def backtesting_py_seconds(bars: pd.DataFrame, signal: np.ndarray, repeat: int) -> tuple[float, int] | None:
    try:
        from backtesting import Backtest, Strategy
    except ImportError:
        return None

    class SignalRules(Strategy):
        def init(self) -> None:
            self.signal = self.I(lambda: signal, name="signal", plot=False)

        def next(self) -> None:
            bar = len(self.data) - 1
            for trade in self.trades:
                if bar - trade.entry_bar + 1 >= 6:
                    trade.close()
            if not self.position:
                close = self.data.Close[-1]
                if self.signal[-1] > 0:
                    self.buy(size=1, tp=close + 6 * TICK, sl=close - 8 * TICK)
                elif self.signal[-1] < 0:
                    self.sell(size=1, tp=close - 6 * TICK, sl=close + 8 * TICK)

    frame = bars[["open", "high", "low", "close", "volume"]].rename(columns=str.capitalize)
    frame.index = frame.index.tz_localize(None)

    def run() -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = Backtest(frame, SignalRules, cash=10_000_000, commission=0.0, finalize_trades=True).run()
        return int(stats["# Trades"])

    trades = run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), trades


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=36_000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--no-backtesting-py", action="store_true")
    args = parser.parse_args()
    load_before = _common.load()

    bars, minutes = synthetic(args.bars)
    n = len(bars)
    scale = 36_000 / n
    rng = np.random.default_rng(1)
    probability = pd.Series(rng.uniform(0.3, 0.7, n), index=bars.index)
    rules, costs = RulesConfig(), CostsConfig()
    signals = direction_signals(probability, rules)

    start = time.perf_counter()
    result = run_backtest(bars, signals, minutes, rules=rules, costs=costs)  # compiles or loads the cache
    first_call = time.perf_counter() - start
    arrays = prepare_arrays(bars, signals, minutes, rules)
    params = engine.EngineParams(0.25, 1.25, 6.0, 8.0, 6, 1.0, 1.0, 0.84, 100.0, 3, 30 * _NS_PER_MINUTE, np.inf,
                                 5 * _NS_PER_MINUTE, 0.25)
    kernel, kernel_fastest = median_seconds(lambda: engine.simulate(*arrays.kernel_arrays(), params), args.repeat)
    full, full_fastest = median_seconds(lambda: run_backtest(bars, signals, minutes, rules=rules, costs=costs),
                                        args.repeat)
    kernel, kernel_fastest, full, full_fastest = (t * scale for t in (kernel, kernel_fastest, full, full_fastest))
    fresh, fresh_whole = fresh_process_seconds(max(3, args.repeat // 4))

    print(f"numba cache: {engine.simulate.stats.cache_hits and 'hit' or 'compiled'}; "
          f"NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(unset: __pycache__ beside lab/backtest/engine.py)')}")
    print(f"bars: {n:,} 5-minute bars ({len(minutes):,} minutes), {len(result.trades):,} trades; medians of {args.repeat} runs")
    print(f"this process's first run_backtest (compile or cache load): {first_call * 1e3:9.1f} ms")
    print(f"numba kernel, per 36 K bars, after compilation:           {kernel * 1e3:9.3f} ms (fastest {kernel_fastest * 1e3:.3f})")
    print(f"run_backtest end to end, per 36 K bars:                    {full * 1e3:9.3f} ms (fastest {full_fastest * 1e3:.3f})")
    print(f"fresh process: import lab.backtest + first call (warm cache): {fresh * 1e3:6.0f} ms "
          f"(whole process incl. interpreter start: {fresh_whole * 1e3:.0f} ms; median of {max(3, args.repeat // 4)} processes)")
    if not args.no_backtesting_py:
        _backtesting_py(bars, signals, kernel, full, scale, max(3, args.repeat // 7))
    print(_common.machine(load_before))


def _backtesting_py(bars: pd.DataFrame, signals: pd.DataFrame, kernel: float, full: float, scale: float,
                    repeat: int) -> None:
    """Print backtesting.py's time on the same simple rules and its ratio to the lab's engine."""
    signal = signals.signal.to_numpy().astype(float)
    measured = backtesting_py_seconds(bars, signal, repeat)
    if measured is None:
        print("backtesting.py: not installed (pip install backtesting) - skipped")
        return
    seconds, trades = measured
    seconds *= scale
    print(f"backtesting.py, same simple rules, per 36 K bars:         {seconds * 1e3:9.1f} ms ({trades:,} trades; "
          f"median of {repeat} runs)")
    print(f"ratio backtesting.py / numba kernel:                       {seconds / kernel:9.0f} x")
    print(f"ratio backtesting.py / run_backtest end to end:            {seconds / full:9.0f} x")


if __name__ == "__main__":
    main()
