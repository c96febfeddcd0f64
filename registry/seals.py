"""Sealed test ranges: once a test window is used, no entry point but final-eval reads its dates.

A seal is a registered model named ``lab-seal-<market>-<start>_<end>`` (see
:mod:`registry.records`), created the first time any entry point runs with that test window on
that market (:func:`lab.market.identity.market_id`: ``ES`` for MES and ES files alike, a key of its own
for the lab's synthetic data). It is never lifted: a later configuration with another test window
adds a seal. Before reading a minute file every entry point calls :func:`enforce_seals`, which

* refuses a train or validation window (or any other range the job reads) that overlaps a seal,
  naming the seal, when it was sealed and by which run;
* refuses a test window that overlaps a seal without being exactly it;
* seals the configuration's test window (atomically, once);
* returns every sealed range of the market, which the readers leave unparsed.

    sealed = enforce_seals(config, market, stage="tune", run_id=run.info.run_id)
    dataset = prepare_dataset(config, source=source, sealed=sealed)

The MLflow UI lists seals under "Models" (tag ``lab.kind = test-window-seal``), with their state
(open, in progress, spent, released) in the description and the tag ``lab.seal.state``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from lab import tags as tag
from lab.config import DateRange, LabConfig
from lab.dataset.build import source_of
from lab.market.identity import market_id
from registry.errors import RegistryError, SealedRangeError
from registry.ledger import seen_ranges
from registry.provenance import trusted_source
from registry.records import create_record, get_client, get_record, now, search_records, set_tags, who

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["Seal", "SEAL_KIND", "SEAL_PREFIX", "seal_name", "parse_window", "list_seals", "add_seal", "enforce_seals",
           "check_reads", "mark_seal_state", "sealed_ranges", "get_seal"]

SEAL_KIND = "test-window-seal"
SEAL_PREFIX = "lab-seal-"
_WINDOW = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_MARKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Seal:
    """A sealed test range as the backend holds it.

    Attributes
    ----------
    name, market : str
        The registered model, and the market key it seals (``ES``, ``synthetic-...``).
    window : DateRange
        The sealed ET dates (inclusive).
    sealed_at, sealed_by : str
        UTC time (ISO 8601) and ``user@host`` of the first run that used the window.
    stage, run_id, config_source : str
        That run's entry point, MLflow run id (empty outside a run) and configuration file.
    state : str
        Last known state, for people: ``open``, ``in progress``, ``spent: <verdict>``, ``released``.
    """

    name: str
    market: str
    window: DateRange
    sealed_at: str
    sealed_by: str
    stage: str
    run_id: str
    config_source: str
    state: str = "open"

    def describe(self) -> str:
        """One line: when, by which run, from which configuration."""
        run = f"{self.stage} run {self.run_id}" if self.run_id else f"{self.stage} (no run id)"
        return f"sealed {self.sealed_at} by {run} ({self.sealed_by}, config {self.config_source})"


def parse_window(window: DateRange | str) -> DateRange:
    """``start..end`` (or a DateRange) as a :class:`DateRange`; refuses anything else."""
    if isinstance(window, DateRange):
        text = str(window)
    else:
        text = str(window).strip()
    match = _WINDOW.match(text)
    if not match:
        raise RegistryError(f"test window {text!r} must read YYYY-MM-DD..YYYY-MM-DD (e.g. 2024-01-01..2025-12-31)")
    start, end = (dt.date.fromisoformat(part) for part in match.groups())
    if end < start:
        raise RegistryError(f"test window {text!r} ends before it starts; fix [windows] test in lab.toml")
    return DateRange(start, end)


def check_market(market: str) -> str:
    """A market key fit for a registry name (see :func:`lab.market.identity.market_id`)."""
    if not market or not _MARKET.match(market):
        raise RegistryError(f"market {market!r} must be letters, digits, '.', '_' or '-' (see lab.market.identity.market_id)")
    return market


def seal_name(market: str, window: DateRange | str) -> str:
    """The registered-model name of the seal of ``window`` on ``market``."""
    rng = parse_window(window)
    return f"{SEAL_PREFIX}{check_market(market)}-{rng.start}_{rng.end}"


def list_seals(market: str | None = None, client: "MlflowClient | None" = None) -> list[Seal]:
    """Every seal (of ``market``, when given), by window start."""
    client = get_client(client)
    seals = [_seal(model) for model in search_records(client, SEAL_KIND)]
    return sorted((s for s in seals if market is None or s.market == market), key=lambda s: (s.market, s.window.start))


def get_seal(market: str, window: DateRange | str, client: "MlflowClient | None" = None) -> Seal | None:
    """The seal of ``window`` on ``market``, or ``None``."""
    model = get_record(get_client(client), seal_name(market, window))
    return None if model is None else _seal(model)


def add_seal(market: str, window: DateRange | str, *, stage: str, run_id: str = "", config_source: str = "",
             client: "MlflowClient | None" = None) -> Seal:
    """Seal ``window`` on ``market`` (once: a seal that exists is returned as it is, never changed)."""
    client = get_client(client)
    rng = parse_window(window)
    name = seal_name(market, rng)
    at, by = now(), who()
    tags = {tag.KIND: SEAL_KIND, tag.SEAL_MARKET: market, tag.SEAL_WINDOW: str(rng), tag.SEAL_SEALED_AT: at,
            tag.SEAL_SEALED_BY: by, tag.SEAL_STAGE: stage, tag.SEAL_RUN_ID: run_id or "",
            tag.SEAL_CONFIG_SOURCE: config_source, tag.SEAL_STATE: "open"}
    create_record(client, name, tags, _description(market, rng, stage, run_id, at, by, "open"))
    found = get_seal(market, rng, client)
    if found is None:  # pragma: no cover - created or already there
        raise RegistryError(f"seal {name} exists but cannot be read back; retry, then check `lab status`")
    return found


def check_reads(market: str, seals: list[Seal], reads: Mapping[str, DateRange], stage: str) -> None:
    """Refuse any range a job reads that overlaps a seal of ``market``.

    Raises
    ------
    SealedRangeError
        Naming the range, the seal, when and by which run it was sealed.
    """
    for label, rng in reads.items():
        for seal in seals:
            if rng.start <= seal.window.end and seal.window.start <= rng.end:
                raise SealedRangeError(
                    f"{stage} refused: {label} {rng} overlaps the sealed test range {seal.window} of market {market} "
                    f"({seal.describe()}; {seal.state}). No entry point but final-eval reads a sealed range, whatever "
                    "the configuration says, and a seal is never lifted: choose dates outside every sealed range "
                    "(`lab status` lists them).")


def enforce_seals(config: LabConfig, market: str, *, stage: str, run_id: str = "",
                  reads: Mapping[str, DateRange] | None = None, client: "MlflowClient | None" = None
                  ) -> list[DateRange]:
    """Check the configuration against the market's seals, seal its test window, return every sealed range.

    Parameters
    ----------
    config : LabConfig
        Its ``[windows] train`` and ``validation`` are what the job reads; ``test`` is sealed.
    market : str
        :func:`lab.market.identity.market_id` of the file the job reads.
    stage : str
        The entry point (named in refusals and on the seal).
    run_id : str
        The job's MLflow run (recorded on a new seal).
    reads : mapping, optional
        Ranges read in place of ``train``/``validation`` (``{"label": DateRange}``).

    Raises
    ------
    SealedRangeError
        A read range overlaps a seal, or the test window overlaps a seal without being it.
    """
    client = get_client(client)
    check_market(market)
    test = config.windows.test
    seals = list_seals(market, client)
    if reads is None:
        reads = {"[windows] train": config.windows.train, "[windows] validation": config.windows.validation}
    check_reads(market, seals, reads, stage)
    check_test_window(market, seals, test, stage)
    if not any(seal.window == test for seal in seals):
        check_unseen(market, test, stage)
        seals.append(add_seal(market, test, stage=stage, run_id=run_id, config_source=config.source, client=client))
    return sorted({seal.window for seal in seals}, key=lambda r: (r.start, r.end))


def sealed_ranges(config: LabConfig, path: str, stage: str = "lab data check",
                  client: "MlflowClient | None" = None) -> list[DateRange]:
    """Seal ``config``'s test window on the market of the file at ``path``; every sealed range of that market."""
    source = trusted_source(source_of(path), config, client)
    return enforce_seals(config, market_id(config.data.instrument, source), stage=stage, reads={}, client=client)


