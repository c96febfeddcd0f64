"""Faults of the tracking store as one sentence: a full or read-only disk, a damaged ``mlflow.db``.

:func:`store_fault` turns the low-level error (``OSError`` ENOSPC/EDQUOT/EROFS, SQLite's "file is
not a database" / "database disk image is malformed", wrapped by SQLAlchemy or MLflow) into a
:class:`StoreError` naming the file and what to do. :func:`store_faults` does it around one write.
Re-exported by :mod:`lab.tracking`.
"""

from __future__ import annotations

import contextlib
import errno
import os
from typing import Iterator
from urllib.parse import unquote, urlparse

from lab.errors import LabError

__all__ = ["StoreError", "store_fault", "store_faults", "tracking_database"]

#: errno -> (what happened, what to do).
_DISK_FAULTS = {
    errno.ENOSPC: ("no space is left on the device", "free space on that disk, then rerun the command"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space within your quota, then rerun the command"),
    errno.EROFS: ("the file system is read-only",
                  "make it writable (or point MLFLOW_TRACKING_URI and the experiment's artifact location at a "
                  "writable place), then rerun the command"),
}

#: SQLite's words for a file that is not (or no longer) a whole database.
_DAMAGED = ("file is not a database", "database disk image is malformed", "file is encrypted or is not a database")


#: SQLite's words for a database it cannot write, as the disk fault they mean.
_SQLITE_DISK = {"database or disk is full": errno.ENOSPC, "attempt to write a readonly database": errno.EROFS}


class StoreError(LabError):
    """The tracking store (its database or its artifact folder) cannot be read or written."""


def tracking_database() -> str:
    """The path of the tracking store's SQLite file, or its URI when the store is not SQLite."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    with contextlib.suppress(Exception):
        import mlflow  # heavy: only when a fault is being described

        uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        return os.path.abspath(uri[len("sqlite:///"):]) if not uri.startswith("sqlite:////") else uri[len("sqlite:///"):]
    return uri or os.path.abspath("mlflow.db")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])


def store_fault(exc: BaseException, where: str = "") -> StoreError | None:
    """``exc`` as a :class:`StoreError` when a full or read-only disk or a damaged database caused it.

    Parameters
    ----------
    exc : BaseException
        Any error, possibly wrapped (SQLAlchemy's ``orig``, ``__cause__``, ``__context__``).
    where : str, optional
        The file being written when the error's own file name is unknown (an artifact path).

    Returns
    -------
    StoreError or None
        None: not a store fault (the caller re-raises ``exc``).
    """
    if isinstance(exc, StoreError):
        return exc
    for error in _chain(exc):
        if isinstance(error, OSError) and error.errno in _DISK_FAULTS:
            what, fix = _DISK_FAULTS[error.errno]
            target = error.filename or where or "the tracking store"
            return StoreError(f"cannot write {target}: {what}; {fix} (the run is marked FAILED, "
                                           "nothing it half-wrote counts as finished)")
        text = str(error)
        for words, code in _SQLITE_DISK.items():
            if type(error).__name__ == "OperationalError" and words in text:
                what, fix = _DISK_FAULTS[code]
                return StoreError(f"cannot write {tracking_database()}: {what}; {fix} (the run is marked FAILED, "
                                  "nothing it half-wrote counts as finished)")
        if type(error).__name__ == "DatabaseError" and any(words in text for words in _DAMAGED):
            why = next(words for words in _DAMAGED if words in text)
            return StoreError(f"the tracking database {tracking_database()} is damaged or truncated "
                                         f"(SQLite: {why}); restore it from its backup (README, \"Backing up the "
                                         "store\"), or move it aside to start a new store")
    return None


@contextlib.contextmanager
def store_faults(artifact_file: str = "") -> Iterator[None]:
    """Raise a :class:`StoreError` for a store fault inside the block, naming where ``artifact_file``
    of the active run goes when the error names no file; other errors pass unchanged."""
    try:
        yield
    except Exception as exc:
        fault = store_fault(exc, artifact_location(artifact_file) if artifact_file else "")
        if fault is None or fault is exc:
            raise
        raise fault from None


def artifact_location(artifact_file: str) -> str:
    """Where ``artifact_file`` of the active run goes: a local path for a file store, else the URI."""
    with contextlib.suppress(Exception):
        import mlflow  # heavy: only when a fault is being described

        uri = mlflow.get_artifact_uri(artifact_file)
        if uri.startswith("file://"):
            return unquote(urlparse(uri).path)
        return uri
    return artifact_file
