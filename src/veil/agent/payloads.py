"""What travels inside agent frames: confirmations, ratchet payloads, contact requests.

Layouts (all integers big-endian; ``bytes16`` is a u16 length then the bytes)::

    QueueAddress     bytes16 relay address text (UTF-8, veil://...) || sender id (24)
    Confirmation     u16 agent version || bytes16 ratchet reply || bytes16 first message
    AgentPayload     u8 tag || fields
        CONNECT_INFO   QueueAddress (the joiner's reply queue) || profile
        HELLO          profile
        CHAT           bytes16 chat event
    ContactRequest   bytes16 invitation link text || profile

``profile`` is the rest of the payload, at most :data:`MAX_PROFILE_SIZE` bytes: the
application's profile (the chat layer's ``Profile.to_handshake_bytes``), opaque
to the agent, which only carries it.
    RepairOffer      u16 agent version || bytes16 ratchet invitation keys
    RepairAccept     bytes16 ratchet reply || bytes16 first message

Every decoder is strict: caps on every length, a known tag, no trailing bytes, and
any fault is a :class:`MalformedFrame`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias, TypeVar

from veil.agent.errors import MalformedFrame
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import InvalidAddress
from veil.wire import Reader, WireError, Writer

__all__ = [
    "MAX_CHAT_EVENT_SIZE",
    "MAX_LINK_SIZE",
    "MAX_PROFILE_SIZE",
    "QUEUE_ID_SIZE",
    "RESTORE_FLAG",
    "AgentPayload",
    "ChatPayload",
    "Confirmation",
    "ConnectInfo",
    "ContactRequest",
    "Hello",
    "QueueAddress",
    "RepairAccept",
    "RepairOffer",
    "decode_payload",
    "encode_payload",
]

_T = TypeVar("_T")

QUEUE_ID_SIZE = 24
MAX_RELAY_ADDRESS_SIZE = 2048
MAX_RATCHET_REPLY_SIZE = 4096
MAX_RATCHET_MESSAGE_SIZE = 15_000
MAX_CHAT_EVENT_SIZE = 12_000
MAX_LINK_SIZE = 8192
RESTORE_FLAG = 0x01
_FLAGS_FROM_VERSION = 2  # repair offers carry a flags byte from agent version 2
#: Larger than any profile the chat layer writes (its fields are capped at 1300 bytes).
MAX_PROFILE_SIZE = 2048


class PayloadTag(IntEnum):
    """Tags of the payloads that travel inside the double ratchet."""

    CONNECT_INFO = 1
    HELLO = 2
    CHAT = 3


@dataclass(frozen=True, slots=True)
class QueueAddress:
    """Where to send to a queue: its relay and its sender id (nothing else)."""

    relay: str
    sender_id: bytes

    def __post_init__(self) -> None:
        if len(self.sender_id) != QUEUE_ID_SIZE:
            raise ValueError(f"a sender id is {QUEUE_ID_SIZE} bytes")
        RelayAddress.parse(self.relay)

    def encode(self, writer: Writer) -> None:
        """Append the relay address text and the sender id."""
        writer.bytes16(self.relay.encode("utf-8")).raw(self.sender_id)

    @classmethod
    def decode(cls, reader: Reader) -> QueueAddress:
        """Read fields written by :meth:`encode`."""
        relay = reader.bytes16(MAX_RELAY_ADDRESS_SIZE).decode("utf-8")
        return cls(relay, reader.raw(QUEUE_ID_SIZE))


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The joiner's first frame: its half of the agreement and a first ratchet message."""

    agent_version: int
    ratchet_reply: bytes
    first_message: bytes

    def to_bytes(self) -> bytes:
        """Serialise (sealed to the link key by the caller)."""
        writer = Writer().u16(self.agent_version)
        return writer.bytes16(self.ratchet_reply).bytes16(self.first_message).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> Confirmation:
        """Parse :meth:`to_bytes` output strictly."""
        return _strict(data, _read_confirmation)


def _read_confirmation(reader: Reader) -> Confirmation:
    version = reader.u16()
    reply = reader.bytes16(MAX_RATCHET_REPLY_SIZE)
    return Confirmation(version, reply, reader.bytes16(MAX_RATCHET_MESSAGE_SIZE))


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """A stranger's request sent to a contact address: its invitation and profile."""

    invitation_link: str
    profile: bytes

    def to_bytes(self) -> bytes:
        """Serialise (sealed to the address key by the caller)."""
        writer = Writer().bytes16(self.invitation_link.encode("utf-8"))
        return writer.raw(self.profile).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> ContactRequest:
        """Parse :meth:`to_bytes` output strictly."""
        return _strict(data, _read_contact_request)


def _read_contact_request(reader: Reader) -> ContactRequest:
    link = reader.bytes16(MAX_LINK_SIZE).decode("utf-8")
    return ContactRequest(link, _read_profile(reader))


