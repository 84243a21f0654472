"""Errors of the agent layer (codes 5xx): envelopes, links and connections.

:class:`AgentProtocolError` and its subclasses mean bytes from a peer (or a link a
user pasted) do not decode; they drop that one message or link and nothing else.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import ProtocolError, VeilError

__all__ = [
    "AgentError",
    "AgentProtocolError",
    "MalformedEnvelope",
    "MalformedLink",
    "MalformedTrackerState",
]


class AgentError(VeilError):
    """Base class of local agent-layer failures."""

    code: ClassVar[int] = 500


class AgentProtocolError(ProtocolError):
    """A peer sent agent-level data that breaks the protocol."""

    code: ClassVar[int] = 510


class MalformedEnvelope(AgentProtocolError):
    """A message envelope is truncated, over a cap, of an unknown version or has trailing bytes."""

    code: ClassVar[int] = 511


class MalformedLink(AgentProtocolError):
    """An invitation or contact-address link does not parse."""

    code: ClassVar[int] = 512


class MalformedTrackerState(AgentError):
    """Persisted envelope-tracker state does not decode: the local store is damaged."""

    code: ClassVar[int] = 501
