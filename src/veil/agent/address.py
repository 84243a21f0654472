"""Contact addresses: a long-lived queue strangers send contact requests to, sans I/O.

An address is an ordinary receive queue plus an X25519 *address key*; the link
(:class:`veil.agent.links.ContactAddressLink`) publishes the queue and the public
half. A request is a :class:`~veil.agent.payloads.ContactRequest` — the stranger's
own one-time invitation link and profile — sealed to the address key in a
CONTACT_REQUEST frame, so the relay sees neither.

The relay only accepts ``SEND`` on a secured queue, and an address must accept
sends from anyone holding its link. So the address's *sender* key is derived from
the public address key (:func:`address_sender_key`): everyone with the link can
compute it, and the owner secures the queue with it (``KEY``) when creating the
address. That makes the address exactly as open as a contact address should be,
and no more: only the owner holds the recipient keys that read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from veil.agent.duplicates import CommittedFrames
from veil.agent.errors import ConnectionStateCorrupt, UnexpectedFrame
from veil.agent.frames import FrameKind, decode_frame, encode_frame, open_sealed, seal
from veil.agent.payloads import ContactRequest, QueueAddress
from veil.agent.queues import ReceiveQueue, SendQueue
from veil.crypto import MlKem768KeyPair, RandomSource, X25519KeyPair, hkdf_sha256
from veil.crypto.primitives import MLKEM768_SEED_SIZE
from veil.wire import Reader, WireError, Writer

__all__ = [
    "ADDRESS_SENDER_KEY_INFO",
    "ADDRESS_STATE_VERSION",
    "AddressState",
    "address_send_queue",
    "address_sender_key",
    "open_contact_request",
    "seal_contact_request",
]

ADDRESS_SENDER_KEY_INFO = b"veil/agent/v1/address-sender-key"
ADDRESS_STATE_VERSION = 3
_ADDRESS_STATE_V2 = 2
_ADDRESS_STATE_V1 = 1
_KEY_SIZE = 32


def address_sender_key(address_key_public: bytes) -> X25519KeyPair:
    """The sender key every requester uses for an address (derived from its public key)."""
    seed = hkdf_sha256(address_key_public, salt=b"", info=ADDRESS_SENDER_KEY_INFO, length=32)
    return X25519KeyPair(seed)


def address_send_queue(queue: QueueAddress, address_key_public: bytes) -> SendQueue:
    """The send side of someone's contact address, as any requester uses it."""
    return SendQueue(queue, address_sender_key(address_key_public).private)


@dataclass(frozen=True, slots=True)
class AddressState:
    """Our contact address: its queue, the private address key, and the requests
    committed last (a copy of one is dropped, see :mod:`veil.agent.duplicates`).

    Layout: ``u8 version || ReceiveQueue || address key (32) || CommittedFrames
    || u8 has_kem || [ML-KEM-768 seed (64)]``; version 1 had no committed frames and
    version 2 no ML-KEM key (its requests are sealed with X25519 only); both read.
    """

    receive: ReceiveQueue
    address_key: bytes
    delivered: CommittedFrames = field(default_factory=CommittedFrames)
    kem_seed: bytes | None = None

    @classmethod
    def create(cls, receive: ReceiveQueue, rng: RandomSource) -> AddressState:
        """A new address on ``receive`` with a fresh address key and ML-KEM-768 key."""
        return cls(
            receive,
            X25519KeyPair.generate(rng).private,
            kem_seed=MlKem768KeyPair.generate(rng).seed,
        )

    @property
    def kem(self) -> MlKem768KeyPair | None:
        """The ML-KEM-768 key requests are also sealed to (``None`` before version 3)."""
        return None if self.kem_seed is None else MlKem768KeyPair(self.kem_seed)

    @property
    def address_key_public(self) -> bytes:
        """The public address key published in the link."""
        return X25519KeyPair(self.address_key).public

    def with_delivery(self, frame: bytes) -> AddressState:
        """This state, remembering one more committed frame (the oldest may go)."""
        return replace(self, delivered=self.delivered.with_frame(frame))

    def to_bytes(self) -> bytes:
        """Serialise with a leading :data:`ADDRESS_STATE_VERSION`."""
        writer = Writer().u8(ADDRESS_STATE_VERSION)
        self.receive.encode(writer)
        writer.raw(self.address_key)
        self.delivered.encode(writer)
        writer.u8(int(self.kem_seed is not None)).raw(self.kem_seed or b"")
        return writer.build()

    @classmethod
    def from_bytes(cls, data: bytes) -> AddressState:
        """Parse :meth:`to_bytes` output; :class:`ConnectionStateCorrupt` if damaged."""
        reader = Reader(data)
        try:
            version = reader.u8()
            if version not in (_ADDRESS_STATE_V1, _ADDRESS_STATE_V2, ADDRESS_STATE_VERSION):
                raise ConnectionStateCorrupt("unknown address state version")
            receive, address_key = ReceiveQueue.decode(reader), reader.raw(_KEY_SIZE)
            delivered = CommittedFrames()
            if version >= _ADDRESS_STATE_V2:
                delivered = CommittedFrames.decode(reader)
            kem_seed = None
            if version >= ADDRESS_STATE_VERSION and (flag := reader.u8()):
                if flag != 1:
                    raise ConnectionStateCorrupt(f"bad ML-KEM presence flag {flag}")
                kem_seed = reader.raw(MLKEM768_SEED_SIZE)
            state = cls(receive, address_key, delivered, kem_seed)
            reader.finish()
        except (WireError, UnicodeDecodeError, ValueError) as exc:
            raise ConnectionStateCorrupt(f"address state does not decode: {exc}") from exc
        return state


def seal_contact_request(
    address_key_public: bytes,
    request: ContactRequest,
    rng: RandomSource,
    kem_public: bytes | None = None,
) -> bytes:
    """The CONTACT_REQUEST frame a requester sends to an address (sealed to its
    ML-KEM-768 key too when the link offers one: F6)."""
    sealed = seal(address_key_public, request.to_bytes(), rng, kem_public=kem_public)
    return encode_frame(FrameKind.CONTACT_REQUEST, sealed)


def open_contact_request(state: AddressState, data: bytes) -> ContactRequest:
    """Open a frame that arrived on our address; a protocol error if it is not a request."""
    frame = decode_frame(data)
    if frame.kind is not FrameKind.CONTACT_REQUEST:
        raise UnexpectedFrame(f"{frame.kind.name} frame on a contact address")
    opened = open_sealed(X25519KeyPair(state.address_key), frame.body, state.kem)
    return ContactRequest.from_bytes(opened)
