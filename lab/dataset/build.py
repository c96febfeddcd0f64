"""From a minute file to cached train/validation feature tables: the featurize pipeline.

:func:`build_tables` is pure (minutes in, tables out). :func:`prepare_dataset` is the data
layer's one I/O entry: resolve the file (generating the synthetic default when none is
configured), read it *up to the test window only*, digest it, and reuse or fill the cache.

Table layout (one row per regular-session 5-minute bar, index ``time`` in ET): the bar columns
``open, high, low, close, volume, session, session_open, session_close``, the 24 features of
:data:`lab.features.core.FEATURE_NAMES` (plus the optional sets and the ``[features] custom`` columns,
:mod:`lab.custom_features`), and the targets of
:data:`lab.config.settings.TARGET_NAMES`. The first ``warmup_bars`` bars of the file are dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from lab import paths
from lab.config import TARGET_NAMES, DateRange, LabConfig
from lab.data.bars import regular_session_bars, resample_bars, session_minutes
from lab.data.contracts import is_contract_set, stitch_source
from lab.data.doctor import examine_for_featurize, featurize_rolls, findings_warning
from lab.data.fingerprints import SessionPrint, prints_from_table, prints_table, session_fingerprints
from lab.data.readers import read_minutes, write_firstrate
from lab.data.rolls import adjust_rolls, detect_rolls, read_roll_table, roll_table_path
from lab.data.synth import generate_minutes
from lab.dataset.cache import FeatureCache, dataset_digest, file_sha256, require_minute_file
from lab.dataset.code import pipeline_code_digest
from lab.dataset.windows import split_windows
from lab.errors import DataError
from lab.features.core import FEATURE_NAMES, compute_features
from lab.features.custom import CustomFeature, compute_custom_features, custom_sources_digest, load_custom_features
from lab.features.leak_audit import audit_look_ahead
from lab.features.spec import WARMUP_TOLERANCE, warmup_needed_bars
from lab.features.strategy_sets import (
    BREAKOUT_FEATURES,
    MEAN_REVERSION_FEATURES,
    breakout_features,
    mean_reversion_features,
)
from lab.features.targets import compute_targets, target_horizon_bars
from lab.market import identity as market
from lab.market.identity import DataSource, record_matches, synthetic_record
from lab.market.sessions import regular_sessions
from lab.memory import without_huge_pages

__all__ = ["pipeline_code_digest", "BAR_COLUMNS", "Dataset", "build_tables", "build_window_table", "prepare_dataset",
           "resolve_data_path", "rolls_for", "data_source", "file_to_hash", "source_of", "write_synthetic", "Progress", "TEST_WARMUP_DAYS",
           "feature_columns", "custom_columns", "model_features", "known_rolls",
           "adjusted_for_rolls"]

BAR_COLUMNS = ("open", "high", "low", "close", "volume", "session", "session_open", "session_close")
WINDOW_NAMES = ("train", "validation")
PRINTS_TABLE = "session_prints"  # the content fingerprints of the sessions read, beside the tables

Progress = Callable[[str], None]


def _stderr_progress(message: str) -> None:
    print(f"[lab] {message}", file=sys.stderr, flush=True)


@dataclass
class Dataset:
    """The featurized train and validation windows and what is known about them."""

    digest: str
    source: str
    raw_sha256: str
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    cache_hit: bool
    folder: Path
    timings_s: dict[str, float] = field(default_factory=dict)
    session_prints: list[SessionPrint] = field(default_factory=list)  # of every regular session read

    @property
    def feature_names(self) -> list[str]:
        return list(self.manifest["features"])


#: The [rules] keys the target_trade label reads (lab.targets, lab.rules): the dataset's only rules.
LABEL_RULES = ("profit_target_ticks", "stop_loss_ticks", "time_stop_bars", "last_entry_minutes_before_close",
               "flatten_minutes_before_close", "limit_fill", "limit_through_ticks")


def featurize_settings(config: LabConfig) -> dict[str, Any]:
    """Every configuration value that changes the tables (the digest's input)."""
    return {
        "pipeline_code": pipeline_code_digest(),
        "data": {"timezone": config.data.timezone, "instrument": config.data.instrument, "on_bad_rows": config.data.on_bad_rows,
                 "on_bad_sessions": config.data.on_bad_sessions, "roll_adjust": config.data.roll_adjust},
        "windows": dataclasses.asdict(config.windows),
        "session": dataclasses.asdict(config.session),
        "features": dataclasses.asdict(config.features),
        "targets": dataclasses.asdict(config.targets),
        # Only the rules the target_trade label follows: signal thresholds, sizes, the loss limit and
        # the pause decide trades, not tables, so editing them keeps the dataset (and its cache).
        "rules": {key: getattr(config.rules, key) for key in LABEL_RULES},
        "costs": dataclasses.asdict(config.costs),
        # the source of every [features] custom module: editing a custom feature rebuilds the tables
        **({"custom_code": custom_sources_digest(config.features.custom)} if config.features.custom else {}),
    }


def horizons(config: LabConfig) -> dict[str, int]:
    """Label horizon in bars of each target (the purge length)."""
    return {name: target_horizon_bars(name, config.targets, config.rules) for name in TARGET_NAMES}


#: The optional feature sets: always in the tables (the strategies need them formed with the
#: history before their window); ``[features] optional_sets`` adds them to the models' inputs.
OPTIONAL_SETS = {"breakout": (breakout_features, BREAKOUT_FEATURES),
                 "mean_reversion": (mean_reversion_features, MEAN_REVERSION_FEATURES)}


def model_features(config: LabConfig, custom_columns: Sequence[str] = ()) -> list[str]:
    """What the models see: the 24 core features, the configured optional sets, then the columns
    of the ``[features] custom`` functions (``custom_columns``, known once the tables are built)."""
    names = list(FEATURE_NAMES)
    for name in config.features.optional_sets:
        names.extend(OPTIONAL_SETS[name][1])
    return names + list(custom_columns)


def custom_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a table the ``[features] custom`` functions made (neither bar, built-in feature nor target)."""
    known = {*BAR_COLUMNS, *FEATURE_NAMES, *TARGET_NAMES, *(n for _, names in OPTIONAL_SETS.values() for n in names)}
    return [name for name in table.columns if name not in known]


def feature_columns(rth: pd.DataFrame, custom: Sequence[CustomFeature] = ()) -> pd.DataFrame:
    """Every feature of the bars: the 24 core, the optional sets, then the custom functions' columns.

    The custom functions receive the bars plus the built-in features (the contract of
    :mod:`lab.custom_features`); targets are never computed here.
    """
    built_in = pd.concat([compute_features(rth), *(compute(rth) for compute, _ in OPTIONAL_SETS.values())], axis=1)
    if not custom:
        return built_in
    inputs = pd.concat([rth, built_in], axis=1)
    extra = compute_custom_features(custom, inputs, reserved=(*inputs.columns, *TARGET_NAMES))
    return pd.concat([built_in, extra], axis=1)


def featurized_bars(minutes: pd.DataFrame, config: LabConfig, audit: dict[str, Any] | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regular-session bars with every feature (core, optional sets, custom) and the targets, no warm-up
    dropped, and the sessions.

    With ``audit`` (a dict), every feature first passes :func:`lab.features.leak_audit.audit_look_ahead`
    (cuts after the ``[session] warmup_bars``) and ``audit`` receives its summary; a feature that
    looks ahead raises :class:`lab.features.leak_audit.LookAheadError`.
    """
    custom = load_custom_features(config.features.custom)
    bars = resample_bars(minutes, config.session.bar_minutes)
    sessions = regular_sessions(config.session.calendar, minutes.index[0].date(), minutes.index[-1].date())
    rth = regular_session_bars(bars, sessions)
    features = feature_columns(rth, custom)
    if audit is not None:
        report = audit_look_ahead(rth, features, lambda prefix: feature_columns(prefix, custom),
                                  first_cut=config.session.warmup_bars)
        audit.update(report.summary())
    targets = compute_targets(rth, config.targets, config.rules, config.costs, config.instrument)
    return pd.concat([rth, features, targets], axis=1), sessions


def build_tables(minutes: pd.DataFrame, config: LabConfig, audit: dict[str, Any] | None = None
                 ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Minutes (already cut before the test window) -> train/validation tables + RTH minutes.

    Every feature passes the look-ahead audit first (:mod:`lab.leak_audit`); ``audit``, when
    given, receives its summary (cut times, features audited, bars recomputed, seconds).

    Returns
    -------
    (dict, DataFrame)
        ``{"train": ..., "validation": ...}`` tables, and the regular-session minutes of the
        validation window (the backtest resolves intra-bar order with them).
    """
    table, sessions = featurized_bars(minutes, config, audit={} if audit is None else audit)
    warmup, needed = config.session.warmup_bars, warmup_needed_bars()
    if warmup < needed:
        warnings.warn(f"[session] warmup_bars = {warmup} is shorter than the slowest indicator's warm-up: EMA 200 "
                      f"needs {needed:,} bars to keep less than {WARMUP_TOLERANCE:g} of its start value; the first "
                      f"rows' features still depend on where the file starts: set warmup_bars >= {needed}", stacklevel=2)
    bars_per_session = max(1, round(6.5 * 60 / config.session.bar_minutes))
    train_end = pd.Timestamp(config.windows.train.end + dt.timedelta(days=1)).tz_localize(table.index.tz)
    before_train_end = int((table.index < train_end).sum())
    if 0 < before_train_end <= warmup:  # none at all: the window lies outside the file (said below)
        raise DataError(
            f"the file holds {before_train_end:,} regular-session bars up to the end of the train window "
            f"{config.windows.train} (about {before_train_end // bars_per_session} sessions): the {warmup:,}-bar "
            f"warm-up alone takes about {-(-warmup // bars_per_session)} sessions; the train window must end later, "
            "or the file start earlier (`lab init FILE` writes windows that fit a file)")
    table = table.iloc[warmup:]
    windows = split_windows(table, config.windows, horizons(config), WINDOW_NAMES)
    span = f"{minutes.index[0]:%Y-%m-%d}..{minutes.index[-1]:%Y-%m-%d}"
    for name, part in windows.items():
        if part.empty:
            raise DataError(
                f"the {name} window {getattr(config.windows, name)} holds no regular-session bar of this file "
                f"(its minutes before the test window span {span}, less the {config.session.warmup_bars}-bar warm-up); "
                "set [windows] in lab.toml to dates the file covers"
            )
        refuse_frozen_prices(part, name, getattr(config.windows, name))
        for target in TARGET_NAMES:
            if part[target].notna().sum() == 0:
                warnings.warn(f"{target} has no labelled row in the {name} window ({len(part)} bars); "
                              "a longer window (or, for target_vol, a shorter [targets] volatility_lookback_bars) "
                              "gives it labels", stacklevel=2)
    validation = windows["validation"]
    if len(validation):
        lo, hi = validation.index[0], validation.index[-1] + pd.Timedelta(minutes=config.session.bar_minutes)
        minutes_val = session_minutes(minutes.loc[lo:hi], sessions)
        minutes_val = minutes_val.loc[minutes_val.index < hi]
    else:
        minutes_val = minutes.iloc[:0]
    return windows, minutes_val


def _summaries(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": {}, "class_balance": {}, "labelled": {}, "span": {}}
    for name, table in tables.items():
        out["rows"][name] = int(len(table))
        out["span"][name] = [str(table.index[0]), str(table.index[-1])] if len(table) else [None, None]
        for target in TARGET_NAMES:
            labels = table[target]
            out["labelled"][f"{name}.{target}"] = int(labels.notna().sum())
            out["class_balance"][f"{name}.{target}"] = float(labels.mean()) if labels.notna().any() else float("nan")
    return out


def resolve_data_path(config: LabConfig, progress: Progress = _stderr_progress) -> tuple[Path, bool]:
    """The configured minute file, or the synthetic default (generated once, deterministically); and
    whether it is the synthetic default."""
    path, default, _, _ = _resolve(config, progress)
    return path, default


def file_to_hash(config: LabConfig) -> Path | None:
    """The file :func:`data_source` hashes for ``config`` when finding it needs nothing else: a configured
    minute file (not a set of contract files, which are stitched first) or the synthetic default when it
    exists; None otherwise. A job hashes it while its run opens (:func:`jobs.context.open_job`)."""
    if config.data.path:
        given = paths.find_minute_file(config.data.path)
        return given if given.is_file() and not is_contract_set(given) else None
    path = _synthetic_default(config)
    return path if path.is_file() else None


def _synthetic_default(config: LabConfig) -> Path:
    """Where the synthetic default of ``config``'s ``[data]`` settings lives (``data/raw/``)."""
    data = config.data
    return paths.synthetic_path(data.instrument, data.synthetic_start, data.synthetic_end, data.synthetic_seed,
                                data.synthetic_edge_auc)


def _resolve(config: LabConfig, progress: Progress, hashed: tuple[Path, str] | None = None
             ) -> tuple[Path, bool, bool, str | None]:
    """The minute file, whether it is the synthetic default, whether it was generated just now, and its
    SHA-256 when known (hashed here for the synthetic default, whose record is checked against its
    bytes; taken from ``hashed``, a (file, SHA-256) pair of :func:`file_to_hash`'s file, when it is the file found).

    The synthetic default is (re)generated whenever its provenance record
    (:func:`lab.market.identity.record_path`) is missing or does not match its bytes, so the lab's default
    path always holds the lab's own data and is keyed as a synthetic market.
    """
    def known(path: Path) -> str | None:
        return hashed[1] if hashed is not None and hashed[0] == path else None

    if config.data.path:
        given = paths.find_minute_file(config.data.path)
        if is_contract_set(given):  # per-contract files: their stitched series (and roll table) is the input
            out, written = stitch_source(given, paths.raw_dir(), tz=config.data.timezone,
                                         on_bad_rows=config.data.on_bad_rows, rule=config.data.roll_rule,
                                         calendar=config.session.calendar, tick_size=config.instrument.tick_size)
            if written:
                progress(f"stitched the contract files of {given} ([data] roll_rule = {config.data.roll_rule!r}) "
                         f"into {out}, its roll table in {roll_table_path(out).name}")
            return out, False, False, None
        path = require_minute_file(given)
        return path, False, False, known(path)
    data = config.data
    path = _synthetic_default(config)
    sha = (known(path) or file_sha256(path)) if path.is_file() else None
    if sha is None or _synthetic_record(path, sha) is None:
        progress(f"no [data] path configured: generating synthetic {data.instrument} minutes "
                 f"{data.synthetic_start}..{data.synthetic_end} (seed {data.synthetic_seed}"
                 + (f", planted edge AUC {data.synthetic_edge_auc:g}" if data.synthetic_edge_auc else "") + f") into {path}")
        start = time.perf_counter()
        minutes = generate_minutes(data.synthetic_start, data.synthetic_end, data.synthetic_seed, config.instrument,
                                   config.session.calendar, edge_auc=data.synthetic_edge_auc)
        write_synthetic(minutes, path, data.instrument, data.synthetic_seed, data.synthetic_start, data.synthetic_end,
                        edge_auc=data.synthetic_edge_auc)
        progress(f"wrote {len(minutes):,} synthetic minutes in {time.perf_counter() - start:.1f} s")
        return path, True, True, None
    return path, True, False, sha


def write_synthetic(minutes: pd.DataFrame, path: str | Path, instrument: str, seed: int, start: dt.date,
                    end: dt.date, edge_auc: float = 0.0) -> Path:
    """Write generated minutes (FirstRate layout) and the provenance record that marks them the lab's own."""
    path = write_firstrate(minutes, path)
    record = synthetic_record(instrument, seed, start, end, file_sha256(path), edge_auc=edge_auc)
    market.record_path(path).write_text(json.dumps(record, indent=2) + "\n")
    return path


def _synthetic_record(path: Path, sha256: str) -> dict[str, Any] | None:
    try:
        record = json.loads(market.record_path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if record_matches(record, sha256) else None


def data_source(config: LabConfig, progress: Progress = _stderr_progress, hashed: tuple[Path, str] | None = None
                ) -> DataSource:
    """Resolve the minute file (generating the synthetic default) and tell real from the lab's synthetic data.

    ``hashed``: ``(file, SHA-256)`` of :func:`file_to_hash`'s file, taken beforehand; used when that is
    the file found (not hashed twice).

    Raises
    ------
    DataError
        The configured path is missing or not a file (one line, no traceback).
    """
    path, _, generated, sha = _resolve(config, progress, hashed)
    source = source_of(path, sha)
    return dataclasses.replace(source, generated=generated and source.synthetic is not None)


def source_of(path: str | Path, sha256: str | None = None) -> DataSource:
    """A given minute file as a :class:`DataSource` (synthetic only with a matching provenance record).

    ``sha256``: the file's SHA-256 when the caller has just computed it (not hashed twice).

    A stitched file's roll table (``<file>.rolls.csv``, :mod:`lab.data.contracts`) is part of its
    input: its SHA-256 is then that of the file's and the table's digests together, so editing the
    table changes the dataset digest.
    """
    path = require_minute_file(path)
    sha = sha256 or file_sha256(path)
    table = roll_table_path(path)
    if table.is_file():
        return DataSource(path, hashlib.sha256(f"{sha}:{file_sha256(table)}".encode()).hexdigest(), None)
    return DataSource(path, sha, _synthetic_record(path, sha))


def known_rolls(path: str | Path) -> pd.DataFrame | None:
    """The measured roll table beside a stitched minute file, or None (the doctor then detects)."""
    table = roll_table_path(path)
    return read_roll_table(table) if table.is_file() else None


def digest_settings(config: LabConfig, sealed: Sequence[DateRange] = ()) -> dict[str, Any]:
    """Everything besides the file's bytes that decides the tables of ``config`` read around ``sealed``."""
    settings = featurize_settings(config)
    excluded = read_exclusions(config, sealed)
    if excluded:  # the cut changes indicators formed across it; absent, the digest stays as it was
        settings["excluded_sealed_ranges"] = [str(rng) for rng in excluded]
    return settings


def digest_for(config: LabConfig, raw_sha256: str, sealed: Sequence[DateRange] = ()) -> str:
    """The digest of the tables ``config`` makes from a file with this SHA-256, read around ``sealed``.

    The one definition :func:`prepare_dataset` and the lineage check (``jobs.lineage``) share.
    """
    return dataset_digest(raw_sha256, digest_settings(config, sealed))


def read_exclusions(config: LabConfig, sealed: Sequence[DateRange] = ()) -> list[DateRange]:
    """The sealed ranges that lie (partly) before the test window, where featurize reads: cut unread."""
    return sorted({rng for rng in sealed if rng.start < config.windows.test.start}, key=lambda r: (r.start, r.end))


@without_huge_pages()
def prepare_dataset(config: LabConfig, progress: Progress = _stderr_progress, force: bool = False,
                    source: DataSource | None = None, sealed: Sequence[DateRange] = ()) -> Dataset:
    """Resolve, read (before the test window, outside every sealed range), digest and featurize, reusing the cache.

    Parameters
    ----------
    config : LabConfig
    progress : callable, optional
        Receives one line per step (default: stderr).
    force : bool
        Rebuild even when the cache holds this digest.
    source : DataSource, optional
        The file as :func:`data_source` found it (resolved here when not given).
    sealed : sequence of DateRange
        Sealed test ranges of the file's market (ET dates): their rows are never parsed. The
        caller (``jobs``) has checked that the train and validation windows avoid them.

    NumPy's huge-page advice is off for the call (:func:`lab.memory.without_huge_pages`).
    """
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    source = source or data_source(config, progress)
    path, synthetic, raw_sha = source.path, source.synthetic is not None, source.sha256
    excluded = read_exclusions(config, sealed)
    settings = digest_settings(config, sealed)
    digest = dataset_digest(raw_sha, settings)
    cache = FeatureCache(paths.features_dir())
    timings["digest_s"] = time.perf_counter() - tick
    if cache.has(digest) and not force:
        tick = time.perf_counter()
        try:
            if damage := cache.damage(digest):
                raise DataError(damage)
            tables = {name: cache.read(digest, name) for name in WINDOW_NAMES}
            prints = prints_from_table(cache.read(digest, PRINTS_TABLE))
        except DataError as exc:  # a truncated write, a full disk: rebuild rather than fail
            message = f"{exc}; rebuilding it from the minute file (nothing to do)"
            warnings.warn(message, stacklevel=2)
            progress(message)
            cache.discard(digest)
        else:
            timings["cache_read_s"] = time.perf_counter() - tick
            progress(f"cache hit {digest}: {', '.join(f'{n} {len(t):,} bars' for n, t in tables.items())}")
            return Dataset(digest, str(path), raw_sha, tables, cache.manifest(digest), True, cache.folder(digest),
                           timings, prints)

    cut = "".join(f", outside sealed {rng}" for rng in excluded)
    progress(f"reading {path} (rows before the test window {config.windows.test.start} only{cut})")
    tick = time.perf_counter()
    minute_file = read_minutes(path, tz=config.data.timezone, on_bad_rows=config.data.on_bad_rows,
                               max_bad_share=config.data.max_bad_share, until=config.windows.test.start,
                               exclude=[(r.start, r.end) for r in excluded])
    timings["read_s"] = time.perf_counter() - tick
    dropped = sum(minute_file.rows_dropped.values())
    progress(f"read {minute_file.rows_read:,} rows in {timings['read_s']:.2f} s; kept {len(minute_file.minutes):,}, "
             f"left {minute_file.rows_outside:,} held-out rows unread"
             + (f", dropped {dropped:,} bad rows {minute_file.rows_dropped}" if dropped else ""))
    audit: dict[str, Any] = {}
    source_name = None if synthetic else path.name
    rolls = featurize_rolls(minute_file.minutes, config, known_rolls(path))
    if config.data.on_bad_sessions == "drop":  # the doctor decides which minutes there are: it runs first
        prints, (minutes, findings, doctor, _) = _examine(minute_file.minutes, config, source_name, rolls, None, timings)
        _say_doctor(doctor, config, progress)
        (tables, minutes_val), timings["featurize_s"] = _timed(build_tables, minutes, config, audit)
    else:
        # The doctor only reports: featurize builds the tables from the roll-adjusted minutes while the
        # doctor and the fingerprints run on a second thread (their whole-array passes over the minutes
        # release the GIL; the features are mostly Python between short NumPy calls): the three take
        # about 0.33 s of wall instead of 0.45 s on the default file.
        adjusted = adjust_rolls(minute_file.minutes, rolls, config.data.roll_adjust)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-doctor") as pool:
            examining = pool.submit(_examine, minute_file.minutes, config, source_name, rolls, adjusted, timings)
            try:
                (tables, minutes_val), timings["featurize_s"] = _timed(build_tables, adjusted, config, audit)
            except Exception:  # the doctor's verdict on the file comes first, then why featurize failed
                _, (_, _, doctor, _) = examining.result()
                _say_doctor(doctor, config, progress)
                raise
            prints, (_, findings, doctor, _) = examining.result()
        _say_doctor(doctor, config, progress)
    timings["audit_s"] = audit["seconds"]  # part of featurize_s
    progress(f"built {', '.join(f'{n} {len(t):,} bars' for n, t in tables.items())} in {timings['featurize_s']:.2f} s; "
             f"look-ahead audit passed: {audit['features_audited']} features at {len(audit['cuts'])} cuts "
             f"({timings['audit_s']:.2f} s)")
    manifest = {
        "digest": digest,
        "source": str(path),
        "synthetic": synthetic,
        "raw_sha256": raw_sha,
        "settings": settings,
        "features": model_features(config, custom_columns(tables["train"])),
        "leak_audit": audit,
        "targets": list(TARGET_NAMES),
        "horizons_bars": horizons(config),
        "rows_read": minute_file.rows_read,
        "rows_dropped": minute_file.rows_dropped,
        "rows_held_out": minute_file.rows_outside,
        "data_doctor": doctor,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **_summaries(tables),
    }
    tick = time.perf_counter()
    if len(rolls):
        progress(f"{len(rolls)} contract roll(s) in the file; [data] roll_adjust = {config.data.roll_adjust!r}"
                 + (": minutes before each switch shifted by its gap" if config.data.roll_adjust == "back" else
                    ": the jumps are left in the prices (and the features)"))
    # the roll table as logged: how each switch was found (method) and what featurize did with it (adjust)
    roll_table = rolls.assign(minute=rolls["minute"].astype(str), date=rolls["date"].astype(str),
                              adjust=config.data.roll_adjust)
    folder = cache.write(digest, {**tables, "minutes_validation": minutes_val, "data_findings": findings,
                                  PRINTS_TABLE: prints_table(prints), "rolls": roll_table}, manifest)
    timings["write_s"] = time.perf_counter() - tick
    return Dataset(digest, str(path), raw_sha, tables, manifest, False, folder, timings, prints)


def _timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``function(*args)`` and its wall time (seconds)."""
    tick = time.perf_counter()
    return function(*args), time.perf_counter() - tick


def _examine(minutes: pd.DataFrame, config: LabConfig, source_name: str | None, rolls: pd.DataFrame,
             adjusted: pd.DataFrame | None, timings: dict[str, float]) -> tuple[list[SessionPrint], tuple]:
    """The session fingerprints and :func:`lab.data.doctor.examine_for_featurize` of the minutes read;
    their wall times go to ``timings`` (``fingerprints_s``, ``doctor_s``)."""
    prints, timings["fingerprints_s"] = _timed(read_fingerprints, minutes, config)
    examined, timings["doctor_s"] = _timed(examine_for_featurize, minutes, config, source_name, rolls, adjusted)
    return prints, examined


def _say_doctor(doctor: dict[str, Any], config: LabConfig, progress: Progress) -> None:
    """Warn (and tell ``progress``) about the instrument's name or price level and the flagged sessions."""
    for message in doctor["instrument_warnings"]:
        warnings.warn(message, stacklevel=3)
        progress(message)
    if (message := findings_warning(doctor, config.data.on_bad_sessions)) is not None:
        warnings.warn(message, stacklevel=3)
        progress(message)


def read_fingerprints(minutes: pd.DataFrame, config: LabConfig) -> list[SessionPrint]:
    """Content fingerprints of every regular session in ``minutes`` (:mod:`lab.data.fingerprints`)."""
    if minutes.empty:
        return []
    first, last = minutes.index[0].date(), minutes.index[-1].date()
    return session_fingerprints(minutes, regular_sessions(config.session.calendar, first, last))


def feature_summary(table: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Per-feature count, NaN count, mean, std, min, median, max (for the featurize report)."""
    values = table[features]
    summary = values.describe(percentiles=[0.5]).T.rename(columns={"50%": "median"})
    summary.insert(1, "nan_count", values.isna().sum())
    return summary.reset_index(names="feature")


def refuse_frozen_prices(bars: pd.DataFrame, name: str, window: object) -> None:
    """Refuse a window whose bars never move: the file is at fault, not the window.

    Raises
    ------
    DataError
        Every open, high, low and close of the window's bars is one price (a frozen feed, a
        placeholder file): nothing could be labelled or learned, and no longer window would help.
    """
    prices = bars[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
    if len(prices) and np.nanmin(prices) == np.nanmax(prices):
        raise DataError(f"the minute file's prices never move in the {name} window {window}: every open, high, low "
                        f"and close of its {len(bars)} bars is {prices[0, 0]:g}, so no bar can be labelled; check the "
                        "file (a frozen feed, a placeholder, or a wrong column) - another window will not help")


def class_balance(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per window and target: labelled rows, share of ones, unlabelled rows."""
    rows = []
    for name, table in tables.items():
        for target in TARGET_NAMES:
            labels = table[target]
            rows.append({"window": name, "target": target, "labelled": int(labels.notna().sum()),
                         "share_of_ones": float(labels.mean()) if labels.notna().any() else np.nan,
                         "unlabelled": int(labels.isna().sum())})
    return pd.DataFrame(rows)


#: Calendar days of history before the test window used to form indicators (EMA 200, ATR, ...).
TEST_WARMUP_DAYS = 90


def rolls_for(minutes: pd.DataFrame, config: LabConfig, rolls: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The contract switches the lab adjusts ``minutes`` across: ``rolls`` (a stitched file's table), else
    those detected in them (:func:`lab.data.rolls.detect_rolls`); None under ``[data] roll_adjust = "none"``."""
    if config.data.roll_adjust != "back" or minutes.empty:
        return None
    if rolls is None:
        rolls = detect_rolls(minutes, config.data.instrument, config.session.calendar, config.instrument.tick_size)
    return rolls


def adjusted_for_rolls(minutes: pd.DataFrame, config: LabConfig, rolls: pd.DataFrame | None = None) -> pd.DataFrame:
    """The minutes as featurize uses them: with ``[data] roll_adjust = "back"``, shifted across the contract
    switches of ``rolls`` (a stitched file's table), else of those detected in them; unchanged otherwise.

    The one rule for final-eval's test window and paper's replay and follower, so all see the prices
    featurize saw.
    """
    table = rolls_for(minutes, config, rolls)
    return minutes if table is None else adjust_rolls(minutes, table, "back")


def build_window_table(minutes: pd.DataFrame, config: LabConfig, start: dt.date, end: dt.date,
                       rolls: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and targets of the bars dated ``start..end`` (ET), computed with the preceding history.

    ``minutes`` should begin at least :data:`TEST_WARMUP_DAYS` before ``start`` so every
    indicator is formed; rows before ``start`` feed the indicators only and are dropped. Final-eval
    uses this for the test window. Returns the table and the regular-session minutes of the window.
    With ``[data] roll_adjust = "back"`` the minutes are first adjusted across the contract
    switches of ``rolls`` (a stitched file's table), else of those detected in them, as featurize does.
    """
    minutes = adjusted_for_rolls(minutes, config, rolls)
    table, sessions = featurized_bars(minutes, config)
    if len(table.loc[: pd.Timestamp(start).tz_localize(table.index.tz)]) < config.session.warmup_bars:
        raise DataError(f"fewer than {config.session.warmup_bars} regular-session bars before {start}: the "
                        "indicators would not be formed; the minute file must start earlier")
    day = table.index.tz_localize(None).normalize()
    inside = (day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))
    table = table.loc[inside]
    if table.empty:
        raise DataError(f"the minute file has no regular-session bars between {start} and {end}")
    window_minutes = session_minutes(minutes, sessions)
    local_day = window_minutes.index.tz_localize(None).normalize()
    window_minutes = window_minutes.loc[(local_day >= pd.Timestamp(start)) & (local_day <= pd.Timestamp(end))]
    return table, window_minutes
