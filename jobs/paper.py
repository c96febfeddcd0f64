"""Entry point ``paper``: the champion, minute by minute, under the backtest's rules (paper trading).

    lab paper [--config FILE] [--data FILE] [--from DATE] [--to DATE] [--follow]
              [--live [--sink orders.jsonl] [--override-reason "..."]]
    mlflow run . -e paper --env-manager local [-P from=2023-03-01 -P to=2023-03-31 -P follow=true]

Replays the minute file (or, with ``--follow``, keeps reading lines appended to it) through the
live features (:class:`lab.live.LiveFeatures`), ``models:/<[promotion] model_name>@champion`` and
the backtest engine's own rule steps (:class:`lab.paper.PaperTrader`). Only bars dated
``--from..--to`` (default: the validation window) trade; up to
:data:`lab.dataset.build.TEST_WARMUP_DAYS` days before ``--from`` form the indicators. The rules,
costs and strategy are those the champion was promoted with (as final-eval uses them). One run,
tagged ``lab.stage = paper``, logs ``signals.csv``, ``orders.jsonl`` and everything a backtest
logs (``trades.csv``, metrics, criteria, equity, ``report.html``): on the same bars its
``trades.csv`` equals the backtest's.

``--live`` sends the orders to a sink (``--sink``: a JSON-lines file, default stdout); it is
refused unless the champion's final-eval verdict (model version tag ``lab.final_eval.verdict``)
is a PASS, as the plan's go/no-go demands. ``--override-reason "..."`` overrides the refusal and
is recorded on the run (tag ``lab.live_override``). Dates in the held-out test window are refused
and so are the sealed ranges of the file's market; the warm-up skips their rows (:func:`check_paper_range`).
Sessions whose content is that of a sealed session of any market are refused (:mod:`registry.content`):
those read at the start before anything trades; followed ones a session at a time, as soon as the
session's close is in the file (:class:`SealWatch`).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from jobs.champion import champion_version, check_strategy_model, promoted_rules
from jobs.common import base_parser, config_from_args, data_argument, job_main, load_run_model, refuse
from jobs.context import DataIdentity, identify, open_job
from jobs.lineage import LineageError, lineage_of
from jobs.orders import open_sink
from jobs.trading import log_backtest, warn_if_costs_off
from lab import tags as tag
from lab import tracking
from lab.config import DateRange, LabConfig
from lab.config.parsing import parse_date_param, parse_number_param
from lab.data.fingerprints import HEAD_STEPS
from lab.data.readers import read_minutes
from lab.data.rolls import BREAK_MINUTES, adjust_rolls
from lab.dataset.build import TEST_WARMUP_DAYS, known_rolls, read_fingerprints, rolls_for
from lab.dataset.windows import guard_range
from lab.backtest.fills import FillSensitivity, other_fill_rules, sensitivity_of
from lab.errors import LabError
from lab.live.serving import single_row_predictor
from lab.live.signal import LiveInputs
from lab.market.identity import DataSource
from lab.market.sessions import regular_sessions
from lab.paper import Order, OrderSink, PaperBar, PaperTrader
from lab.reports.backtest import report_header
from lab.strategies import long_only_for_target
from registry.content import refuse_sealed_content
from registry.errors import SealedRangeError
from registry.seals import enforce_seals

__all__ = ["main", "paper_trade", "SealWatch", "check_paper_range", "check_strategy_model", "live_permission", "VERDICT_TAG", "OVERRIDE_TAG"]

#: The model-version tag final-eval sets (``PASS-target``, ``PASS-minimum`` or ``FAIL``).
VERDICT_TAG = tag.FINAL_EVAL_VERDICT
#: The run tag recording why ``--live`` ran without a PASS verdict.
OVERRIDE_TAG = tag.LIVE_OVERRIDE
NY = "America/New_York"
_NS_PER_MINUTE = 60_000_000_000


@job_main("paper")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="", help="first trading date (default: validation start)")
    parser.add_argument("--to", dest="end", default="", help="last trading date (default: validation end)")
    parser.add_argument("--follow", default="", nargs="?", const="true", help="keep reading lines appended to the file")
    parser.add_argument("--poll-seconds", default="2", help="--follow: seconds between looks at the file")
    parser.add_argument("--idle-seconds", default="0", help="--follow: stop after this long without a new minute (0: never)")
    parser.add_argument("--live", default="", nargs="?", const="true", help="send orders to --sink (needs a PASS verdict)")
    parser.add_argument("--sink", default="", help="--live: JSON-lines order file (default: stdout)")
    parser.add_argument("--override-reason", default="", help="--live without a PASS verdict: why (recorded on the run)")
    args = parser.parse_args(argv)
    follow, live = _flag(args.follow), _flag(args.live)
    try:
        first = parse_date_param("--from", args.start) if args.start else None  # refused before anything is read
        last = parse_date_param("--to", args.end) if args.end else None
        idle_s = parse_number_param("--idle-seconds", args.idle_seconds or "0", "600")
        poll_s = parse_number_param("--poll-seconds", args.poll_seconds or "2", "2")
        chosen = config_from_args(args)  # names the registered model; the champion's run gives the rest
        champion = champion_version(chosen)
        config, lineage_params, source, market = champion_context(chosen, champion, args.config, args.data)
        config, rules_source = promoted_rules(config, champion)
        start = first or config.windows.validation.start
        end = last or config.windows.validation.end
        if end < start:
            raise LabError(f"--to {end} is before --from {start}; give a range of trading dates")
        guard_range(config.windows, start, end, "paper")  # before any file is made or read
        tags = live_permission(champion, config.promotion.model_name, live, args.override_reason)
        name = config.promotion.model_name
        model = load_run_model(champion.run_id, f"models:/{name}@champion")
        check_strategy_model(config.strategy.name, model.target, rules_source)
        data = DataIdentity(source, market, tuple(check_paper_range(config, start, end, market)), "paper")
        with open_job("paper", config, target=model.target, data=data, builds_on=[champion.run_id],
                      params={"window": f"{start}..{end}", "model_version": champion.version,
                              "strategy": config.strategy.name,
                              "rules_from": rules_source, "paper_follow": str(follow).lower(),
                              "paper_live": str(live).lower(), **lineage_params},
                      tags={tag.WINDOW: "paper", tag.MODEL_NAME: name,
                            tag.MODEL_VERSION: str(champion.version), **tags}) as job:
            path = data.path
            warn_if_costs_off(config)
            sink = open_sink(args.sink) if live else None
            try:
                trader, orders, fills, rolls_followed = paper_trade(config, model, path, start, end, follow=follow, sink=sink, sealed=data.sealed,
                                             poll_seconds=poll_s, idle_seconds=idle_s)
            finally:
                if sink is not None:
                    sink.close()
            tracking.log_table(trader.signals(), "signals.csv")
            if follow:
                tracking.log_metrics({"paper_rolls_followed": float(rolls_followed)})
            tracking.log_text("".join(json.dumps(o.as_dict()) + "\n" for o in orders), "orders.jsonl")
            header = report_header(config, runs={"tune": champion.run_id, "paper": job.run_id},
                                   data_source=str(path), digest=champion.tags.get(tag.DATASET_DIGEST, ""),
                                   model=f"{name} version {champion.version} @champion", window=f"{start}..{end}")
            log_backtest(config, trader.result(), f"Paper trading {start}..{end} ({name} version {champion.version})",
                         header=header, fills=fills)
    except (LabError, ValueError) as exc:
        return refuse("paper", exc, verb="refused")
    return 0


def champion_context(chosen: LabConfig, champion, given_config: str, given_data: str
                     ) -> tuple[LabConfig, dict[str, str], DataSource, str]:
    """Paper's configuration (the champion's own, from its tune run's lineage), the run's lineage
    parameters, and the file it trades with its market: new data only of the champion's market.

    ``chosen`` (``--config`` or the ``lab.toml`` where the user stands) names the registered model;
    everything else comes from the champion's tune run. New data (``--data``, or the data file of a
    ``--config`` given on purpose) must be a file of the champion's market; its SHA-256 and the
    champion's dataset digest are recorded as the run's lineage parameters.

    Raises
    ------
    LineageError
        The data are of another market than the champion's (both named).
    """
    lineage = lineage_of(champion.run_id)
    _, tune_tags = tracking.get_run_data(champion.run_id) or ({}, {})
    config = lineage.config.replace({"promotion.model_name": chosen.promotion.model_name})
    new_path = data_argument(given_data) if given_data else (chosen.data.path if given_config else "")
    if new_path and new_path != lineage.data_path:
        config = config.replace({"data.path": new_path, "data.instrument": chosen.data.instrument if given_config
                                 and not given_data else config.data.instrument})
    own_source, keyed_market = identify(lineage.config)
    source, market = identify(config)
    own_market = tune_tags.get(tag.MARKET) or keyed_market
    if market != own_market:
        raise LineageError(
            f"paper refused: the champion {chosen.promotion.model_name} version {champion.version} was tuned on market "
            f"{own_market} ({own_source.path}), and {source.path} is market {market}; a champion paper-trades its own "
            f"market only: pass --data with a file of {own_market}, or promote a model tuned on {market}")
    return config, {"data_sha256": source.sha256, "champion_data_sha256": own_source.sha256,
                    "champion_dataset_digest": lineage.digest, "champion_market": own_market}, source, market


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("true", "1", "yes", "on")


def check_paper_range(config: LabConfig, start: dt.date, end: dt.date, market: str) -> list[DateRange]:
    """Refuse trading dates in a sealed range; the sealed ranges of ``market``, which the indicator
    warm-up before ``start`` skips unread.

    The ranges are the configured ``[windows] test`` and every seal the registry holds for the
    market (:func:`registry.seals.enforce_seals`, which also seals the configured test window as
    featurize does).

    Raises
    ------
    TestWindowLockedError
        ``start..end`` overlaps the configured test window.
    SealedRangeError
        ``start..end`` overlaps another sealed range of the market.
    """
    guard_range(config.windows, start, end, "paper")
    sealed = enforce_seals(config, market, stage="paper", reads={})
    for window in sealed:
        if start <= window.end and window.start <= end:
            raise SealedRangeError(f"paper refused: trading dates {start}..{end} overlap the sealed test range {window} "
                                   "of this market; only final-eval reads it, once. Choose dates outside every sealed "
                                   "range (`lab status` lists them).")
    return sealed


def read_bound(config: LabConfig, end: dt.date) -> dt.date:
    """The first date never read: the day after ``end`` or the sealed range's start, whichever is first."""
    return min(end + dt.timedelta(days=1), config.windows.test.start)


