"""Group-log credentials a client holds, and the events its subscriptions report.

Who holds what:

* the admin keeps its :class:`LogAdmin` (the log id and the admin auth key): it adds
  and removes readers and writers, and deletes the log;
* each member gets a :class:`LogReader` and, unless it only reads, a
  :class:`LogWriter` (plus the relay address), over a channel the relay does not
  see. Each has a fixed-size :meth:`encode` for that; ``decode`` is strict.

A member may instead make its own keys and send only their public halves; the
admin answers with a :class:`ReaderGrant` (or a writer id), and the member builds
its credentials with :meth:`LogReader.from_grant`.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import InvalidKey, X25519KeyPair
from veil.relay.client.session import QueueKeys
from veil.relay.protocol.errors import InvalidLogCredentials, UnexpectedResponse
from veil.relay.protocol.log_commands import LOG_ID_SIZE, EndReason
from veil.relay.protocol.log_crypto import reader_delivery_key

__all__ = [
    "LogAdmin",
    "LogEntryDiscarded",
    "LogEntryReceived",
    "LogEvent",
    "LogPosition",
    "LogReader",
    "LogSubscriptionEnded",
    "LogWriter",
    "LogsRestored",
    "ReaderGrant",
]

_KEY = 32


def _split(data: bytes, what: str, *sizes: int) -> list[bytes]:
    if len(data) != sum(sizes):
        raise InvalidLogCredentials(f"{what} credentials are {sum(sizes)} bytes, got {len(data)}")
    parts, offset = [], 0
    for size in sizes:
        parts.append(data[offset : offset + size])
        offset += size
    return parts


@dataclass(frozen=True, slots=True)
class LogAdmin:
    """The admin credentials of one log: its id and the admin auth key."""

    log_id: bytes
    auth: X25519KeyPair

    def encode(self) -> bytes:
        """``log_id(24) || auth private key(32)``: secret, keep it like a private key."""
        return self.log_id + self.auth.private

    @classmethod
    def decode(cls, data: bytes) -> LogAdmin:
        """Read :meth:`encode`'s bytes; :class:`InvalidLogCredentials` if they are not 56 bytes."""
        log_id, private = _split(data, "admin", LOG_ID_SIZE, _KEY)
        return cls(log_id, X25519KeyPair(private))


@dataclass(frozen=True, slots=True)
class LogWriter:
    """A writer's credentials: its writer id and auth key."""

    writer_id: bytes
    auth: X25519KeyPair

    def encode(self) -> bytes:
        """``writer_id(24) || auth private key(32)``."""
        return self.writer_id + self.auth.private

    @classmethod
    def decode(cls, data: bytes) -> LogWriter:
        """Read :meth:`encode`'s bytes; :class:`InvalidLogCredentials` if they are not 56 bytes."""
        writer_id, private = _split(data, "writer", LOG_ID_SIZE, _KEY)
        return cls(writer_id, X25519KeyPair(private))


@dataclass(frozen=True, slots=True)
class ReaderGrant:
    """What the relay answered to ``LRADD``: the reader id, the relay's DH key for this
    reader, and the reader's first cursor (entries from there on are its to read)."""

    reader_id: bytes
    relay_dh_key: bytes
    cursor: int


@dataclass(frozen=True, slots=True)
class LogReader:
    """A reader's credentials: its reader id, auth key and delivery key."""

    reader_id: bytes
    auth: X25519KeyPair
    delivery_key: bytes

    @classmethod
    def from_grant(cls, grant: ReaderGrant, keys: QueueKeys) -> LogReader:
        """The reader made ``keys`` itself and the admin got ``grant`` for their public halves."""
        try:
            key = reader_delivery_key(keys.dh, grant.relay_dh_key)
        except InvalidKey as exc:
            raise UnexpectedResponse("relay DH key is not usable") from exc
        return cls(grant.reader_id, keys.auth, key)

    def encode(self) -> bytes:
        """``reader_id(24) || auth private key(32) || delivery key(32)``."""
        return self.reader_id + self.auth.private + self.delivery_key

    @classmethod
    def decode(cls, data: bytes) -> LogReader:
        """Read :meth:`encode`'s bytes; :class:`InvalidLogCredentials` if they are not 88 bytes."""
        reader_id, private, key = _split(data, "reader", LOG_ID_SIZE, _KEY, _KEY)
        return cls(reader_id, X25519KeyPair(private), key)


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a subscription starts: the reader's ``cursor`` and the ``oldest`` entry the
    log holds. ``missed`` entries (``oldest - cursor`` when positive) are gone for good:
    past retention; the member must rejoin (an external commit, or re-adding)."""

    cursor: int
    oldest: int

    @property
    def missed(self) -> int:
        """Entries after the cursor the relay no longer has."""
        return max(0, self.oldest - self.cursor)


@dataclass(frozen=True, slots=True)
class LogEntryReceived:
    """Entry ``seq`` of the log ``reader`` reads. ``timestamp`` is when the relay took
    it (Unix seconds, rounded down to the hour); ``body`` is what the writer posted.

    Acknowledge it (``acknowledge(reader, seq)``, which also covers every earlier
    entry) once it is handled; entries come in sequence order, each once per
    subscription (a resubscription sends the unacknowledged ones again).
    """

    reader: LogReader
    seq: int
    timestamp: int
    body: bytes


@dataclass(frozen=True, slots=True)
class LogEntryDiscarded:
    """Entry ``seq`` arrived but does not decrypt with ``reader``'s key: forged, corrupted,
    or credentials that do not match the relay's. Acknowledge it in order like any other."""

    reader: LogReader
    seq: int


@dataclass(frozen=True, slots=True)
class LogSubscriptionEnded:
    """This client no longer receives ``reader``'s entries. ``reason`` says why the relay
    ended it (another connection took it, the admin removed the reader, or deleted the
    log); ``None``: resubscribing after a reconnection was refused (most likely the
    reader was removed or the log deleted meanwhile)."""

    reader: LogReader
    reason: EndReason | None


@dataclass(frozen=True, slots=True)
class LogsRestored:
    """The client reconnected and is resubscribing ``resubscribing`` readers; entries not
    acknowledged before come again (already-reported ones are not reported twice)."""

    resubscribing: int


LogEvent = LogEntryReceived | LogEntryDiscarded | LogSubscriptionEnded | LogsRestored
