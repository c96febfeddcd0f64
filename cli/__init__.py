"""The ``lab`` command: the top layer, above ``jobs/`` and ``registry/`` (which sit above ``lab/``).

``[project.scripts] lab = "cli.main:main"``. Layers are enforced by import-linter
(``[tool.importlinter]`` in pyproject.toml, run by ``tests/test_layers.py``).
"""
