"""The repository's pytest settings beside pyproject.toml: docstring examples are collected cheaply, and
the tests are spread over pytest-xdist workers a module at a time.

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


#: Tests that read one shared build (a session fixture that takes a minute or more), by node-id prefix:
#: they run in one worker, so the suite builds it once. Every other module is a unit of its own, so its
#: module-scoped fixtures are built once too.
SHARED_BUILDS = {
    "tests/jobs/test_chain.py": "the shared chain",  # tests/jobs/conftest.py shared_chain
    "tests/jobs/test_test_window_lock.py": "the shared chain",
    "tests/jobs/test_demo_edge.py::test_demo_gate_refuses_the_null_and_the_demo_stops_there": "the shared chain",
}


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduling by module (``--dist loadscope``), the shared builds' tests as one unit."""
    from xdist.scheduler import LoadScopeScheduling  # the plugin is there whenever this hook is called

    class ByModuleAndSharedBuild(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for prefix, build in SHARED_BUILDS.items():
                if nodeid.startswith(prefix):
                    return build
            return nodeid.split("::", 1)[0]

    return ByModuleAndSharedBuild(config, log)