def live_permission(champion: Any, model_name: str, live: bool, override_reason: str = "") -> dict[str, str]:
    """The run tags of the mode, or a refusal of ``--live`` without a PASS verdict and without a reason.

    Raises
    ------
    LabError
        ``live`` and the champion's ``lab.final_eval.verdict`` is not ``PASS-*`` and no
        ``override_reason`` was given.
    """
    if not live:
        return {tag.PAPER_MODE: "paper"}
    verdict = champion.tags.get(VERDICT_TAG, "")
    tags = {tag.PAPER_MODE: "live", tag.LIVE_VERDICT: verdict or "none"}
    if verdict.startswith("PASS"):
        return tags
    reason = override_reason.strip()
    if not reason:
        raise LabError(f"--live refused: {model_name} version {champion.version} has final-eval verdict "
                       f"{verdict or 'none (final-eval has not run)'}; the go/no-go needs PASS. Run `lab run final-eval`, "
                       "or pass --override-reason \"...\" (recorded on the run as lab.live_override)")
    return {**tags, OVERRIDE_TAG: reason[:5000]}


def paper_trade(config: LabConfig, model: Any, path: str | Path, start: dt.date, end: dt.date, *, follow: bool = False,
                sink: OrderSink | None = None, poll_seconds: float = 2.0, idle_seconds: float = 0.0,
                sleep: Callable[[float], None] = time.sleep, sealed: Sequence[DateRange] = ()
                ) -> tuple[PaperTrader, list[Order], FillSensitivity, int]:
    """Replay (or follow) the minute file through features, the model and the paper trader; rows of
    ``sealed`` ranges are skipped unread (see :func:`check_paper_range`).

    Returns the trader (its :meth:`~lab.paper.PaperTrader.result` is a backtest result), every
    order it made (each also goes to ``sink`` when one is given), the fill sensitivity (the same
    decisions under both limit-fill rules: a shadow trader under the other rule; no orders) and the
    number of contract switches that arrived while following (:class:`FollowedRolls`).
    """
    if follow and Path(path).suffix.lower() not in (".txt", ".csv"):
        raise LabError(f"--follow reads lines appended to a plain text file; {path} is not one (use a .txt or .csv file)")
    bound = read_bound(config, end)
    warm = start - dt.timedelta(days=TEST_WARMUP_DAYS)
    sessions = regular_sessions(config.session.calendar, warm - dt.timedelta(days=1), end)
    session = _Session(config, model, sessions, start, end, sink)
    exclude = [(r.start, r.end) for r in sealed]
    # Where following starts is taken before the file is read: lines appended while it is read are read
    # again by the follower rather than skipped (the session skips the minutes it was already fed).
    offset = _last_line_end(Path(path)) if follow else 0
    minute_file = read_minutes(path, tz=config.data.timezone, on_bad_rows=config.data.on_bad_rows, until=bound, since=warm,
                               exclude=exclude, max_bad_share=config.data.max_bad_share)
    refuse_sealed_content(read_fingerprints(minute_file.minutes, config), "paper")  # under any name or dates
    # the prices featurize and the backtest saw: back-adjusted across contract rolls
    known = known_rolls(path)
    rolls = FollowedRolls(config, minute_file.minutes, known)
    session.feed(rolls.adjusted(minute_file.minutes))
    if follow and not _reaches_bound(Path(path), config, bound, exclude):
        watch = SealWatch(config)
        _follow(Path(path), offset, config, bound, session, poll_seconds, idle_seconds, sleep, exclude, watch, rolls)
        watch.finish()
    session.finish()
    return session.trader, session.orders, session.fills(), rolls.followed


