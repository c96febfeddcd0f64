"""The trial ledger: how many evaluations have looked at one market's validation window.

Records are the truth. Every run that evaluates something on a validation window carries three
tags, and the count is summed from the runs themselves, searched across every experiment of the
tracking store (deleted runs and experiments included: deleting a run does not undo having seen
its result). So the count survives new studies, new experiments and renamed models.

``lab.ledger.market``
    The market key (:func:`market_key`): whose data was evaluated.
``lab.ledger.window``
    The validation window, ``YYYY-MM-DD..YYYY-MM-DD`` (``[windows] validation``).
``lab.ledger.trials_in_run``
    How many evaluations the run itself represents: 1 for a tune trial (a nested run), a
    walk-forward or a backtest (each strategy, threshold, rules or cost variant is its own run);
    the number of points for an analysis sweep; 0 for a tune parent run (its trials are its
    nested runs, and its final refit re-scores the best trial's point; it names how many in
    ``lab.ledger.trials_nested``). Runs made before it was renamed carry the same count as
    ``lab.ledger.trials``, which is still read.

Each tune, backtest and analysis run logs the metric ``trials_on_validation``: the count
including itself. MLflow is reached only through :mod:`lab.tracking`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lab import tags as tag
from lab import tracking
from lab.config import LabConfig
from lab.dataset.build import source_of
from lab.errors import DataError
from lab.market.identity import DataSource, instrument_family, market_id
from registry.provenance import recorded_source

__all__ = ["MARKET_TAG", "WINDOW_TAG", "TRIALS_TAG", "TRIALS_METRIC", "LedgerEntry", "market_key", "window_key",
           "ledger_tags", "enter", "entries", "count_trials", "log_count", "by_stage"]

MARKET_TAG = tag.LEDGER_MARKET
WINDOW_TAG = tag.LEDGER_WINDOW
TRIALS_TAG = tag.LEDGER_TRIALS
TRIALS_METRIC = "trials_on_validation"

#: Instrument roots of one underlying: a trial on MES has looked at the same market as one on ES.


@dataclass(frozen=True)
class LedgerEntry:
    """One run recorded in the ledger.

    Attributes
    ----------
    run_id, stage, status : str
        ``stage`` is the ``lab.stage`` tag (``tune-trial``, ``backtest`` ...).
    trials : int
        Evaluations the run represents (``lab.ledger.trials_in_run``).
    metrics : mapping of str to float
        Its latest metrics (backtests carry ``sharpe_ratio`` and ``sessions``).
    """

    run_id: str
    stage: str
    status: str
    trials: int
    metrics: Mapping[str, float] = field(default_factory=dict)


def market_key(config: LabConfig) -> str:
    """The market a configuration's data belongs to (:func:`lab.market.identity.market_id`): ``ES`` for MES/ES
    files, ``NQ`` for MNQ/NQ, ``synthetic-...`` for the lab's own generated data.

    A job passes the market it resolved at its start (:func:`jobs.context.resolve_data`) instead of
    calling this. Here the file is keyed as the data layer keys it, synthetic only by the store's
    record of its bytes (a copy of the lab's data in a new store counts as real until a job proves it
    by regenerating it); the synthetic default is keyed from its generator settings without
    generating it (``lab status`` reads no data).
    """
    data = config.data
    if not data.path:
        settings = {"instrument": data.instrument, "seed": data.synthetic_seed, "start": data.synthetic_start,
                    "end": data.synthetic_end, "edge_auc": data.synthetic_edge_auc}
        return market_id(config.data.instrument, DataSource(Path(""), "", settings))
    try:  # synthetic only by the store's record of the bytes, as the jobs key it (registry.provenance)
        return market_id(config.data.instrument, recorded_source(source_of(data.path)))
    except DataError:  # no file to key: the instrument's family, as real data of it would be
        return instrument_family(data.instrument)


def window_key(config: LabConfig) -> str:
    """The validation window as the ledger names it: ``YYYY-MM-DD..YYYY-MM-DD``."""
    return str(config.windows.validation)


def ledger_tags(market: str, window: str, trials: int) -> dict[str, str]:
    """The three tags that enter a run in the ledger.

    >>> ledger_tags("ES", "2023-01-01..2023-12-31", 1)["lab.ledger.trials_in_run"]
    '1'
    """
    if trials < 0:
        raise ValueError(f"trials = {trials}: a run represents 0 or more evaluations")
    if not market or not window:
        raise ValueError(f"market {market!r} and window {window!r} must both be named to count a trial")
    return {MARKET_TAG: market, WINDOW_TAG: window, TRIALS_TAG: str(int(trials))}


def enter(config: LabConfig, trials: int, run_id: str | None = None, *, market: str | None = None) -> dict[str, str]:
    """Tag the active run (or ``run_id``) as ``trials`` evaluations on the market and the config's validation window.

    Call it when the run starts, before it looks at validation results. ``market``: the job's
    (:class:`jobs.context.DataIdentity`); keyed from the config when not given. Returns the tags set.
    """
    tags = ledger_tags(market or market_key(config), window_key(config), trials)
    tracking.set_tags(tags, run_id)
    return tags


def entries(market: str, window: str) -> list[LedgerEntry]:
    """Every run of the store recorded for ``market`` and ``window``, any experiment, any status."""
    filter_string = f"tags.`{MARKET_TAG}` = '{_quote(market)}' and tags.`{WINDOW_TAG}` = '{_quote(window)}'"
    out = []
    for run in tracking.find_runs(filter_string):
        tags = run.data.tags
        out.append(LedgerEntry(run.info.run_id, tags.get(tag.STAGE, ""), run.info.status,
                               _trials(tags.get(TRIALS_TAG, tags.get(tag.LEDGER_TRIALS_BEFORE_RENAME))),
                               dict(run.data.metrics)))
    return out


def seen_ranges(market: str) -> dict[str, list[str]]:
    """Every window of ``market`` the ledger holds evaluations on (``start..end`` -> the runs that looked)."""
    seen: dict[str, list[str]] = {}
    for run in tracking.find_runs(f"tags.`{MARKET_TAG}` = '{_quote(market)}'"):
        tags = run.data.tags
        if _trials(tags.get(TRIALS_TAG)) or tags.get(tag.STAGE) == "tune":
            seen.setdefault(tags.get(WINDOW_TAG, ""), []).append(run.info.run_id)
    return {window: runs for window, runs in seen.items() if window}


def count_trials(market: str, window: str) -> int:
    """The ledger's count: evaluations on ``window`` of ``market``, summed over every recorded run."""
    return sum(entry.trials for entry in entries(market, window))


def log_count(config: LabConfig, run_id: str | None = None, *, market: str | None = None) -> int:
    """Log ``trials_on_validation`` (the count including this run) on the active run; returns it."""
    count = count_trials(market or market_key(config), window_key(config))
    tracking.log_metrics({TRIALS_METRIC: count}, run_id=run_id)
    return count


def by_stage(records: list[LedgerEntry]) -> dict[str, int]:
    """Evaluations per ``lab.stage`` (what ``lab status`` shows), largest first."""
    counts: dict[str, int] = {}
    for entry in records:
        counts[entry.stage or "untagged"] = counts.get(entry.stage or "untagged", 0) + entry.trials
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def _trials(text: Any) -> int:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return 1  # a run in the ledger with an unreadable count still looked once
    return int(value) if math.isfinite(value) and value >= 0 else 1


def _quote(text: str) -> str:
    return str(text).replace("'", "\\'")