@dataclass(frozen=True, slots=True)
class RepairOffer:
    """Fresh ratchet invitation keys, offered over the existing queues to re-agree.

    From agent version 2 a ``u8 flags`` byte follows: bit 0 (:data:`RESTORE_FLAG`)
    marks the automatic offer of a side restored from a backup, which the peer
    accepts without asking its user, and is followed by ``u64 resume_after``: the
    last envelope sequence the restored state had received, so the peer sends its
    later messages again (docs/protocol/agent.md, "Backup and restore").
    """

    agent_version: int
    ratchet_invitation: bytes
    restored: bool = False
    resume_after: int = 0

    def to_bytes(self) -> bytes:
        """Serialise as a REPAIR_OFFER frame body."""
        writer = Writer().u16(self.agent_version).bytes16(self.ratchet_invitation)
        if self.agent_version >= _FLAGS_FROM_VERSION:
            writer.u8(RESTORE_FLAG if self.restored else 0)
            if self.restored:
                writer.u64(self.resume_after)
        elif self.restored:
            raise ValueError("agent version 1 repair offers cannot say they come from a restore")
        return writer.build()

    @classmethod
    def from_bytes(cls, data: bytes) -> RepairOffer:
        """Parse :meth:`to_bytes` output strictly."""
        return _strict(data, _read_offer)


def _read_offer(reader: Reader) -> RepairOffer:
    version, invitation = reader.u16(), reader.bytes16(MAX_RATCHET_REPLY_SIZE)
    if version < _FLAGS_FROM_VERSION:
        return RepairOffer(version, invitation)
    flags = reader.u8()
    if flags & ~RESTORE_FLAG:
        raise MalformedFrame(f"unknown repair offer flags {flags:#04x}")
    if not flags & RESTORE_FLAG:
        return RepairOffer(version, invitation)
    return RepairOffer(version, invitation, restored=True, resume_after=reader.u64())


@dataclass(frozen=True, slots=True)
class RepairAccept:
    """The answer to a repair offer: ratchet reply keys and a first new-ratchet message."""

    ratchet_reply: bytes
    first_message: bytes

    def to_bytes(self) -> bytes:
        """Serialise as a REPAIR_ACCEPT frame body."""
        return Writer().bytes16(self.ratchet_reply).bytes16(self.first_message).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> RepairAccept:
        """Parse :meth:`to_bytes` output strictly."""
        return _strict(
            data,
            lambda r: cls(r.bytes16(MAX_RATCHET_REPLY_SIZE), r.bytes16(MAX_RATCHET_MESSAGE_SIZE)),
        )


@dataclass(frozen=True, slots=True)
class ConnectInfo:
    """Joiner → inviter, first ratchet message: where to reply, and who I am."""

    reply_queue: QueueAddress
    profile: bytes


@dataclass(frozen=True, slots=True)
class Hello:
    """Inviter → joiner, first ratchet message: the connection is up; who I am."""

    profile: bytes


@dataclass(frozen=True, slots=True)
class ChatPayload:
    """A chat-layer event, opaque to the agent."""

    event: bytes

    def __post_init__(self) -> None:
        if len(self.event) > MAX_CHAT_EVENT_SIZE:
            raise ValueError(f"chat event exceeds {MAX_CHAT_EVENT_SIZE} bytes")


AgentPayload: TypeAlias = ConnectInfo | Hello | ChatPayload


def encode_payload(payload: AgentPayload) -> bytes:
    """Serialise a payload that travels inside the ratchet."""
    writer = Writer()
    if isinstance(payload, ConnectInfo):
        payload.reply_queue.encode(writer.u8(PayloadTag.CONNECT_INFO))
        writer.raw(payload.profile)
    elif isinstance(payload, Hello):
        writer.u8(PayloadTag.HELLO).raw(payload.profile)
    else:
        writer.u8(PayloadTag.CHAT).bytes16(payload.event)
    return writer.build()


def decode_payload(data: bytes) -> AgentPayload:
    """Parse :func:`encode_payload` output strictly."""
    return _strict(data, _read_payload)


def _read_payload(reader: Reader) -> AgentPayload:
    tag = reader.u8()
    if tag == PayloadTag.CONNECT_INFO:
        queue = QueueAddress.decode(reader)
        return ConnectInfo(queue, _read_profile(reader))
    if tag == PayloadTag.HELLO:
        return Hello(_read_profile(reader))
    if tag == PayloadTag.CHAT:
        return ChatPayload(reader.bytes16(MAX_CHAT_EVENT_SIZE))
    raise MalformedFrame(f"unknown agent payload tag {tag}")


def _read_profile(reader: Reader) -> bytes:
    """The opaque profile that ends a payload: present and capped, never checked inside."""
    profile = reader.rest()
    if not 0 < len(profile) <= MAX_PROFILE_SIZE:
        raise MalformedFrame(f"a profile is 1..{MAX_PROFILE_SIZE} bytes, got {len(profile)}")
    return profile


def _strict(data: bytes, read: Callable[[Reader], _T]) -> _T:
    reader = Reader(data)
    try:
        value = read(reader)
        reader.finish()
    except (WireError, InvalidAddress, UnicodeDecodeError, ValueError) as exc:
        raise MalformedFrame(f"bad agent payload: {exc}") from exc
    return value