class FollowedRolls:
    """The contract switches paper adjusts across, and those that arrive while it follows the file.

    Under ``[data] roll_adjust = "back"`` the replay sees the prices featurize saw: every minute
    before a switch shifted by its gap (:func:`lab.dataset.build.rolls_for`). A switch in the
    followed minutes is looked for, as featurize would find it in the same minutes, whenever a chunk
    reaches across a trading break: when the switches found change, the live features are formed
    again on the history so far back-adjusted (:meth:`_Session.rebuild`), so the bars after the
    switch carry the features the backtest computes on the same file. The minutes before the switch
    are fed first, as they would have been one by one, so the result does not depend on how the
    lines arrived. Trades already made stand: they were made at the old contract's prices and on
    features formed from them, as a backtest of the file as it then stood makes them (the
    back-adjusted series shows those prices shifted by a gap no one knew yet; the lab is flat across
    every switch, which sits at a break).
    A stitched file's measured table is its own and final: nothing is looked for.
    """

    def __init__(self, config: LabConfig, minutes: pd.DataFrame, known: pd.DataFrame | None) -> None:
        self.config = config
        self.fixed = known is not None
        self.table = rolls_for(minutes, config, known)
        self.history = [minutes]
        self.followed = 0

    def adjusted(self, minutes: pd.DataFrame) -> pd.DataFrame:
        """``minutes`` shifted across the switches known now (unchanged under ``roll_adjust = "none"``)."""
        return minutes if self.table is None else adjust_rolls(minutes, self.table, "back")

    def feed(self, session: "_Session", minutes: pd.DataFrame) -> None:
        """Feed followed ``minutes`` to ``session``, forming its features again when they bring a switch."""
        if minutes.empty:
            return
        last = next((frame.index[-1] for frame in reversed(self.history) if not frame.empty), None)
        self.history.append(minutes)
        if self.table is None or self.fixed or not _crosses_break(last, minutes.index):
            session.feed(minutes)  # a switch sits at a break: a chunk inside a session brings none
            return
        everything = pd.concat(self.history)
        self.history = [everything]
        table = rolls_for(everything, self.config)
        known, found = _switches(self.table), _switches(table)
        if found == known:
            session.feed(minutes)
            return
        changed = found ^ known
        self.followed += len(found - known)
        # The minutes before the switch were traded before it happened, as they would have been one by one.
        cut = int(np.searchsorted(minutes.index.asi8, min(ns for ns, _ in changed)))
        session.feed(minutes.iloc[:cut])
        self.table = table
        adjusted = adjust_rolls(everything, table, "back")
        fed = len(everything) - len(minutes) + cut
        session.rebuild(adjusted.iloc[:fed])
        session.feed(adjusted.iloc[fed:])


