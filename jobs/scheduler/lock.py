"""One firing of a job at a time across processes: an exclusive ``flock`` per job name.

Why an OS file lock and not a lock in the tracking store: the kernel drops a ``flock`` the moment
its holder dies, ``kill -9`` included, so a stale lock cannot exist and needs no heartbeat, expiry
or manual release; taking it is atomic and costs microseconds. Its reach is what the scheduler
already shares: the project folder (``.lab/``, where the default job store lives) on one machine.
Schedulers on several machines sharing one job store would need a lock in that store instead
(``flock`` over NFS is not reliable).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Iterator

from lab.errors import LabError
from lab.paths import project_root

__all__ = ["JobRunningError", "job_lock", "lock_path"]


class JobRunningError(LabError):
    """Another process is firing the same job."""


def lock_path(name: str) -> Path:
    """``.lab/locks/schedule-<name>.lock`` under the project root (``$LAB_HOME`` or the working directory)."""
    return project_root() / ".lab" / "locks" / f"schedule-{name}.lock"


@contextlib.contextmanager
def job_lock(name: str) -> Iterator[Path]:
    """Hold the job's lock for the block; :class:`JobRunningError` at once if another process holds it.

    The file keeps the holder's pid, host and start time (for the message); it is left in place,
    since removing a lock file races with a process about to lock it.
    """
    path = lock_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "{}"
            try:
                facts = json.loads(holder)
            except ValueError:
                facts = {}
            raise JobRunningError(
                f"job {name!r} is already running (pid {facts.get('pid', '?')} on {facts.get('host', '?')} since "
                f"{facts.get('since', '?')}); wait for it to finish or stop that process ({path})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}))
        handle.flush()
        yield path
    finally:
        handle.close()  # releases the lock
