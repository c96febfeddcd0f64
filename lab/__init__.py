"""MES 5-minute research lab: the pure research core.

Nothing in this package imports mlflow except :mod:`lab.tracking` and :mod:`lab.cli`.
"""

__version__ = "0.1.0"
