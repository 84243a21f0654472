"""Every error of the agent layer (codes 5xx), in one hierarchy.

:class:`AgentError` is the base. Under it:

* :class:`AgentLocalError` (also a :class:`~veil.errors.LocalError`): the caller or
  the local machine — a link the user typed that does not parse, a connection id
  that does not exist, a connection asked for something its state does not allow,
  a damaged store, a relay that cannot be reached right now.
* :class:`AgentProtocolError` (also a :class:`~veil.errors.ProtocolError`): a peer
  sent agent data that breaks the protocol; it drops that one frame and nothing else.

The code table is in ``docs/protocol/agent.md`` (section "Errors"); a test checks
that the two agree.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import LocalError, ProtocolError, VeilError

__all__ = [
    "AgentError",
    "AgentLocalError",
    "AgentProtocolError",
    "ConfirmationRejected",
    "ConnectionNotReady",
    "ConnectionStateCorrupt",
    "FileChunkLost",
    "FileRelayFull",
    "FileTransferStalled",
    "FrameNotOpened",
    "MalformedEnvelope",
    "MalformedFrame",
    "MalformedLink",
    "MalformedTrackerState",
    "RelayUnavailable",
    "RepairRejected",
    "RepairUnavailable",
    "ShortLinkCorrupt",
    "ShortLinkGone",
    "UnexpectedFrame",
    "UnknownConnection",
]


class AgentError(VeilError):
    """Base class of every agent-layer error."""

    code: ClassVar[int] = 500


class AgentLocalError(AgentError, LocalError):
    """The caller or the local machine failed; no peer did anything wrong."""

    code: ClassVar[int] = 502


class AgentProtocolError(AgentError, ProtocolError):
    """A peer sent agent-level data that breaks the protocol."""

    code: ClassVar[int] = 510


# -- remote: a peer broke the protocol ------------------------------------------------


class MalformedEnvelope(AgentProtocolError):
    """A message envelope is truncated, over a cap, of an unknown version or has trailing bytes."""

    code: ClassVar[int] = 511


class MalformedFrame(AgentProtocolError):
    """An agent frame, confirmation or contact request does not decode."""

    code: ClassVar[int] = 520


class UnexpectedFrame(AgentProtocolError):
    """A well-formed frame arrived that the connection's state does not accept."""

    code: ClassVar[int] = 521


class ConfirmationRejected(AgentProtocolError):
    """A sealed confirmation or contact request failed authentication."""

    code: ClassVar[int] = 522


class FrameNotOpened(AgentProtocolError):
    """A frame did not authenticate under its queue's frame key (agent version 3): it
    was not sent by the peer (the relay or someone else injected it) and is dropped."""

    code: ClassVar[int] = 541


class ShortLinkCorrupt(AgentProtocolError):
    """The invitation behind a short link does not open: the link or what the relay
    returned is damaged."""

    code: ClassVar[int] = 543


class RepairRejected(AgentProtocolError):
    """A repair frame did not authenticate with the connection's repair key, replayed
    an old counter, or offered weaker keys (no ML-KEM) than the connection had."""

    code: ClassVar[int] = 523


# -- local: the caller, the store or the network here ---------------------------------


class MalformedTrackerState(AgentLocalError):
    """Persisted envelope-tracker state does not decode: the local store is damaged."""

    code: ClassVar[int] = 501


class MalformedLink(AgentLocalError):
    """An invitation or contact-address link does not parse: ask for the link again."""

    code: ClassVar[int] = 512


class ConnectionNotReady(AgentLocalError):
    """The caller asked a connection for something its state does not allow yet."""

    code: ClassVar[int] = 530


class ShortLinkGone(AgentLocalError):
    """A short link's invitation was taken already or expired: ask for a new link."""

    code: ClassVar[int] = 542


class ConnectionStateCorrupt(AgentLocalError):
    """Persisted connection state does not decode: the local store is damaged."""

    code: ClassVar[int] = 531


class RepairUnavailable(AgentLocalError):
    """The connection keeps no repair key (made before queue state version 4), so it
    cannot be repaired safely: the users connect again with a new invitation."""

    code: ClassVar[int] = 532


class UnknownConnection(AgentLocalError):
    """The caller named a connection that does not exist (or no longer does)."""

    code: ClassVar[int] = 533


class RelayUnavailable(AgentLocalError):
    """A relay could not be reached or refused a command; the caller retries later."""

    code: ClassVar[int] = 540


class FileRelayFull(AgentLocalError):
    """A file relay has no room (its quota or its disk is full). Nothing it did not
    acknowledge counts as sent: free space there or enable another file relay, then
    run the transfer again; finished chunks are not sent again."""

    code: ClassVar[int] = 560


class FileTransferStalled(AgentLocalError):
    """A file relay kept failing (unreachable, connection lost) after several attempts;
    run the transfer again later: it resumes where it stopped."""

    code: ClassVar[int] = 561


class FileChunkLost(AgentLocalError):
    """A chunk is gone from its relay (expired, deleted, damaged on disk) or keeps
    failing its digest check; nothing of it was written. Ask the sender to send the
    file again."""

    code: ClassVar[int] = 562
