"""MES 5-minute research lab: the pure research core.

Nothing in this package imports mlflow except :mod:`lab.tracking` (import-linter checks it); the
``lab`` command lives in the top-level package ``cli``.
"""

__version__ = "0.1.0"
