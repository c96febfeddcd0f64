"""What the benchmarks share: this checkout first on the import path, medians and
the line that says how and where a figure was measured.

Each benchmark runs from the repository root as ``python benchmarks/bench_<name>.py``; Python then puts
``benchmarks/`` on the path (so ``import _common`` works), and importing this module puts the
repository root before any installed copy of the lab. Nothing here imports from ``tests/``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The default-size synthetic MES file (2019-05-01..2025-12-31, 2.3 M rows) of the benchmarks that need
#: full-size data; written once by :func:`default_data_file`.
DATA = ROOT / "benchmarks" / "out" / "synthetic_MES_2019-05-01_2025-12-31_1min.txt"


def default_data_file() -> Path:
    """The default-size synthetic minute file, generated on first use (`lab data synth`)."""
    import subprocess

    if not DATA.is_file():
        DATA.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "cli.main", "data", "synth", "--out", str(DATA)], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    return DATA


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a benchmark's child process: this checkout on the path, MLflow telemetry off."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true", **extra}


def load() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. ``"1.92/2.31/2.05"``."""
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def machine(load_before: str | None = None) -> str:
    """``machine: 2 cores, load average 1.92/2.31/2.05 before, 2.10/2.30/2.06 after; Python 3.11.7, Linux``.

    Other work on the machine inflates wall times (the load average counts runnable processes; on
    2 cores a load above 2 means the benchmark waited for a core): quote the load with a figure.
    """
    now = load()
    span = f"{load_before} before, {now} after" if load_before else now
    return (f"machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), load average {span}; "
            f"Python {platform.python_version()}, {platform.system()}")


def median(values) -> float:
    """The median of a non-empty sequence of numbers."""
    return statistics.median(list(values))


def served_cpu_s(address: str | None) -> float:
    """CPU seconds (user + system) of the children the fork server at ``address`` has reaped so far: the
    commands it ran (Linux ``/proc/<pid>/stat`` fields cutime and cstime); 0 without a server."""
    from lab.forkserver import server_pid

    pid = server_pid(address) if address else None
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # after the ")" that ends the command name: state is field 3, so cutime (16) and cstime (17) are [13], [14]
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def fork_server(env: dict[str, str], *, start: bool = False, timeout_s: float = 60.0) -> str | None:
    """The socket of the lab's fork server a command run with ``env`` would use (``lab.forkserver``): None
    when there is none or ``LAB_FORK_SERVER=off``. With ``start``, a background server is started first
    when there is none (as the first ``lab`` command does), and this waits until it listens."""
    import subprocess
    import time

    probe = ("import os\nfrom lab.forkserver import ForkServer, default_address, from_environment\n"
             "if os.environ.get('LAB_FORK_SERVER') == 'off':\n    raise SystemExit\n"
             "server = from_environment()\n"
             "if server is None and {start}:\n    ForkServer.start_in_background(default_address())\n"
             "print(server.address if server else os.environ.get('LAB_FORK_SERVER') or default_address())")
    address = subprocess.run([sys.executable, "-c", probe.format(start=start)], env=env, capture_output=True,
                             text=True).stdout.strip()
    deadline = time.monotonic() + (timeout_s if start else 0)
    while address and not os.path.exists(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    return address if address and os.path.exists(address) else None