def check_unseen(market: str, test: DateRange, stage: str) -> None:
    """Refuse, as a new test window, a range the trial ledger has evaluations on for ``market``.

    Raises
    ------
    SealedRangeError
        Naming the window looked at and the runs that looked.
    """
    for window, runs in sorted(seen_ranges(market).items()):
        try:
            seen = parse_window(window)
        except RegistryError:
            continue
        if test.start <= seen.end and seen.start <= test.end:
            shown = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
            raise SealedRangeError(
                f"{stage} refused: [windows] test {test} overlaps {seen}, which market {market} was already evaluated "
                f"on as a validation window ({len(runs)} run(s): {shown}); a test window must be unseen. Choose test "
                "dates after every range you tuned, validated, backtested or analysed on (`lab status` lists them).")


def check_test_window(market: str, seals: list[Seal], test: DateRange, stage: str) -> None:
    """Refuse a test window that overlaps a seal without being exactly that sealed range."""
    for seal in seals:
        if seal.window != test and test.start <= seal.window.end and seal.window.start <= test.end:
            raise SealedRangeError(
                f"{stage} refused: [windows] test {test} overlaps the sealed test range {seal.window} of market "
                f"{market} ({seal.describe()}; {seal.state}) without being it. Use {seal.window} itself as "
                "[windows] test, or dates disjoint from every sealed range (`lab status` lists them).")


