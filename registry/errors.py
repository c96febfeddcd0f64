"""Errors of the registry: refusals a user can cause, each saying what was wrong and the fix."""

from __future__ import annotations

from typing import Any

from lab.errors import LabError

__all__ = [
    "RegistryError",
    "CandidateError",
    "PromotionRefusedError",
    "TicketError",
    "TicketSpentError",
    "SealedRangeError",
]


class RegistryError(LabError):
    """Base class of the registry's refusals."""


class CandidateError(RegistryError, ValueError):
    """The run asked for cannot be promoted at all (no such run, no logged model in it)."""


class PromotionRefusedError(RegistryError):
    """One or more promotion gates failed and no override was given.

    Attributes
    ----------
    gates : list of registry.gate.GateResult
        Every gate evaluated, passed or not (not imported: the errors are the registry's leaf module).
    """

    def __init__(self, message: str, gates: list[Any]) -> None:
        super().__init__(message)
        self.gates = gates

    @property
    def failed(self) -> list[Any]:
        """The gates that did not pass."""
        return [gate for gate in self.gates if not gate.passed]


class TicketError(RegistryError):
    """The test-window ticket could not be taken or updated (bad input, backend unavailable)."""


class TicketSpentError(TicketError, PermissionError):
    """The one-time ticket of this test window was already taken.

    Attributes
    ----------
    ticket : registry.ticket.Ticket
        The ticket as the backend holds it: who took it, when, and the final-eval run.
    """

    def __init__(self, message: str, ticket: Any) -> None:  # a registry.ticket.Ticket (which imports this module)
        super().__init__(message)
        self.ticket = ticket


class SealedRangeError(RegistryError, PermissionError):
    """A request reaches into a sealed test range of its market (only final-eval reads one, once)."""
