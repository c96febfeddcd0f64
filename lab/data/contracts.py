"""Per-contract minute files stitched into one continuous series, with the measured roll table.

A vendor's per-contract download is a folder (or a zip) of one minute file per contract, named as
vendors name them: ``MESH24.txt``, ``MES_H24.csv``, ``ES-Z2019.txt`` (root, CME month code, year;
:func:`lab.market.instruments.parse_contract_name`). :func:`stitch_contracts` holds each contract
until its switch and the next one from there:

* ``roll_rule = "schedule"``: the switch is the first minute of the trading session of the
  scheduled roll date (:func:`lab.market.instruments.roll_date`; a Globex session starts at 18:00
  ET the evening before);
* ``roll_rule = "volume"``: the first session in which the next contract's volume exceeds the
  front's (the schedule when it never does).

The gap is measured from both contracts at the same minute, the last minute before the switch
that both traded (next close minus front close, whole ticks): the calendar spread itself, not the
market's move across a break. The stitched series is unadjusted; the same ``[data] roll_adjust``
as for a continuous file then applies (:mod:`lab.data.rolls`), with this table instead of a
detected one.

:func:`stitch_source` writes the stitched series (FirstRate layout) and its roll table
(``<file>.rolls.csv``) once per content of the folder: that file and table are the dataset's input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from lab.data.readers import read_minutes, write_firstrate
from lab.data.rolls import ROLL_COLUMNS, empty_roll_table, roll_table_path, write_roll_table
from lab.errors import DataError
from lab.market.instruments import parse_contract_name, roll_date

__all__ = ["ROLL_RULES", "is_contract_set", "contract_members", "stitch_contracts", "read_contract_set",
           "stitch_source", "stitched_path"]

ROLL_RULES = ("schedule", "volume")
_SKIP_SUFFIXES = (".json", ".md", ".pdf", ".csv.rolls", ".rolls.csv")
_MINUTE_SUFFIXES = (".txt", ".csv", ".parquet", ".pq", ".gz", ".zip")


def _trading_day(index: pd.DatetimeIndex) -> np.ndarray:
    """The trading session date of each ET minute (Globex evenings from 18:00 belong to the next day)."""
    return (index.tz_localize(None) + pd.Timedelta(hours=6)).normalize().to_numpy()


def _session_start(day: dt.date, tz: str) -> pd.Timestamp:
    """18:00 ET on the evening before ``day``: the earliest minute of ``day``'s trading session."""
    return pd.Timestamp(day - dt.timedelta(days=1)).tz_localize(tz) + pd.Timedelta(hours=18)


def contract_members(names: list[str]) -> dict[str, tuple[str, int, int]]:
    """The minute files among ``names`` and each one's ``(root, year, month)``.

    Raises
    ------
    DataError
        A minute file whose name is no contract, two roots in one set, or two files of one contract.
    """
    out: dict[str, tuple[str, int, int]] = {}
    for name in names:
        base = Path(name).name
        if base.startswith(".") or base.lower().endswith(_SKIP_SUFFIXES) or not base.lower().endswith(_MINUTE_SUFFIXES):
            continue
        parsed = parse_contract_name(base)
        if parsed is None:
            raise DataError(f"{name}: not a contract file name; name each file as vendors do, root, month code "
                            "and year (MESH24.txt, MES_H24.csv, ES-Z2019.txt)")
        out[name] = parsed
    roots = sorted({root for root, _, _ in out.values()})
    if len(roots) > 1:
        raise DataError(f"the contract files hold several roots ({', '.join(roots)}); keep one root per folder")
    seen: dict[tuple[int, int], str] = {}
    for name, (_, year, month) in out.items():
        if (year, month) in seen:
            raise DataError(f"{seen[(year, month)]} and {name} are the same contract; keep one of them")
        seen[(year, month)] = name
    return out


def is_contract_set(path: str | Path) -> bool:
    """Whether ``path`` is a folder, or a zip holding more than one file, of per-contract minute files."""
    path = Path(path)
    if path.is_dir():
        return any(parse_contract_name(p.name) for p in path.iterdir() if p.is_file())
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
        return len(names) > 1 and any(parse_contract_name(Path(n).name) for n in names)
    return False


