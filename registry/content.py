"""Seals by content: a sealed session is refused under any file name, instrument, time shift or copy.

When a test window is sealed, the job that sealed it records the content fingerprints of every
sealed session (:mod:`lab.data.fingerprints`: the minute-to-minute price steps, nothing of the
file's name, instrument, stamps or price level) as an artifact of its run, named by the seal's tag
``lab.seal.fingerprints``. Every read then compares the sessions it is about to use with the
fingerprints of every seal of every market and refuses a match, naming the sealed session.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import pandas as pd

from lab import tags as tag
from lab import tracking
from lab.config import DateRange, LabConfig
from lab.data.fingerprints import SessionPrint, match_sessions, prints_from_table, prints_table, session_fingerprints
from lab.data.readers import read_minutes
from lab.market.sessions import regular_sessions
from registry.errors import SealedRangeError
from registry.records import get_client, set_tags
from registry.seals import Seal, get_seal, list_seals

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["record_seal_prints", "ensure_seal_prints", "sealed_prints", "refuse_sealed_content",
           "FINGERPRINT_FOLDER"]

#: Where a sealing run keeps the fingerprints of the sessions it sealed.
FINGERPRINT_FOLDER = "seal_fingerprints"


def record_seal_prints(seal: Seal, prints: Iterable[SessionPrint], run_id: str,
                       client: "MlflowClient | None" = None) -> str:
    """Log ``prints`` as a CSV artifact of ``run_id`` (the active run) and point the seal at it."""
    artifact = f"{FINGERPRINT_FOLDER}/{seal.name}.csv"
    tracking.log_table(prints_table(prints), artifact)
    set_tags(get_client(client), seal.name, {tag.SEAL_FINGERPRINTS: f"{run_id}/{artifact}"})
    _load.cache_clear()
    return artifact


def ensure_seal_prints(config: LabConfig, path: str | Path, market: str, run_id: str | None,
                       sealed: Iterable[DateRange] = (), client: "MlflowClient | None" = None) -> None:
    """Fingerprint the sessions of the configuration's test window once, when its seal has none yet.

    The rows are read for their fingerprints only (bad rows dropped, other sealed ranges left
    unread) and nothing else is kept. Without a run to hold them (``lab data check``) the next job
    that runs with the window records them.
    """
    client = get_client(client)
    test = config.windows.test
    seal = get_seal(market, test, client)
    if seal is None or not run_id or _fingerprint_tag(seal.name, client):
        return
    others = [(r.start, r.end) for r in sealed if r != test]
    try:
        minutes = read_minutes(path, tz=config.data.timezone, on_bad_rows="drop", since=test.start,
                               until=test.end + dt.timedelta(days=1), exclude=others).minutes
    except Exception:  # noqa: BLE001 - no readable test rows: nothing to fingerprint
        minutes = pd.DataFrame()
    prints = [] if minutes.empty else session_fingerprints(
        minutes, regular_sessions(config.session.calendar, test.start, test.end))
    record_seal_prints(seal, prints, run_id, client)


def _fingerprint_tag(name: str, client: "MlflowClient") -> str:
    model = client.get_registered_model(name)
    return dict(model.tags).get(tag.SEAL_FINGERPRINTS, "")


@functools.lru_cache(maxsize=64)
def _load(pointer: str, uri: str) -> tuple[SessionPrint, ...]:
    run_id, _, artifact = pointer.partition("/")
    with tempfile.TemporaryDirectory() as folder:
        local = tracking.download_artifact(run_id, artifact, folder)
        table = pd.read_csv(local, dtype={"session": str, "exact": str, "head": str},
                            converters={f"c{k}": int for k in range(16)})
    return tuple(prints_from_table(table))


def sealed_prints(client: "MlflowClient | None" = None) -> dict[str, list[SessionPrint]]:
    """Seal name -> the fingerprints of its sessions, for every seal of every market that has them."""
    client = get_client(client)
    found = {}
    for seal in list_seals(client=client):
        pointer = _fingerprint_tag(seal.name, client)
        if pointer:
            try:
                found[seal.name] = list(_load(pointer, client.tracking_uri))
            except Exception:  # noqa: BLE001 - a deleted sealing run: its seal still holds by dates
                continue
    return found


def refuse_sealed_content(prints: Iterable[SessionPrint], stage: str, client: "MlflowClient | None" = None) -> None:
    """Refuse sessions whose content is that of a sealed session, under whatever name, instrument or dates.

    Raises
    ------
    SealedRangeError
        Naming the session read, the sealed session it matches and the seal.
    """
    client = get_client(client)
    prints = list(prints)
    if not prints:
        return
    sealed = sealed_prints(client)
    if not sealed:
        return
    matches = match_sessions(prints, sealed)
    if matches:
        candidate, name, sealed_session, how = matches[0]
        seals = {s.name: s for s in list_seals(client=client)}
        seal = seals.get(name)
        where = f"the sealed test range {seal.window} of market {seal.market}" if seal else f"seal {name}"
        more = f" (and {len(matches) - 1} more session(s))" if len(matches) > 1 else ""
        raise SealedRangeError(
            f"{stage} refused: the session dated {candidate.session} in this data has the content of session "
            f"{sealed_session.session} of {where} ({how} match of its minute-to-minute price steps){more}. A sealed "
            "range is read by final-eval only, under any file name, instrument, time stamps or copy: use data "
            "outside every sealed range (`lab status` lists them).")
