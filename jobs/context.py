"""The data identity of a job, resolved once at its start and passed down (worker processes included).

A job keys its file's market, checks its windows against the market's seals (sealing its own test
window the first time) and keeps the answer in one value: the file as the data layer found it
(path, SHA-256, synthetic provenance), the market, and the sealed ranges that no read may parse.
Every later step (featurize, the tune's worker processes, the ledger, the statistics) takes that
value as an argument; nothing re-derives it or reads it back from the active run's tags.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab import tags as tag
from lab import tracking
from lab.config import DateRange, LabConfig
from lab.dataset.build import data_source, prepare_dataset
from lab.market.identity import DataSource, market_id
from registry.content import ensure_seal_prints, refuse_sealed_content
from registry.provenance import trusted_source
from registry.seals import enforce_seals

__all__ = ["DataIdentity", "resolve_data", "open_dataset"]


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


def resolve_data(config: LabConfig, *, stage: str, run_id: str | None) -> DataIdentity:
    """Key the configuration's file, enforce the market's seals and tag the run with its market, once.

    Parameters
    ----------
    config : LabConfig
    stage : str
        The job's stage (named in a refusal and in a new seal's record).
    run_id : str, optional
        The job's run (tagged ``lab.market``; records who sealed a new range).

    Raises
    ------
    registry.errors.SealedRangeError
        A train or validation window overlaps a sealed range (nothing is read).
    """
    source = trusted_source(data_source(config), config)  # synthetic only by the store's record
    market = market_id(config.data.instrument, source)
    sealed = enforce_seals(config, market, stage=stage, run_id=run_id)
    if run_id:
        tracking.set_tags({tag.MARKET: market}, run_id)
    ensure_seal_prints(config, source.path, market, run_id, sealed)  # the first run of a new seal fingerprints it
    return DataIdentity(source, market, tuple(sealed), stage)


def open_dataset(config: LabConfig, data: DataIdentity, force: bool = False):
    """The featurized dataset of ``data``, its sealed ranges left unread (from the cache when possible).

    Raises
    ------
    registry.errors.SealedRangeError
        A session read has the content of a sealed session of any market (:mod:`registry.content`).
    """
    dataset = prepare_dataset(config, force=force, source=data.source, sealed=list(data.sealed))
    refuse_sealed_content(dataset.session_prints, data.stage)
    return dataset