def stitch_contracts(contracts: Mapping[str, pd.DataFrame], rule: str = "schedule", calendar: str = "XNYS",
                     tick_size: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One continuous, unadjusted minute series from per-contract minute frames.

    Parameters
    ----------
    contracts : mapping
        Contract name (``"MESH24"``) -> its minute frame (ET index; open, high, low, close, volume).
    rule : {"schedule", "volume"}
        When to switch from a contract to the next (module docstring).
    calendar : str
        ``exchange_calendars`` name for the roll dates.
    tick_size : float
        Index points per tick; gaps are whole ticks.

    Returns
    -------
    (DataFrame, DataFrame)
        The stitched minutes and the roll table (:data:`lab.data.rolls.ROLL_COLUMNS`, ``method`` =
        the rule).
    """
    if rule not in ROLL_RULES:
        raise DataError(f"roll_rule = {rule!r}: use one of {', '.join(ROLL_RULES)}")
    if not contracts:
        raise DataError("no contract file to stitch")
    named = {}
    for name, frame in contracts.items():
        parsed = parse_contract_name(name)
        if parsed is None:
            raise DataError(f"{name}: not a contract name (root, month code, year: MESH24)")
        if len(frame) == 0:
            raise DataError(f"{name}: the contract file holds no minute")
        named[parsed[1:]] = (name, parsed[0], frame)
    order = [named[key] for key in sorted(named)]
    pieces, rows = [], []
    start = None  # first stamp of the current contract in the stitched series
    for (front_name, root, front), (next_name, _, nxt) in zip(order[:-1], order[1:]):
        year, month = parse_contract_name(front_name)[1:]
        tz = str(front.index.tz)
        scheduled = roll_date(root, year, month, calendar)
        switch_day = scheduled
        if rule == "volume":
            switch_day = _volume_switch(front, nxt) or scheduled
        after = nxt.index[nxt.index >= _session_start(switch_day, tz)]
        if len(after) == 0:
            raise DataError(f"{next_name} has no minute from its switch session {switch_day} on; the files do not "
                            f"overlap at the roll of {front_name}")
        switch = after[0]
        common = front.index.intersection(nxt.index)
        common = common[common < switch]
        if len(common) == 0:
            raise DataError(f"{front_name} and {next_name} share no minute before the switch at {switch:%Y-%m-%d %H:%M} ET; "
                            "the gap needs both contracts at the same minute (download the next contract from before "
                            "the roll)")
        at = common[-1]
        gap = float(np.round((nxt.at[at, "close"] - front.at[at, "close"]) / tick_size) * tick_size)
        held = front.loc[front.index < switch]
        if start is not None:
            held = held.loc[held.index >= start]
        pieces.append(held)
        rows.append({"date": switch_day, "minute": switch, "gap": gap, "method": rule, "front": front_name,
                     "next": next_name})
        start = switch
    last = order[-1][2]
    pieces.append(last if start is None else last.loc[last.index >= start])
    minutes = pd.concat(pieces)
    minutes.index.name = "time"
    rolls = pd.DataFrame(rows, columns=list(ROLL_COLUMNS)) if rows else empty_roll_table()
    return minutes, rolls


def _volume_switch(front: pd.DataFrame, nxt: pd.DataFrame) -> dt.date | None:
    """The first trading session in which ``nxt`` trades more contracts than ``front`` (None: never)."""
    volume_front = front["volume"].groupby(_trading_day(front.index)).sum()
    volume_next = nxt["volume"].groupby(_trading_day(nxt.index)).sum()
    both = pd.concat([volume_front, volume_next], axis=1, keys=["front", "next"]).fillna(0).sort_index()
    later = both.index[both["next"] > both["front"]]
    return None if len(later) == 0 else pd.Timestamp(later[0]).date()


def read_contract_set(path: str | Path, tz: str = "America/New_York", on_bad_rows: str = "error",
                      rule: str = "schedule", calendar: str = "XNYS", tick_size: float = 0.25
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a folder (or zip) of per-contract files and stitch them (:func:`stitch_contracts`)."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="lab-contracts-") as scratch:
        if path.is_dir():
            names = sorted(p.name for p in path.iterdir() if p.is_file())
            folder = path
        else:
            with zipfile.ZipFile(path) as archive:
                names = sorted(n for n in archive.namelist() if not n.endswith("/"))
                members = contract_members(names)
                for name in members:
                    (Path(scratch) / Path(name).name).write_bytes(archive.read(name))
            names, folder = [Path(n).name for n in members], Path(scratch)
        members = contract_members(names)
        if len(members) < 1:
            raise DataError(f"{path} holds no contract minute file (MESH24.txt, MES_H24.csv, ...)")
        frames = {}
        for name, (root, year, month) in members.items():
            frames[f"{root}{'FGHJKMNQUVXZ'[month - 1]}{year % 100:02d}"] = read_minutes(
                folder / Path(name).name, tz=tz, on_bad_rows=on_bad_rows).minutes
    return stitch_contracts(frames, rule, calendar, tick_size)


def _content_digest(path: Path) -> str:
    """SHA-256 over a folder's contract files (name and bytes), or of a zip's bytes."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def stitched_path(source: str | Path, rule: str, folder: str | Path) -> Path:
    """Where the stitched series of ``source`` goes: ``<folder>/<name>_stitched_<rule>.txt``."""
    name = Path(source).name.removesuffix(".zip")
    return Path(folder) / f"{name}_stitched_{rule}.txt"


def stitch_source(source: str | Path, out_folder: str | Path, tz: str = "America/New_York", on_bad_rows: str = "error",
                  rule: str = "schedule", calendar: str = "XNYS", tick_size: float = 0.25) -> tuple[Path, bool]:
    """Stitch a contract set into ``out_folder`` unless its content was stitched already.

    Returns
    -------
    (Path, bool)
        The stitched minute file (its roll table beside it, :func:`lab.data.rolls.roll_table_path`)
        and whether it was (re)written now.
    """
    source = Path(source)
    out = stitched_path(source, rule, out_folder)
    stamp = out.with_name(out.name + ".source.json")
    signature = {"source": str(source.resolve()), "content_sha256": _content_digest(source), "rule": rule,
                 "calendar": calendar, "tz": tz, "on_bad_rows": on_bad_rows}
    try:
        if json.loads(stamp.read_text()) == signature and out.is_file() and roll_table_path(out).is_file():
            return out, False
    except (OSError, ValueError):
        pass
    minutes, rolls = read_contract_set(source, tz, on_bad_rows, rule, calendar, tick_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_firstrate(minutes, out)
    write_roll_table(rolls, roll_table_path(out))
    stamp.write_text(json.dumps(signature, indent=1) + "\n")
    return out, True

