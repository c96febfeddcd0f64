"""Features and targets of 5-minute bars: the plan's 24, the strategies' optional sets, the user's
custom columns, the labels, and the look-ahead audit."""

from lab.features.core import FEATURE_NAMES, compute_features
from lab.features.leak_audit import LookAheadError, audit_look_ahead
from lab.features.strategy_sets import BREAKOUT_FEATURES, MEAN_REVERSION_FEATURES
from lab.features.targets import compute_targets, target_horizon_bars

__all__ = ["BREAKOUT_FEATURES", "FEATURE_NAMES", "LookAheadError", "MEAN_REVERSION_FEATURES", "audit_look_ahead",
           "compute_features", "compute_targets", "target_horizon_bars"]
