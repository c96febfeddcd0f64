""""next:" lines that work verbatim from where they are printed.

A hint names the project folder (``.`` only when the user stands in it: from another folder
``mlflow run .`` finds no MLproject) and the tracking store when it is not the one a bare ``mlflow``
would open there (``lab demo`` keeps its runs in ``demo/``).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Mapping

from lab import tracking
from lab.config.locate import caller_dir
from lab.paths import code_root

__all__ = ["store_prefix", "project_argument", "entry_point_command"]


def store_prefix(where: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI=... `` when the store in use is not the default a bare command opens in ``where``."""
    uri = tracking.tracking_uri()
    where = (where or caller_dir()).resolve()
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        path = path if path.is_absolute() else Path.cwd() / path
        if path.resolve() == where / "mlflow.db" and not os.environ.get("MLFLOW_TRACKING_URI"):
            return ""
        uri = f"sqlite:///{path.resolve()}"
    elif not os.environ.get("MLFLOW_TRACKING_URI"):
        return ""
    return f"MLFLOW_TRACKING_URI={shlex.quote(uri)} "


def project_argument(where: Path | None = None) -> str:
    """``.`` in the project folder, else the project's absolute path."""
    return "." if (where or caller_dir()).resolve() == code_root().resolve() else shlex.quote(str(code_root()))


def entry_point_command(entry: str, params: Mapping[str, str], experiment: str | None = None) -> str:
    """``mlflow run`` of ``entry`` with ``params``, runnable verbatim where the user stands."""
    named = f" --experiment-name {shlex.quote(experiment)}" if experiment and experiment != "Default" else ""
    given = "".join(f" -P {key}={shlex.quote(str(value))}" for key, value in params.items())
    return f"{store_prefix()}mlflow run {project_argument()} -e {entry} --env-manager local{named}{given}"
