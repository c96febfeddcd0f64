"""The repository's pytest settings beside pyproject.toml: docstring examples are collected cheaply.

``--doctest-modules`` (pyproject.toml's addopts) would import every module of ``lab/``, ``registry/``,
``jobs/`` and ``cli/`` to look for examples, and every helper module of ``tests/``. Only modules whose
source holds an example (``>>>``) are imported here; the others cost a file read.
"""

from __future__ import annotations

from pathlib import Path


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """Skip a non-test ``.py`` file without an example when doctests are collected; else no opinion."""
    if collection_path.suffix != ".py" or not config.getoption("doctestmodules", False):
        return None
    if collection_path.name == "conftest.py" or collection_path.name.startswith("test_"):
        return None
    try:
        return ">>>" not in collection_path.read_text(encoding="utf-8")
    except OSError:
        return None