def _crosses_break(last: pd.Timestamp | None, stamps: pd.DatetimeIndex) -> bool:
    """Whether minutes stamped ``stamps``, following a minute stamped ``last``, reach across a trading break."""
    joined = stamps if last is None else pd.DatetimeIndex([last]).append(stamps)
    return bool(len(joined) > 1 and (np.diff(joined.asi8) >= BREAK_MINUTES * _NS_PER_MINUTE).any())


def _switches(table: pd.DataFrame | None) -> set[tuple[int, float]]:
    """A roll table's switches as (first minute of the new contract in ns, gap in points)."""
    if table is None or len(table) == 0:
        return set()
    return set(zip(pd.DatetimeIndex(table["minute"]).asi8.tolist(), table["gap"].astype(float).tolist()))


class SealWatch:
    """Followed minutes checked against every seal by content, one regular session at a time.

    A session is fingerprinted (:func:`lab.dataset.build.read_fingerprints`) as soon as its
    close is in the file and compared with the sealed sessions of every market
    (:func:`registry.content.refuse_sealed_content`); a session still arriving is compared by its
    first hour (the ``head`` print, :data:`lab.data.fingerprints.HEAD_STEPS` steps) as soon as that
    is in. :meth:`check` runs before a chunk is fed, so a chunk that holds a whole sealed session is
    refused before any of it trades; a sealed session appended minute by minute is refused when its
    first hour is complete (its first hour's bars traded on paper; the run then fails with the
    refusal), or at its close when its first hour misses a minute. :meth:`finish` checks the
    unfinished session left at the end.
    """

    STAGE = "paper --follow"

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.pending = pd.DataFrame()
        self.headed = ""  # the arriving session whose first hour was compared already

    def check(self, minutes: pd.DataFrame) -> None:
        """Add followed ``minutes`` (ET, time order) and check every session whose close they reach.

        Raises
        ------
        registry.errors.SealedRangeError
            A completed session has the content of a sealed session.
        """
        if minutes.empty:
            return
        self.pending = minutes if self.pending.empty else pd.concat([self.pending, minutes])
        stamps = self.pending.index
        closes = pd.DatetimeIndex(regular_sessions(self.config.session.calendar, stamps[0].date(),
                                                   stamps[-1].date())["session_close"])
        # the minute stamped a minute before the close is the session's last (bars stamped at their start)
        done = closes[closes <= stamps[-1] + pd.Timedelta(minutes=1)]
        if not done.empty:
            finished = self.pending[stamps < done[-1]]
            self.pending = self.pending[stamps >= done[-1]]
            refuse_sealed_content(read_fingerprints(finished, self.config), self.STAGE)
        self._check_arriving()

    def _check_arriving(self) -> None:
        """The session still arriving, by its first hour once that is in (once per session)."""
        if len(self.pending) <= HEAD_STEPS or str(self.pending.index[-1].date()) == self.headed:
            return
        prints = read_fingerprints(self.pending, self.config)
        if prints and prints[-1].head:
            self.headed = prints[-1].session
            refuse_sealed_content(prints[-1:], self.STAGE)

    def finish(self) -> None:
        """Check the session the follower stopped inside (its minutes so far)."""
        refuse_sealed_content(read_fingerprints(self.pending, self.config), self.STAGE)
        self.pending = pd.DataFrame()


