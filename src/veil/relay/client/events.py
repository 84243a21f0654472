"""What a :class:`veil.relay.client.relay_client.RelayClient` reports to its user, as events."""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import X25519KeyPair
from veil.relay.client.session import QueueKeys

__all__ = [
    "ConnectionRestored",
    "MessageDiscarded",
    "MessageReceived",
    "RecipientQueue",
    "RelayEvent",
    "SenderQueue",
    "SubscriptionLost",
]


@dataclass(frozen=True, slots=True)
class RecipientQueue:
    """Everything a recipient keeps about one queue it created.

    Persist it (the agent layer does): it is what lets the owner subscribe again
    after a restart. Give only ``sender_id`` (and the relay address) to the sender.
    """

    recipient_id: bytes
    sender_id: bytes
    keys: QueueKeys
    delivery_key: bytes


@dataclass(frozen=True, slots=True)
class SenderQueue:
    """What a sender needs to write to a queue: its id and the sender auth key."""

    sender_id: bytes
    auth: X25519KeyPair


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message arrived on a subscribed queue; acknowledge it to get the next one.

    ``timestamp`` is when the relay accepted it (Unix seconds, relay clock, rounded
    down to the hour); ``body`` is exactly what the sender sent.
    """

    queue: RecipientQueue
    message_id: bytes
    timestamp: int
    flags: int
    body: bytes


@dataclass(frozen=True, slots=True)
class MessageDiscarded:
    """A message pushed on ``queue`` could not be decrypted, so the client acknowledged it.

    It can never be read, and left unacknowledged it would hold a place in the
    delivery window for good. A forged or corrupted delivery, or a queue whose keys
    do not match the relay's: worth reporting, never worth retrying.
    """

    queue: RecipientQueue
    message_id: bytes


@dataclass(frozen=True, slots=True)
class SubscriptionLost:
    """This client no longer receives ``queue``'s messages: another connection
    subscribed to it or deleted it, or resubscribing after a reconnection failed."""

    queue: RecipientQueue


@dataclass(frozen=True, slots=True)
class ConnectionRestored:
    """The client reconnected after losing the relay and is resubscribing its queues.

    It comes before any message of the new connection. A queue the relay refuses
    to resubscribe (e.g. it was deleted meanwhile) is then reported as
    :class:`SubscriptionLost`. Commands that were in flight when the connection
    dropped raised :class:`veil.relay.protocol.errors.ConnectionLost`.
    """

    resubscribing: int


RelayEvent = MessageReceived | MessageDiscarded | SubscriptionLost | ConnectionRestored
