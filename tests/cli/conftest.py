"""The registry commands' tests use the registry's run factories (lab_runs, policy, write_config)."""

from tests.registry.conftest import lab_runs, policy, write_config  # noqa: F401 (fixtures)
