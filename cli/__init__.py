"""The ``lab`` command: the top layer, above ``jobs/`` and ``registry/`` (which sit above ``lab/``).

``[project.scripts] lab = "cli.launch:main"`` (which runs :mod:`cli.main`, served or not). Layers are enforced by import-linter
(``[tool.importlinter]`` in pyproject.toml, run by ``tests/test_layers.py``).
"""