class _Session:
    """One paper session: the live features, the predictor, the trader and the minutes of the open bucket."""

    def __init__(self, config: LabConfig, model: Any, sessions: pd.DataFrame, start: dt.date, end: dt.date,
                 sink: OrderSink | None) -> None:
        self.trader = PaperTrader(config.rules, config.costs, config.instrument, config.session.bar_minutes,
                                  long_only=long_only_for_target(model.target), strategy=config.strategy)
        # the same bars and decisions under the other limit-fill rule: the report's fill-sensitivity line
        self.shadow = PaperTrader(other_fill_rules(config.rules), config.costs, config.instrument,
                                  config.session.bar_minutes, long_only=long_only_for_target(model.target),
                                  strategy=config.strategy)
        self.config, self.model, self.sessions = config, model, sessions
        self.predict = single_row_predictor(model.booster)
        self.bar_ns = config.session.bar_minutes * _NS_PER_MINUTE
        self.first_ns = pd.Timestamp(start, tz=NY).value
        self.inputs = self._new_inputs()
        self.after_ns = pd.Timestamp(end + dt.timedelta(days=1), tz=NY).value
        self.sink = sink
        self.orders: list[Order] = []
        self.last_ns = -1
        self._buckets: dict[int, list[tuple[int, float, float, float]]] = {}  # bucket -> its minutes (trading range)

    def _new_inputs(self) -> LiveInputs:
        """The model's inputs and the strategy's own features (breakout, mean reversion): one live state."""
        config = self.config
        inputs = LiveInputs(self.trader.rule, self.sessions, config.session.bar_minutes, config.features.optional_sets,
                            self.model.features, config.features.custom, config.session.warmup_bars, "the champion")
        inputs.custom_from_ns = self.first_ns
        return inputs

    def rebuild(self, history: pd.DataFrame) -> None:
        """Form the features again on ``history`` (every minute fed so far, adjusted across a contract switch
        that just arrived): a new live state fed those minutes, and the minutes of the bars still open; no
        bar of it is traded again (the trader's decisions so far stand)."""
        self.inputs = self._new_inputs()
        self._buckets = {}
        self.feed(history, replay=True)

    def feed(self, minutes: pd.DataFrame, replay: bool = False) -> None:
        """Feed minutes in time order (those not later than the last one fed are skipped). ``replay``: every
        one of them forms the live state and the open bars' minutes again, and nothing is traded
        (:meth:`rebuild`)."""
        if minutes.empty:
            return
        stamps = minutes.index.as_unit("ns").asi8
        keep = np.ones(len(stamps), dtype=bool) if replay else stamps > self.last_ns
        stamps = stamps[keep]
        o, h, l, c, v = (minutes[k].to_numpy(np.float64)[keep] for k in ("open", "high", "low", "close", "volume"))
        for i in range(len(stamps)):
            self.minute(int(stamps[i]), o[i], h[i], l[i], c[i], v[i], replay)

    def minute(self, ns: int, o: float, h: float, l: float, c: float, v: float, replay: bool = False) -> None:
        trading = self.first_ns <= ns < self.after_ns
        if trading:
            self._buckets.setdefault(ns // self.bar_ns, []).append((ns, o, h, l))
        for bar, row in self.inputs.update(ns, o, h, l, c, v):
            if replay:
                self._take_bucket(bar)
            else:
                self.bar(bar, row)
        if not replay:
            self.last_ns = ns
            if trading:
                self._send(self.trader.on_time(ns))
                self.shadow.on_time(ns)

    def finish(self) -> None:
        for bar, row in self.inputs.flush():
            self.bar(bar, row)
        self._send(self.trader.finish())
        self.shadow.finish()

    def fills(self) -> FillSensitivity:
        """What the session's decisions made under both limit-fill rules (the trader's and its shadow's)."""
        return sensitivity_of(self.trader.rules, self.trader.result(), self.shadow.result())

    def _take_bucket(self, bar) -> list[tuple[int, float, float, float]] | None:
        """The minutes of ``bar`` when it lies in the trading window, the older buckets dropped (those
        never become bars); None outside the window."""
        if not self.first_ns <= bar.start_ns < self.after_ns:
            return None
        bucket = bar.start_ns // self.bar_ns
        rows = self._buckets.pop(bucket, [])
        for older in [b for b in self._buckets if b < bucket]:
            del self._buckets[older]
        return rows

    def bar(self, bar, row: np.ndarray) -> None:
        rows = self._take_bucket(bar)
        if rows is None:
            return
        minute = np.array(rows, dtype=np.float64).reshape(-1, 4)
        probability = self.predict(row[self.inputs.model_columns])
        paper_bar = PaperBar(bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.session_open_ns,
                             bar.session_close_ns, np.array([r[0] for r in rows], dtype=np.int64),
                             np.ascontiguousarray(minute[:, 1]), np.ascontiguousarray(minute[:, 2]),
                             np.ascontiguousarray(minute[:, 3]))
        values = tuple(row[self.inputs.strategy_columns].tolist())
        self._send(self.trader.on_bar(paper_bar, probability, values))
        self.shadow.on_bar(paper_bar, probability, values)

    def _send(self, orders: list[Order]) -> None:
        self.orders.extend(orders)
        if self.sink is not None:
            for order in orders:
                self.sink.send(order)


def _header_of(path: Path) -> bytes:
    """The file's header line (a named-column CSV), or nothing (FirstRate's headerless text)."""
    with path.open("rb") as handle:
        first = handle.readline()
    return first if first[:1] and not first[:1].isdigit() else b""


def _read_lines(path: Path, lines: bytes, config: LabConfig, bound: dt.date,
                exclude: Sequence[tuple[dt.date, dt.date]]):
    """Complete ``lines`` of ``path`` (its header added) through the reader, rows from ``bound`` on and in
    ``exclude`` skipped unparsed; the :class:`lab.data.readers.MinuteFile`."""
    with tempfile.TemporaryDirectory() as folder:
        part = Path(folder) / f"lines{path.suffix}"
        part.write_bytes(_header_of(path) + lines)
        return read_minutes(part, tz=config.data.timezone, on_bad_rows=config.data.on_bad_rows, until=bound,
                            exclude=exclude, max_bad_share=config.data.max_bad_share)


def _reaches_bound(path: Path, config: LabConfig, bound: dt.date, exclude: Sequence[tuple[dt.date, dt.date]]) -> bool:
    """Whether the file already holds a minute at or after ``bound`` (exchange date; nothing left to
    follow). The reader judges its last complete lines, so column order, quoting and the file's
    time zone are read as everywhere else, and rows from ``bound`` on are skipped unparsed."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65536))
        tail = handle.read()
    if size > 65536:
        tail = tail[tail.find(b"\n") + 1:]  # from the first whole line
    tail = tail[: tail.rfind(b"\n") + 1]
    if not tail.strip() or tail == _header_of(path):
        return False
    return _read_lines(path, tail, config, bound, exclude).rows_outside > 0


def _last_line_end(path: Path) -> int:
    """The byte offset just after the file's last complete line (a line being written is left out)."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - 65536)
        handle.seek(start)
        tail = handle.read(size - start)
    return start + tail.rfind(b"\n") + 1


def _follow(path: Path, offset: int, config: LabConfig, bound: dt.date, session: _Session, poll_seconds: float,
            idle_seconds: float, sleep: Callable[[float], None], exclude: Sequence[tuple[dt.date, dt.date]] = (),
            watch: SealWatch | None = None, rolls: FollowedRolls | None = None) -> None:
    """Read lines appended after ``offset`` until the read bound is reached or the file stays idle; each
    chunk is shown to ``watch`` (the seals by content) before it is fed (through ``rolls``, which
    adjusts across contract switches as they arrive)."""
    idle_since = time.monotonic()
    while True:
        size = path.stat().st_size
        chunk = b""
        if size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(size - offset)
            complete = chunk.rfind(b"\n") + 1
            chunk = chunk[:complete]
            offset += complete
        if chunk.strip():
            idle_since = time.monotonic()
            read = _read_lines(path, chunk, config, bound, exclude)
            if watch is not None:
                watch.check(read.minutes)
            if rolls is not None:
                rolls.feed(session, read.minutes)
            else:
                session.feed(read.minutes)
            if read.rows_outside:
                return  # the next minute is dated at or after the read bound (the end, or a sealed range)
        elif idle_seconds > 0 and time.monotonic() - idle_since >= idle_seconds:
            return
        else:
            sleep(poll_seconds)


if __name__ == "__main__":
    sys.exit(main())
