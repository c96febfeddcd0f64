"""Where the lab keeps things on disk, relative to the project root. Side-effect free."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import IO, Callable

__all__ = ["project_root", "code_root", "raw_dir", "features_dir", "synthetic_path", "find_minute_file", "keep_file"]


def project_root() -> Path:
    """The project root: ``$LAB_HOME`` when set, else the working directory (where MLproject is)."""
    return Path(os.environ.get("LAB_HOME", ".")).resolve()


def code_root() -> Path:
    """Where the MLproject file lives (the checkout this package was installed from)."""
    return Path(__file__).resolve().parents[1]


def raw_dir() -> Path:
    """``data/raw``: vendor or synthetic minute files, never modified by the lab."""
    return project_root() / "data" / "raw"


def features_dir() -> Path:
    """``data/features``: cached feature tables, one folder per dataset digest."""
    return project_root() / "data" / "features"


def synthetic_path(instrument: str, start: dt.date, end: dt.date, seed: int, edge_auc: float = 0.0) -> Path:
    """The file the synthetic default is written to (FirstRate layout, so one reader serves both)."""
    edge = f"_edge{edge_auc:g}" if edge_auc not in (0.0, 0.5) else ""
    return raw_dir() / f"synthetic_{instrument}_{start:%Y%m%d}_{end:%Y%m%d}_seed{seed}{edge}_1min.txt"


def find_minute_file(name: str | Path) -> Path:
    """The minute file a user named: the path as given when it exists, else a bare file name
    (no folder part) looked up in ``data/raw/``; otherwise the path as given (the reader then says
    it does not exist, and where it looked)."""
    given = Path(name)
    if given.is_file() or given.name != str(name):
        return given
    in_raw = raw_dir() / given.name
    return in_raw if in_raw.is_file() else given


def keep_file(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file the lab only keeps to save work (``.lab/`` memos): ``write`` fills a temporary file
    beside ``path``, which then replaces it in one step. A folder that cannot be written is left alone
    (the next run computes again); nothing half-written is ever read."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