def mark_seal_state(market: str, window: DateRange | str, state: str, client: "MlflowClient | None" = None) -> None:
    """Record the window's state on its seal, for people (tag and description); seals it if it was not."""
    client = get_client(client)
    rng = parse_window(window)
    seal = get_seal(market, rng, client) or add_seal(market, rng, stage="final-eval", client=client)
    set_tags(client, seal.name, {tag.SEAL_STATE: state})
    client.update_registered_model(seal.name, description=_description(
        market, rng, seal.stage, seal.run_id, seal.sealed_at, seal.sealed_by, state))


def _description(market: str, rng: DateRange, stage: str, run_id: str, at: str, by: str, state: str) -> str:
    return (f"Sealed test range {rng} of market {market}. No entry point but final-eval reads these dates, and "
            f"final-eval once (ticket lab-ticket-{market}-{rng.start}_{rng.end}). Sealed {at} by {stage} run "
            f"{run_id or '(none)'} ({by}). State: {state}. Never delete it: that would re-open dates already held "
            "out for a test.")


def _seal(model) -> Seal:
    tags = dict(model.tags)
    return Seal(name=model.name, market=tags.get(tag.SEAL_MARKET, ""),
                window=parse_window(tags.get(tag.SEAL_WINDOW, "")), sealed_at=tags.get(tag.SEAL_SEALED_AT, ""),
                sealed_by=tags.get(tag.SEAL_SEALED_BY, ""), stage=tags.get(tag.SEAL_STAGE, ""),
                run_id=tags.get(tag.SEAL_RUN_ID, ""), config_source=tags.get(tag.SEAL_CONFIG_SOURCE, ""),
                state=tags.get(tag.SEAL_STATE, "open"))
