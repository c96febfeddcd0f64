"""The context of a job, resolved once where the job starts and passed down (worker processes included).

A job opens its stage run, keys its file's market, checks its windows against the market's seals
(sealing its own test window the first time) and keeps the answers in one value,
:class:`JobContext`: the configuration, the tracking store, the data identity (the file as the
data layer found it, its SHA-256, the market, the sealed ranges no read may parse), the stage run
and the runs the stage builds on. Every later step (featurize, the tune's worker processes, the
ledger, the statistics, the reports) takes that value as an argument; nothing re-derives it or
reads it back from the active run's tags.
"""

from __future__ import annotations

import contextlib
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from lab import tags as tag
from lab import tracking
from lab.config import DateRange, LabConfig
from lab.dataset.build import data_source, file_to_hash, prepare_dataset
from lab.dataset.cache import file_sha256
from lab.market.identity import DataSource, market_id
from registry.content import ensure_seal_prints, refuse_sealed_content
from registry.provenance import trusted_source
from registry.seals import enforce_seals

__all__ = ["DataIdentity", "StageRun", "JobContext", "identify", "resolve_data", "open_job", "open_dataset"]


@dataclass(frozen=True)
class DataIdentity:
    """The minute file a job reads, its market and the ranges it must leave unread.

    Attributes
    ----------
    source : DataSource
        Path, SHA-256 of the bytes and (for the lab's own synthetic data) the generator settings.
    market : str
        :func:`lab.market.identity.market_id` of the file: the key of seals, tickets and the ledger.
    sealed : tuple of DateRange
        Every sealed test range of the market (ET dates, inclusive): never parsed.
    stage : str
        The job reading it (named in a refusal).
    """

    source: DataSource
    market: str
    sealed: tuple[DateRange, ...]
    stage: str = "a lab job"

    @property
    def path(self) -> str:
        return str(self.source.path)

    @property
    def sha256(self) -> str:
        return self.source.sha256


@dataclass(frozen=True)
class StageRun:
    """The MLflow run a job works in, as the job opened it (never looked up from the active run's tags)."""

    run_id: str
    stage: str
    experiment_id: str


@dataclass(frozen=True)
class JobContext:
    """Everything a job resolved at its start; picklable, so a worker process receives it whole.

    Attributes
    ----------
    config : LabConfig
        The resolved configuration (relative paths resolved where the user stands).
    store : str
        The tracking URI the job logs to (a worker process sets it from here).
    data : DataIdentity
        The file, its SHA-256, market and sealed ranges.
    run : StageRun
        The job's own run.
    builds_on : tuple of str
        The runs the stage builds on (tune runs, the champion's), in the order given.
    """

    config: LabConfig
    store: str
    data: DataIdentity
    run: StageRun
    builds_on: tuple[str, ...] = ()

    @property
    def market(self) -> str:
        return self.data.market

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def with_config(self, config: LabConfig) -> "JobContext":
        """The same job under a changed configuration (e.g. one thread per tune worker); the data stay."""
        return dataclasses.replace(self, config=config)


def identify(config: LabConfig, hashed: tuple[Path, str] | None = None) -> tuple[DataSource, str]:
    """The configuration's file as the lab trusts it (synthetic only by the store's record) and its market.

    The one place a job keys its file: :func:`resolve_data`, final-eval's checks and paper's lineage
    check all call it. ``hashed``: ``(file, SHA-256)`` taken beforehand (see :func:`open_job`).
    """
    source = trusted_source(data_source(config, hashed=hashed), config)
    return source, market_id(config.data.instrument, source)


def resolve_data(config: LabConfig, *, stage: str, run_id: str | None,
                 reads: Mapping[str, DateRange] | None = None, hashed: tuple[Path, str] | None = None) -> DataIdentity:
    """Key the configuration's file, enforce the market's seals and tag the run with its market, once.

    Parameters
    ----------
    config : LabConfig
    stage : str
        The job's stage (named in a refusal and in a new seal's record).
    run_id : str, optional
        The job's run (tagged ``lab.market``; records who sealed a new range).
    reads : mapping, optional
        The ranges the job reads, by name (default: the train and validation windows; ``{}`` for a
        job that checks its own ranges, as paper and final-eval do).
    hashed : (Path, str), optional
        A file and its SHA-256 taken beforehand (see :func:`open_job`).

    Raises
    ------
    registry.errors.SealedRangeError
        A train or validation window overlaps a sealed range (nothing is read).
    """
    source, market = identify(config, hashed)
    sealed = enforce_seals(config, market, stage=stage, run_id=run_id, reads=reads)
    if run_id:
        tracking.set_tags({tag.MARKET: market}, run_id)
    ensure_seal_prints(config, source.path, market, run_id, sealed)  # the first run of a new seal fingerprints it
    return DataIdentity(source, market, tuple(sealed), stage)


@contextlib.contextmanager
def open_job(stage: str, config: LabConfig, *, target: str | None = None, params: Mapping[str, Any] | None = None,
             tags: Mapping[str, str] | None = None, builds_on: Sequence[str] = (),
             reads: Mapping[str, DateRange] | None = None, run_name: str | None = None,
             data: DataIdentity | None = None) -> Iterator[JobContext]:
    """Open the job's stage run (:func:`lab.tracking.stage_run`) and resolve its data once; the context.

    ``reads`` as in :func:`resolve_data`. ``data``: the identity a job already resolved before its
    run could start (paper checks its trading dates against the seals first); the run is tagged with
    its market. A refusal inside (a sealed range, a store fault) marks the run FAILED with the
    reason, as any error in a stage run does.

    The SHA-256 of a file that is there to hash (:func:`lab.dataset.build.file_to_hash`: no stitching or
    generating first) is taken on a second thread while the run opens (hashing releases the GIL; 0.08 s
    of the default file's 119 MB, about a quarter of a warm stage's own work); its answer, or its
    error, is taken inside the run, and the thread has ended before the job's work begins.
    """
    file = file_to_hash(config) if data is None else None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-hash") if file is not None else None
    hashing = pool.submit(file_sha256, file) if pool is not None else None
    try:
        with tracking.stage_run(stage, config, target=target, params=params, tags=tags, run_name=run_name) as run:
            if data is None:
                hashed = (file, hashing.result()) if hashing is not None else None
                if pool is not None:
                    pool.shutdown()  # the thread ends before the job's work begins
                data = resolve_data(config, stage=stage, run_id=run.info.run_id, reads=reads, hashed=hashed)
            else:
                tracking.set_tags({tag.MARKET: data.market}, run.info.run_id)
            yield JobContext(config, tracking.tracking_uri(), data,
                             StageRun(run.info.run_id, stage, run.info.experiment_id),
                             tuple(r for r in builds_on if r))
    finally:
        if pool is not None:
            pool.shutdown()  # after a failed opening of the run or hash: waits at most for the hash


def open_dataset(job: JobContext, force: bool = False):
    """The featurized dataset of the job's data, its sealed ranges left unread (from the cache when possible).

    Raises
    ------
    registry.errors.SealedRangeError
        A session read has the content of a sealed session of any market (:mod:`registry.content`).
    """
    data = job.data
    dataset = prepare_dataset(job.config, force=force, source=data.source, sealed=list(data.sealed))
    refuse_sealed_content(dataset.session_prints, data.stage)
    return dataset
