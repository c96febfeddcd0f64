"""Which configuration file a command uses: one rule for every ``lab`` command and entry point.

* A path given (``--config``, ``-P config=``) is resolved against the directory the user ran the
  command from, not against the project: ``lab featurize --config my.toml`` in ``~/work`` reads
  ``~/work/my.toml``.
* None given: ``./lab.toml`` of that directory when there is one, else the project's ``lab.toml``
  (beside ``MLproject``), else the built-in defaults.

Under ``mlflow run`` the entry point's process runs in the project folder; the directory the user
stood in is then ``$LAB_CALLER_DIR`` (set by the ``lab`` command for the runs it starts) or the
shell's ``$PWD`` that ``mlflow run`` inherited.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.paths import code_root

__all__ = ["CALLER_DIR_ENV", "CONFIG_FILE_NAME", "caller_dir", "locate_config", "config_origin"]

#: The environment variable a ``lab`` command sets for the entry points it starts.
CALLER_DIR_ENV = "LAB_CALLER_DIR"
CONFIG_FILE_NAME = "lab.toml"


def caller_dir() -> Path:
    """The directory the user ran the command from (absolute).

    In an entry point's process (``$MLFLOW_RUN_ID`` set, working directory the project's):
    ``$LAB_CALLER_DIR`` when a ``lab`` command passed it down, else the ``$PWD`` that ``mlflow run``
    inherited from the shell. Anywhere else: the working directory.
    """
    if os.environ.get("MLFLOW_RUN_ID"):  # an entry point's process, started in the project folder
        for passed in (os.environ.get(CALLER_DIR_ENV, ""), os.environ.get("PWD", "")):
            if passed and Path(passed).is_dir():
                return Path(passed).resolve()
    return Path.cwd().resolve()


def locate_config(given: str | os.PathLike[str] | None = None, *, where: Path | None = None) -> Path | None:
    """The configuration file to read: absolute path, or ``None`` for the built-in defaults.

    Parameters
    ----------
    given : str or path, optional
        What the user named (empty or ``None``: nothing). Relative paths are resolved against ``where``.
    where : Path, optional
        The directory the user ran the command from (default :func:`caller_dir`).

    Returns
    -------
    Path or None
        ``given`` made absolute (whether or not it exists: the reader then says it is missing);
        with nothing given, ``where/lab.toml`` if it exists, else the project's ``lab.toml`` if it
        exists, else ``None``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> locate_config("mine.toml", where=folder) == folder / "mine.toml"
    True
    >>> _ = (folder / "lab.toml").write_text("")
    >>> locate_config(None, where=folder) == folder / "lab.toml"
    True
    """
    base = (where or caller_dir()).resolve()
    if given not in (None, ""):
        path = Path(os.path.expanduser(os.fspath(given)))
        return path if path.is_absolute() else (base / path).resolve()
    for candidate in (base / CONFIG_FILE_NAME, code_root() / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def config_origin(path: Path | None, *, where: Path | None = None) -> str:
    """One line for the first line of a command's output: which file, and why that one."""
    if path is None:
        return "config: the built-in defaults (no lab.toml here or in the project)"
    base = (where or caller_dir()).resolve()
    if path.parent == base and path.name == CONFIG_FILE_NAME:
        return f"config: {path} (lab.toml of this folder)"
    if path == code_root() / CONFIG_FILE_NAME:
        return f"config: {path} (the project's lab.toml; none in {base})"
    return f"config: {path}"
