"""Whether a process recorded earlier (host, pid, start time) still lives. Side-effect free.

Used to tell a crashed worker from a busy one: a trial or run whose process on this host is gone
is abandoned. The start time (Linux ``/proc/<pid>/stat``) tells a reused pid apart.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Mapping

__all__ = ["this_process", "process_record", "process_gone"]


def this_process() -> dict[str, Any]:
    """``{"host", "pid", "started"}`` of the calling process (``started``: kernel ticks since boot, or None)."""
    return process_record(os.getpid())


def process_record(pid: int) -> dict[str, Any]:
    """``{"host", "pid", "started"}`` of process ``pid`` of this host (e.g. a child just started)."""
    return {"host": socket.gethostname(), "pid": pid, "started": _start_ticks(pid)}


def process_gone(record: Mapping[str, Any]) -> bool:
    """True when the process of ``record`` (as :func:`this_process` gave it) ran on this host and is gone.

    A process on another host is never called gone (nothing here can see it). A zombie, a missing
    pid, or a pid now held by a process started at another time are gone.
    """
    if record.get("host") != socket.gethostname():
        return False
    try:
        pid = int(record.get("pid", -1))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    fields = _stat(pid)
    if fields is None:
        return False
    if fields[0] in ("Z", "X"):
        return True
    started = record.get("started")
    return started not in (None, "", "None") and len(fields) > 19 and fields[19] != str(started)


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_ticks(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else None
