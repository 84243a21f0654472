"""What the agent layer reports upward: frozen, slotted events named in the past tense.

A sans-I/O :class:`~veil.agent.connection.Connection` returns these from each input;
the inbox hands them to the caller as :class:`ConnectionEvent` values (which say
which connection they concern), and the caller — the chat layer — applies them to
its own rows in the same transaction. Profiles are the application's opaque bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AgentEvent",
    "ChatEventReceived",
    "ConnectionEstablished",
    "ConnectionEvent",
    "ConnectionRepaired",
    "ContactRequestReceived",
    "DesyncDetected",
    "DuplicateDropped",
    "PeerConfirmed",
    "RepairRequested",
    "SyncRestored",
]


@dataclass(frozen=True, slots=True)
class PeerConfirmed:
    """The inviter opened the joiner's confirmation: it now knows the joiner's profile."""

    profile: bytes


@dataclass(frozen=True, slots=True)
class ConnectionEstablished:
    """Both queues are secured and both ratchets agree: the connection is CONNECTED."""

    profile: bytes


@dataclass(frozen=True, slots=True)
class ChatEventReceived:
    """A chat event arrived through the ratchet.

    ``sequence`` is the envelope's sequence number and ``integrity`` the envelope
    tracker's verdict (``"ok"``, ``"skipped"``, ``"duplicate"``, ``"bad_hash"``),
    which the chat layer shows next to the message.
    """

    event: bytes
    sequence: int
    integrity: str
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class DuplicateDropped:
    """A frame the connection had already processed came again (a relay redelivery)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ContactRequestReceived:
    """A stranger asked to connect through our contact address, with a one-time
    invitation link to join if the user accepts, and their profile."""

    invitation_link: str
    profile: bytes


@dataclass(frozen=True, slots=True)
class DesyncDetected:
    """A message from a connected peer did not decrypt: the ratchets may have drifted.

    The connection is marked desynchronised and the user is told; the message is
    dropped (it could never be decrypted later either).
    """

    reason: str


@dataclass(frozen=True, slots=True)
class SyncRestored:
    """A message decrypted again on a connection marked desynchronised: the mark goes."""


@dataclass(frozen=True, slots=True)
class RepairRequested:
    """The peer offered to re-agree keys; ``veil repair`` accepts (the user's consent)."""


@dataclass(frozen=True, slots=True)
class ConnectionRepaired:
    """Both sides re-agreed keys over the existing queues: the security code changed.

    ``automatic``: the peer restored a backup and this side accepted its restore
    offer without asking (the new keys are authenticated by the old session);
    ``resend_after`` is then the last envelope sequence of ours the restored state
    had received: the application sends its later messages again.
    """

    automatic: bool = False
    resend_after: int | None = None


AgentEvent = (
    PeerConfirmed
    | ConnectionEstablished
    | ChatEventReceived
    | DuplicateDropped
    | ContactRequestReceived
    | DesyncDetected
    | RepairRequested
    | ConnectionRepaired
    | SyncRestored
)


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """An event and the connection it concerns (``None`` for a contact request,
    which arrives on the contact address, not on a connection)."""

    connection_id: int | None
    event: AgentEvent
