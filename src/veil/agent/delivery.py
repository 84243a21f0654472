"""Pending relay actions (the outbox) and the retry policy, sans I/O.

Every relay action a connection needs — secure the peer's queue, send a frame,
send a contact request to someone's address — is first written to the store's
outbox in the same transaction as the state change that caused it, then run.
A crash between the two leaves the action in the outbox, and the next run of
any ``veil`` command sends it. Actions of one connection run strictly in order;
one that fails is retried after an exponential backoff with jitter, and the ones
behind it wait.

Outbox entry layout (version :data:`OUTBOX_ENTRY_VERSION`)::

    u8 version || u8 kind || fields
        SECURE_PEER_QUEUE   (no fields: the queue is in the connection's state)
        SEND_FRAME          frame (FRAME_SIZE bytes)
        SEND_TO_ADDRESS     QueueAddress || address link key (32) || frame
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from veil.agent.errors import ConnectionStateCorrupt, MalformedFrame
from veil.agent.frames import FRAME_SIZE
from veil.agent.payloads import QueueAddress
from veil.crypto import RandomSource
from veil.wire import Reader, WireError, Writer

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "OUTBOX_ENTRY_VERSION",
    "ActionKind",
    "OutboxEntry",
    "next_attempt_at",
]

OUTBOX_ENTRY_VERSION = 1
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0
_KEY_SIZE = 32
_JITTER_RESOLUTION = 1 << 16


class ActionKind(IntEnum):
    """What a pending outbox entry asks the relay to do."""

    SECURE_PEER_QUEUE = 1
    SEND_FRAME = 2
    SEND_TO_ADDRESS = 3


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One pending relay action of a connection."""

    kind: ActionKind
    frame: bytes = b""
    address: QueueAddress | None = None
    address_key: bytes = b""

    def to_bytes(self) -> bytes:
        """Serialise for the outbox table."""
        writer = Writer().u8(OUTBOX_ENTRY_VERSION).u8(self.kind)
        if self.kind is ActionKind.SEND_TO_ADDRESS:
            assert self.address is not None
            self.address.encode(writer)
            writer.raw(self.address_key)
        if self.kind is not ActionKind.SECURE_PEER_QUEUE:
            writer.raw(self.frame)
        return writer.build()

    @classmethod
    def from_bytes(cls, data: bytes) -> OutboxEntry:
        """Parse :meth:`to_bytes` output; :class:`ConnectionStateCorrupt` if damaged."""
        reader = Reader(data)
        try:
            if reader.u8() != OUTBOX_ENTRY_VERSION:
                raise ConnectionStateCorrupt("unknown outbox entry version")
            kind = ActionKind(reader.u8())
            address, address_key, frame = None, b"", b""
            if kind is ActionKind.SEND_TO_ADDRESS:
                address, address_key = QueueAddress.decode(reader), reader.raw(_KEY_SIZE)
            if kind is not ActionKind.SECURE_PEER_QUEUE:
                frame = reader.raw(FRAME_SIZE)
            entry = cls(kind, frame, address, address_key)
            reader.finish()
        except (WireError, MalformedFrame, UnicodeDecodeError, ValueError) as exc:
            raise ConnectionStateCorrupt(f"outbox entry does not decode: {exc}") from exc
        return entry


def next_attempt_at(attempts: int, now: float, rng: RandomSource) -> float:
    """When to retry after ``attempts`` failures: exponential backoff with "equal
    jitter" (a uniform wait between half the ceiling and the ceiling).

    Jitter spreads the retries of many clients after a relay restart, so they do
    not all reconnect in the same instant; the fixed half keeps a failing relay
    from being retried at once.
    """
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** min(attempts, 16))
    fraction = int.from_bytes(rng.random_bytes(2), "big") / _JITTER_RESOLUTION
    return now + ceiling / 2 + fraction * ceiling / 2
