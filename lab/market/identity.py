"""Which market a minute file belongs to: the key of sealed test ranges, tickets and trial ledgers.

A *market* is what a test window is held out of. Two files of one market share their seals, so
the identity must not depend on anything a user can change without changing the market:

* **Real data** is keyed by the instrument's underlying family, not by the file: ``MES`` and
  ``ES`` are one market (``ES``: the same index, one tenth of the contract), ``MNQ`` and ``NQ``
  another (``NQ``). A copy, a renamed file, a longer download or switching ``[data] instrument``
  from MES to ES keeps the market and so every seal on it.
* **The lab's own synthetic data** is a market of its own per generator setting:
  ``synthetic-ES-seed20190501-20190501-20251231`` (family, seed, generated span; ``-edge0.62``
  appended for a planted edge). It never seals
  or spends a real market's dates, and real data never seals synthetic dates. A file counts as
  synthetic only when the lab wrote it: the generator leaves a provenance record beside the file
  (``<file>.synthetic.json``: generator settings and the file's SHA-256), and the record must
  match the file's bytes. A copy without the record, or a synthetic file edited after generation,
  is treated as real data of its instrument's family (conservative: it can only add seals to the
  real market, never escape them). The synthetic default path is regenerated when its record is
  missing or does not match, so the lab's default is always its own data.

Pure: no I/O here; :func:`lab.dataset.build.data_source` reads the file and the record.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping


__all__ = ["DataSource", "market_id", "instrument_family", "is_synthetic_market", "FAMILIES", "SYNTHETIC_PREFIX",
           "synthetic_record", "record_matches", "record_path"]

#: Underlying family of each built-in instrument: a micro contract and its full-size one are one market.
FAMILIES = {"MES": "ES", "ES": "ES", "MNQ": "NQ", "NQ": "NQ"}
SYNTHETIC_PREFIX = "synthetic-"
#: The generator named in a provenance record (a record naming anything else is not the lab's).
GENERATOR = "lab.data.synth.generate_minutes"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class DataSource:
    """A minute file as the data layer found it.

    Attributes
    ----------
    path : Path
        The file read.
    sha256 : str
        SHA-256 of its bytes (hex).
    synthetic : mapping or None
        The generator settings (``instrument``, ``seed``, ``start``, ``end``) when the lab wrote
        the file and its provenance record matches its bytes; ``None`` for real (or unproven) data.
    """

    path: Path
    sha256: str
    synthetic: Mapping[str, Any] | None = None
    generated: bool = False  # the lab wrote the file in this process (no need to regenerate it to trust it)


def instrument_family(symbol: str) -> str:
    """The underlying family of ``symbol`` (``MES`` -> ``ES``); unknown symbols are their own family."""
    upper = symbol.strip().upper()
    return FAMILIES.get(upper, upper)


def market_id(instrument: str, source: DataSource) -> str:
    """The market key of ``source`` read as ``instrument``: ``ES``, ``NQ`` or ``synthetic-...``.

    Parameters
    ----------
    instrument : str
        ``[data] instrument``: its family is the market of real data.
    source : DataSource
        The file; ``source.synthetic`` set means the lab generated it.

    Returns
    -------
    str
        Letters, digits, ``.``, ``_`` and ``-`` only (it is part of registry names).
    """
    if source.synthetic is not None:
        settings = source.synthetic
        family = instrument_family(str(settings["instrument"]))
        start = str(settings["start"]).replace("-", "")
        end = str(settings["end"]).replace("-", "")
        key = f"{SYNTHETIC_PREFIX}{family}-seed{int(settings['seed'])}-{start}-{end}"
        edge = float(settings.get("edge_auc", 0.0) or 0.0)
        if edge:  # another planted edge is another market: other data on the same dates
            key += f"-edge{edge:g}"
    else:
        key = instrument_family(instrument)
    if not _SAFE.match(key):  # pragma: no cover - built-in instruments and ints only
        raise ValueError(f"market id {key!r} has characters a registry name cannot hold")
    return key


def is_synthetic_market(market: str) -> bool:
    """True for the key of the lab's own synthetic data."""
    return market.startswith(SYNTHETIC_PREFIX)


def synthetic_record(instrument: str, seed: int, start: dt.date, end: dt.date, sha256: str,
                     edge_auc: float = 0.0) -> dict[str, Any]:
    """The provenance record the lab writes beside a synthetic file it generated (``edge_auc``: planted edge)."""
    return {"generator": GENERATOR, "instrument": instrument, "seed": int(seed), "start": start.isoformat(),
            "end": end.isoformat(), "edge_auc": float(edge_auc), "sha256": sha256}


def record_matches(record: Mapping[str, Any] | None, sha256: str) -> bool:
    """Whether a provenance record names the lab's generator and exactly these bytes."""
    if not isinstance(record, Mapping):
        return False
    needed = ("instrument", "seed", "start", "end")
    return record.get("generator") == GENERATOR and record.get("sha256") == sha256 and all(k in record for k in needed)


def record_path(path: Path) -> Path:
    """Where the provenance record of a generated file lives."""
    return path.with_name(path.name + ".synthetic.json")
