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
from typing import Any, Iterator, Mapping, Sequence

from lab import tags as tag
from lab import tracking
from lab.config import DateRange, LabConfig
from lab.dataset.build import data_source, prepare_dataset
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


def identify(config: LabConfig, found: DataSource | None = None) -> tuple[DataSource, str]:
    """The configuration's file as the lab trusts it (synthetic only by the store's record) and its market.

    The one place a job keys its file: :func:`resolve_data`, final-eval's checks and paper's lineage
    check all call it. ``found``: the file as :func:`lab.dataset.build.data_source` found it for this
    configuration (its SHA-256 taken while the job's run opened); found here when not given.
    """
    source = trusted_source(found or data_source(config), config)
    return source, market_id(config.data.instrument, source)


def resolve_data(config: LabConfig, *, stage: str, run_id: str | None,
                 reads: Mapping[str, DateRange] | None = None, found: DataSource | None = None) -> DataIdentity:
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
    found : DataSource, optional
        The file as :func:`lab.dataset.build.data_source` found it (see :func:`identify`).

    Raises
    ------
    registry.errors.SealedRangeError
        A train or validation window overlaps a sealed range (nothing is read).
    """
    source, market = identify(config, found)
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

    The file's SHA-256 is taken on a second thread while the run opens (hashing releases the GIL;
    0.08 s of the default file's 119 MB, about a quarter of a warm stage's own work); its answer,
    or its error, is taken inside the run.
    """
    with contextlib.ExitStack() as stack:
        finding = None
        if data is None:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-identify"))
            finding = pool.submit(data_source, config)
        with tracking.stage_run(stage, config, target=target, params=params, tags=tags, run_name=run_name) as run:
            if finding is not None:
                data = resolve_data(config, stage=stage, run_id=run.info.run_id, reads=reads, found=finding.result())
            else:
                tracking.set_tags({tag.MARKET: data.market}, run.info.run_id)
            yield JobContext(config, tracking.tracking_uri(), data,
                             StageRun(run.info.run_id, stage, run.info.experiment_id),
                             tuple(r for r in builds_on if r))


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
