"""Which files are the lab's own synthetic data: the tracking store's records decide, not a file beside the data.

A minute file counts as the lab's synthetic market only when the tracking store holds the lab's
record of its bytes (registered model ``lab-synthetic-<sha256>``, ``lab.kind = synthetic-data``),
written when the lab generated the file, or when regenerating the generator settings the file claims
reproduces its bytes exactly. A provenance file (``<file>.synthetic.json``) only names the settings
to try: one written by hand, or a copy of the lab's data without a record whose settings do not
regenerate it, leaves the file what it is: real data of its instrument's family.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from lab import tags as tag
from lab.config import LabConfig
from lab.data.readers import write_firstrate
from lab.data.synth import generate_minutes
from lab.dataset.cache import file_sha256
from lab.market.identity import DataSource
from registry.records import create_record, get_client, get_record

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient

__all__ = ["SYNTHETIC_KIND", "SYNTHETIC_PREFIX", "trusted_source", "recorded_source", "record_synthetic"]

SYNTHETIC_KIND = "synthetic-data"
SYNTHETIC_PREFIX = "lab-synthetic-"


def _name(sha256: str) -> str:
    return f"{SYNTHETIC_PREFIX}{sha256[:32]}"


def record_synthetic(source: DataSource, client: "MlflowClient | None" = None) -> None:
    """Record that the lab generated ``source``'s bytes with its (claimed) settings."""
    settings = dict(source.synthetic or {})
    create_record(get_client(client), _name(source.sha256),
                  {tag.KIND: SYNTHETIC_KIND, tag.SYNTHETIC_SHA256: source.sha256,
                   tag.SYNTHETIC_SETTINGS: json.dumps(settings, sort_keys=True, default=str)},
                  f"Minutes the lab generated (synthetic market): {json.dumps(settings, default=str)}")


def _regenerates(source: DataSource, config: LabConfig) -> bool:
    """Whether the generator, run with the settings the file claims, writes exactly its bytes."""
    claimed = source.synthetic or {}
    try:
        start, end = dt.date.fromisoformat(str(claimed["start"])), dt.date.fromisoformat(str(claimed["end"]))
        minutes = generate_minutes(start, end, int(claimed["seed"]), config.instrument, config.session.calendar,
                                   edge_auc=float(claimed.get("edge_auc", 0.0) or 0.0))
    except Exception:  # noqa: BLE001 - settings that do not generate are no proof
        return False
    with tempfile.TemporaryDirectory() as folder:
        return file_sha256(write_firstrate(minutes, Path(folder) / "regenerated.txt")) == source.sha256


def recorded_source(source: DataSource, client: "MlflowClient | None" = None) -> DataSource:
    """``source`` synthetic only when the lab's record of its bytes is in the store (nothing is
    regenerated: for what reads no data, such as ``lab status``); else real data."""
    if source.synthetic is None:
        return source
    record = get_record(get_client(client), _name(source.sha256))
    if record is not None and dict(record.tags).get(tag.SYNTHETIC_SHA256) == source.sha256:
        return source
    return dataclasses.replace(source, synthetic=None)


def trusted_source(source: DataSource, config: LabConfig, client: "MlflowClient | None" = None) -> DataSource:
    """``source`` as the records allow: synthetic only when the lab's record of its bytes exists (or is made now).

    A file the lab generated in this process is recorded; one that claims to be synthetic without a
    record is regenerated once from its claimed settings (recorded when the bytes agree); otherwise
    it is returned as real data (``synthetic = None``).
    """
    if source.synthetic is None or recorded_source(source, client) is source:
        return source
    client = get_client(client)
    if source.generated or _regenerates(source, config):
        record_synthetic(source, client)
        return source
    return dataclasses.replace(source, synthetic=None)
