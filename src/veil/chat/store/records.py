"""The rows of the client store, as frozen dataclasses, and the enums their columns hold.

The agent's rows (connections, the outbox, the contact address) are the agent's own
records (:mod:`veil.agent.store`); their state is opaque bytes whose formats the
agent versions and migrates, so the store never has to understand it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from veil.chat.profile import Profile

__all__ = [
    "Contact",
    "ContactRequestRecord",
    "ContactStatus",
    "Deletion",
    "Direction",
    "MessageRecord",
    "OwnProfile",
    "Reaction",
    "Receipt",
    "RequestStatus",
]


class ContactStatus(StrEnum):
    """Where the connection to a contact stands, as shown by ``veil contacts``."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DESYNCHRONISED = "desynchronised"
    DELETED = "deleted"


class Direction(StrEnum):
    """Who wrote a message."""

    SENT = "sent"
    RECEIVED = "received"


class Receipt(StrEnum):
    """How far a message got: sent messages climb this ladder, received ones start at delivered."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"


class Deletion(StrEnum):
    """Whether and how a message was deleted; a deleted message keeps its row, not its text."""

    NONE = "none"
    FOR_ME = "for_me"
    FOR_EVERYONE = "for_everyone"


class RequestStatus(StrEnum):
    """The user's answer to a contact request that came through their address."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class OwnProfile:
    """The user's own profile and their long-term keys (opaque, versioned by the agent)."""

    profile: Profile
    keys: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone the user is connected (or connecting) to."""

    contact_id: int
    alias: str
    profile: Profile
    verified: bool
    status: ContactStatus
    created_at: float


@dataclass(frozen=True, slots=True)
class Reaction:
    """One emoji set on a message by one side."""

    direction: Direction
    emoji: str


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One chat message in a contact's history.

    ``message_id`` is the chat-layer id both sides use; ``sequence`` is the agent
    envelope's sequence number in the message's direction; ``integrity`` records the
    envelope tracker's verdict (``"ok"``, ``"skipped"``, ``"bad_hash"``...) so the user
    sees it next to the message.
    """

    row_id: int
    contact_id: int
    message_id: bytes
    direction: Direction
    sequence: int
    text: str | None
    reply_to: bytes | None
    edited: bool
    deletion: Deletion
    receipt: Receipt
    integrity: str
    sent_at: float
    received_at: float | None
    reactions: tuple[Reaction, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactRequestRecord:
    """A stranger asking to connect through the user's contact address."""

    request_id: int
    profile: Profile
    invitation: bytes
    status: RequestStatus
    received_at: float
