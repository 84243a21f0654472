"""The queues of one connection and their persisted form.

A connection receives on a queue at a relay its own user chose and sends to the
queue its peer chose. Everything the agent must remember about both — ids, the
private keys that authorise relay commands, and the one-time handshake secrets —
is kept in one versioned blob (:class:`QueueState`), stored next to the ratchet
state and committed in the same transaction.

Layout of :meth:`QueueState.to_bytes` (version :data:`QUEUE_STATE_VERSION`)::

    u8  version
    ReceiveQueue  bytes16 relay || recipient id (24) || sender id (24)
                  || recipient auth key (32) || recipient DH key (32) || delivery key (32)
    u8  has send queue   then  QueueAddress || sender auth key (32)
    u8  has link key     then  X25519 private key (32)
    u8  has invitation   then  bytes16 ratchet invitation secret
    u8  has identities   then  local identity key (32) || remote identity key (32)
                               || u8 role (0 inviter, 1 joiner)
                               || u8 transcript length (0 or 32) || transcript hash
                               (from version 5: the agreement's transcript hash,
                               present for connections agreed at ratchet v2, whose
                               security code covers it)
    u8  has repair offer then  bytes16 the peer's ratchet invitation keys, awaiting consent
                               || u8 key id length (0 or 8) || the ratchet repair key id
                               it came under (from version 5)
    u8  has repair key   then  RepairAuth (:mod:`veil.agent.repair`): key (32) || u8 role
                               || u8 pq || u64 sent counter || u64 received counter
    CommittedFrames      the latest frames committed from the receive queue
                         (:mod:`veil.agent.duplicates`)
    u8  undecryptable    well-formed frames in a row that did not decrypt (version 5)
    u8  frame secret length (0 or 32) || the frame secret of the queue frame layer
                         (:mod:`veil.agent.queue_frames`; version 6)

Older versions still read. Versions 1 to 4 had no transcript hash (a version 1
security code). Versions 1 to 3 had no repair key: such a connection
keeps working but cannot be repaired (:class:`~veil.agent.errors.RepairUnavailable`).
Version 2 ended with ``u8 count || count x relay message
id (24)``, carried over as the oldest marks of the committed frames; version 1 had
no such field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from veil.agent.duplicates import REMEMBERED_FRAMES, CommittedFrames
from veil.agent.errors import ConnectionStateCorrupt, MalformedFrame
from veil.agent.payloads import QUEUE_ID_SIZE, QueueAddress
from veil.agent.repair import RepairAuth
from veil.ratchet.agreement import Agreement
from veil.ratchet.repair_keys import REPAIR_KEY_ID_SIZE
from veil.ratchet.security_code import SecurityCode, security_code
from veil.ratchet.versions import RATCHET_V2
from veil.wire import Reader, WireError, Writer

__all__ = [
    "QUEUE_STATE_VERSION",
    "Identities",
    "QueueState",
    "ReceiveQueue",
    "SendQueue",
]

QUEUE_STATE_VERSION = 6
_QUEUE_STATE_V5 = 5
_QUEUE_STATE_V1 = 1
_QUEUE_STATE_V2 = 2
_QUEUE_STATE_V3 = 3
_QUEUE_STATE_V4 = 4
_KNOWN_VERSIONS = (
    _QUEUE_STATE_V1,
    _QUEUE_STATE_V2,
    _QUEUE_STATE_V3,
    _QUEUE_STATE_V4,
    _QUEUE_STATE_V5,
    QUEUE_STATE_VERSION,
)
_TRANSCRIPT_SIZE = 32
_MAX_COUNT = 255
_V5 = _QUEUE_STATE_V5  # transcript hash and repair offer key id
_MESSAGE_ID_SIZE = 24
_KEY_SIZE = 32
_MAX_RELAY_SIZE = 2048
_MAX_INVITATION_SECRET = 8192


@dataclass(frozen=True, slots=True)
class ReceiveQueue:
    """A queue we created and receive on, with the keys that let us use it."""

    relay: str
    recipient_id: bytes
    sender_id: bytes
    recipient_auth_key: bytes
    recipient_dh_key: bytes
    delivery_key: bytes

    @property
    def address(self) -> QueueAddress:
        """What a peer needs to send to this queue."""
        return QueueAddress(self.relay, self.sender_id)

    def encode(self, writer: Writer) -> None:
        """Append the queue's fields."""
        writer.bytes16(self.relay.encode("utf-8"))
        writer.raw(self.recipient_id).raw(self.sender_id)
        writer.raw(self.recipient_auth_key).raw(self.recipient_dh_key).raw(self.delivery_key)

    @classmethod
    def decode(cls, reader: Reader) -> ReceiveQueue:
        """Read the fields written by :meth:`encode`."""
        relay = reader.bytes16(_MAX_RELAY_SIZE).decode("utf-8")
        ids = reader.raw(QUEUE_ID_SIZE), reader.raw(QUEUE_ID_SIZE)
        keys = reader.raw(_KEY_SIZE), reader.raw(_KEY_SIZE), reader.raw(_KEY_SIZE)
        return cls(relay, *ids, *keys)


