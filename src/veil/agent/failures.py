"""Connection-level failures of the agent layer (codes 52x-54x).

The base classes live in :mod:`veil.agent.errors`; this module adds the failures of
connections, handshakes and delivery. Remote misbehaviour is an
:class:`AgentProtocolError` (it drops one message and nothing else); local misuse
or an unusable stored state is an :class:`AgentError`.
"""

from __future__ import annotations

from typing import ClassVar

from veil.agent.errors import AgentError, AgentProtocolError

__all__ = [
    "ConfirmationRejected",
    "ConnectionNotReady",
    "ConnectionStateCorrupt",
    "MalformedFrame",
    "RelayUnavailable",
    "RepairRejected",
    "RepairUnavailable",
    "UnexpectedFrame",
]


class MalformedFrame(AgentProtocolError):
    """An agent frame, confirmation or contact request does not decode."""

    code: ClassVar[int] = 520


class UnexpectedFrame(AgentProtocolError):
    """A well-formed frame arrived that the connection's state does not accept."""

    code: ClassVar[int] = 521


class ConfirmationRejected(AgentProtocolError):
    """A sealed confirmation or contact request failed authentication."""

    code: ClassVar[int] = 522


class RepairRejected(AgentProtocolError):
    """A repair frame did not authenticate with the connection's repair key, replayed
    an old counter, or offered weaker keys (no ML-KEM) than the connection had."""

    code: ClassVar[int] = 523


class ConnectionNotReady(AgentError):
    """The caller asked a connection for something its state does not allow yet."""

    code: ClassVar[int] = 530


class RepairUnavailable(AgentError):
    """The connection keeps no repair key (made before queue state version 4), so it
    cannot be repaired safely: the users connect again with a new invitation."""

    code: ClassVar[int] = 532


class RelayUnavailable(AgentError):
    """A relay could not be reached or refused a command; the caller retries later."""

    code: ClassVar[int] = 540


class ConnectionStateCorrupt(AgentError):
    """Persisted connection state does not decode: the local store is damaged."""

    code: ClassVar[int] = 531
