"""The live path (paper mode): incremental features per minute, the champion as a signal model.

:class:`LiveFeatures` turns a stream of 1-minute bars into the batch pipeline's feature rows, one
per completed regular-session bar; :mod:`lab.live.signal` holds the per-bar signal rule and the
MLflow pyfunc that serves the champion.
"""

from lab.live.features import CORE_NAMES, OPTIONAL_SET_NAMES, LiveBar, LiveFeatures, SessionTable

__all__ = ["LiveFeatures", "LiveBar", "SessionTable", "CORE_NAMES", "OPTIONAL_SET_NAMES"]
