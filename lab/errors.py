"""The lab's error hierarchy: every error a user can cause derives from :class:`LabError`.

Messages say what was wrong, where, and what to do about it.
"""

from __future__ import annotations

__all__ = ["LabError", "ConfigError", "DataError", "TestWindowLockedError"]


class LabError(Exception):
    """Base class of every error the lab raises on bad input or a refused request."""


class ConfigError(LabError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class DataError(LabError, ValueError):
    """A data file or table could not be read or failed validation."""


class TestWindowLockedError(LabError, PermissionError):
    """A job other than final-eval asked for rows inside the held-out test window."""

    __test__ = False  # not a pytest test class despite the name