@dataclass(frozen=True, slots=True)
class SendQueue:
    """The peer's queue we send to, with the sender key we secured it with."""

    address: QueueAddress
    sender_auth_key: bytes

    def encode(self, writer: Writer) -> None:
        """Append the queue's fields."""
        self.address.encode(writer)
        writer.raw(self.sender_auth_key)

    @classmethod
    def decode(cls, reader: Reader) -> SendQueue:
        """Read the fields written by :meth:`encode`."""
        return cls(QueueAddress.decode(reader), reader.raw(_KEY_SIZE))


@dataclass(frozen=True, slots=True)
class Identities:
    """Both sides' agreement identity keys: they make the security code and the
    associated data every ratchet message is bound to.

    ``transcript_hash`` is the agreement's transcript hash for a connection agreed
    at ratchet v2 (its security code covers the ML-KEM half), else empty.
    """

    local: bytes
    remote: bytes
    is_joiner: bool
    transcript_hash: bytes = b""

    @classmethod
    def from_agreement(cls, agreement: Agreement) -> Identities:
        """The identities of a fresh agreement (the joiner is its initiator)."""
        v2 = agreement.version >= RATCHET_V2
        return cls(
            agreement.local_identity_key,
            agreement.remote_identity_key,
            agreement.is_initiator,
            agreement.transcript_hash if v2 else b"",
        )

    def security_code(self) -> SecurityCode:
        """The code both users compare: version 2 when the transcript is known."""
        transcript = self.transcript_hash or None
        return security_code(self.local, self.remote, transcript_hash=transcript)

    @property
    def associated_data(self) -> bytes:
        """``IK_joiner || IK_inviter``, the same bytes on both sides."""
        return self.local + self.remote if self.is_joiner else self.remote + self.local

    def encode(self, writer: Writer) -> None:
        """Append both keys, the role and the transcript hash."""
        writer.raw(self.local).raw(self.remote).u8(int(self.is_joiner))
        writer.u8(len(self.transcript_hash)).raw(self.transcript_hash)

    @classmethod
    def decode(cls, reader: Reader, version: int = QUEUE_STATE_VERSION) -> Identities:
        """Read the fields written by :meth:`encode` (no transcript before version 5)."""
        local, remote, role = reader.raw(_KEY_SIZE), reader.raw(_KEY_SIZE), reader.u8()
        if role not in (0, 1):
            raise ConnectionStateCorrupt(f"bad role {role}")
        transcript = b""
        if version >= _V5:
            size = reader.u8()
            if size not in (0, _TRANSCRIPT_SIZE):
                raise ConnectionStateCorrupt(f"bad transcript hash length {size}")
            transcript = reader.raw(size)
        return cls(local, remote, bool(role), transcript)


@dataclass(frozen=True, slots=True)
class QueueState:
    """Both queues of a connection plus handshake secrets not yet spent."""

    receive: ReceiveQueue
    send: SendQueue | None = None
    link_key: bytes | None = None
    invitation_secret: bytes | None = None
    identities: Identities | None = None
    repair_offer: bytes | None = None
    repair_auth: RepairAuth | None = None
    """The key that authenticates repair frames; ``None`` before the first agreement
    and for connections stored before version 4."""
    delivered: CommittedFrames = field(default_factory=CommittedFrames)
    """The latest frames committed from the receive queue: a copy that arrives again
    (a lost ``ACK``, or a sender's resend after a crash) is dropped before decryption."""
    repair_offer_key_id: bytes = b""
    """The ratchet repair key the peer's pending offer came under (agent version 2):
    the answer is sealed with it. Empty at agent version 1 or with no offer."""
    undecryptable: int = 0
    """Well-formed frames in a row that did not decrypt (capped at 255): the contact
    is marked desynchronised only at :data:`DESYNC_THRESHOLD` (review finding F3)."""
    frame_secret: bytes = b""
    """The secret of the queue frame layer (agent version 3), empty when frames go
    in the clear (:mod:`veil.agent.queue_frames`)."""

    def with_delivery(self, frame: bytes) -> QueueState:
        """This state, remembering one more committed frame (the oldest may go)."""
        return replace(self, delivered=self.delivered.with_frame(frame))

    def to_bytes(self) -> bytes:
        """Serialise with a leading :data:`QUEUE_STATE_VERSION`."""
        writer = Writer().u8(QUEUE_STATE_VERSION)
        self.receive.encode(writer)
        _write_optional(writer, self.send.encode if self.send else None)
        link_key, secret = self.link_key, self.invitation_secret
        _write_optional(writer, (lambda w: w.raw(link_key)) if link_key else None)
        _write_optional(writer, (lambda w: w.bytes16(secret)) if secret else None)
        _write_optional(writer, self.identities.encode if self.identities else None)
        offer, offer_key = self.repair_offer, self.repair_offer_key_id
        write_offer = lambda w: w.bytes16(offer).u8(len(offer_key)).raw(offer_key)  # noqa: E731
        _write_optional(writer, write_offer if offer else None)
        _write_optional(writer, self.repair_auth.encode if self.repair_auth else None)
        self.delivered.encode(writer)
        writer.u8(min(self.undecryptable, _MAX_COUNT))
        return writer.u8(len(self.frame_secret)).raw(self.frame_secret).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> QueueState:
        """Parse :meth:`to_bytes` output; :class:`ConnectionStateCorrupt` if damaged."""
        reader = Reader(data)
        try:
            version = reader.u8()
            if version not in _KNOWN_VERSIONS:
                raise ConnectionStateCorrupt("unknown queue state version")
            receive = ReceiveQueue.decode(reader)
            send = SendQueue.decode(reader) if _present(reader) else None
            link_key = reader.raw(_KEY_SIZE) if _present(reader) else None
            secret = reader.bytes16(_MAX_INVITATION_SECRET) if _present(reader) else None
            identities = Identities.decode(reader, version) if _present(reader) else None
            offer = reader.bytes16(_MAX_INVITATION_SECRET) if _present(reader) else None
            offer_key = _read_offer_key(reader) if offer and version >= _V5 else b""
            has_auth = version >= _QUEUE_STATE_V4 and _present(reader)
            repair_auth = RepairAuth.decode(reader) if has_auth else None
            delivered = _read_delivered(reader, version)
            undecryptable = reader.u8() if version >= _V5 else 0
            frame_secret = _read_frame_secret(reader) if version >= QUEUE_STATE_VERSION else b""
            reader.finish()
        except (WireError, MalformedFrame, UnicodeDecodeError, ValueError) as exc:
            raise ConnectionStateCorrupt(f"queue state does not decode: {exc}") from exc
        return cls(
            receive,
            send,
            link_key,
            secret,
            identities,
            offer,
            repair_auth,
            delivered,
            offer_key,
            undecryptable,
            frame_secret,
        )


def _read_frame_secret(reader: Reader) -> bytes:
    size = reader.u8()
    if size not in (0, _KEY_SIZE):
        raise ConnectionStateCorrupt(f"bad frame secret length {size}")
    return reader.raw(size)


def _read_offer_key(reader: Reader) -> bytes:
    size = reader.u8()
    if size not in (0, REPAIR_KEY_ID_SIZE):
        raise ConnectionStateCorrupt(f"bad repair key id length {size}")
    return reader.raw(size)


def _read_delivered(reader: Reader, version: int) -> CommittedFrames:
    """The committed frames, migrating what versions 1 and 2 remembered."""
    if version == _QUEUE_STATE_V1:
        return CommittedFrames()
    if version >= _QUEUE_STATE_V3:
        return CommittedFrames.decode(reader)
    count = reader.u8()
    if count > REMEMBERED_FRAMES:
        raise ConnectionStateCorrupt(f"{count} remembered deliveries exceed the cap")
    return CommittedFrames.from_message_ids(reader.raw(_MESSAGE_ID_SIZE) for _ in range(count))


def _write_optional(writer: Writer, write: Callable[[Writer], object] | None) -> None:
    if write is None:
        writer.u8(0)
    else:
        write(writer.u8(1))


def _present(reader: Reader) -> bool:
    flag = reader.u8()
    if flag not in (0, 1):
        raise ConnectionStateCorrupt(f"bad presence flag {flag}")
    return flag == 1
