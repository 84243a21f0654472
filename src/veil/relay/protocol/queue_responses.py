"""Responses (relay to client) to the queue commands, one dataclass each.

A response is ``u8 tag || fields`` with a tag ``0x8_`` of
:class:`~veil.relay.protocol.queue_commands.Tag`; see ``docs/protocol/relay.md``
for every layout. Decoding is strict, as for commands: fixed-size fields, capped
lengths, no trailing bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from veil.relay.protocol.errors import UnexpectedResponse
from veil.relay.protocol.queue_commands import (
    KEY_SIZE,
    MAX_MESSAGE_BODY,
    MESSAGE_ID_SIZE,
    FieldlessBody,
    Tag,
    exact_fields,
)
from veil.wire import DecodeError, Writer

__all__ = [
    "MAX_SEALED_MESSAGE",
    "ErrorResponse",
    "Message",
    "Ok",
    "Pong",
    "QueueIds",
    "Response",
    "SubscriptionEnded",
    "decode_response",
    "encode_response",
]

MAX_SEALED_MESSAGE = MAX_MESSAGE_BODY + 64
"""Cap on a MSG's sealed body: the sender's body plus re-encryption overhead."""


@dataclass(frozen=True, slots=True)
class QueueIds:
    """``IDS``: answer to ``NEW``."""

    tag: ClassVar[Tag] = Tag.IDS
    recipient_id: bytes
    sender_id: bytes
    relay_dh_key: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.recipient_id).raw(self.sender_id).raw(self.relay_dh_key)

    @classmethod
    def decode(cls, fields: bytes) -> QueueIds:
        """Read the fields."""
        exact_fields(fields, 2 * MESSAGE_ID_SIZE + KEY_SIZE)
        middle = 2 * MESSAGE_ID_SIZE
        return cls(fields[:MESSAGE_ID_SIZE], fields[MESSAGE_ID_SIZE:middle], fields[middle:])


@dataclass(frozen=True, slots=True)
class Ok(FieldlessBody):
    """``OK``: the command succeeded (and, for writes, is durable)."""

    tag: ClassVar[Tag] = Tag.OK


@dataclass(frozen=True, slots=True)
class SubscriptionEnded(FieldlessBody):
    """``END``: another connection subscribed to this queue; this one no longer receives."""

    tag: ClassVar[Tag] = Tag.END


@dataclass(frozen=True, slots=True)
class Pong(FieldlessBody):
    """``PONG``: answer to ``PING``."""

    tag: ClassVar[Tag] = Tag.PONG


@dataclass(frozen=True, slots=True)
class Message:
    """``MSG``: one message, re-encrypted for the recipient (see queue_crypto)."""

    tag: ClassVar[Tag] = Tag.MSG
    message_id: bytes
    sealed: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.message_id).bytes16(self.sealed)

    @classmethod
    def decode(cls, fields: bytes) -> Message:
        """Read the fields."""
        header = MESSAGE_ID_SIZE + 2
        length = int.from_bytes(fields[MESSAGE_ID_SIZE:header], "big")
        if length > MAX_SEALED_MESSAGE:
            raise DecodeError(f"sealed message of {length} bytes exceeds its cap")
        exact_fields(fields, header + length)
        return cls(fields[:MESSAGE_ID_SIZE], fields[header:])


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """``ERR``: a command failed; the code is an :class:`~veil.relay.protocol.errors.ErrorCode`."""

    tag: ClassVar[Tag] = Tag.ERR
    code: int

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u16(self.code)

    @classmethod
    def decode(cls, fields: bytes) -> ErrorResponse:
        """Read the fields."""
        return cls(int.from_bytes(exact_fields(fields, 2), "big"))


Response = QueueIds | Ok | SubscriptionEnded | Message | Pong | ErrorResponse


_RESPONSES: dict[int, type[Response]] = {
    cls.tag: cls for cls in (QueueIds, Ok, SubscriptionEnded, Message, Pong, ErrorResponse)
}


_MSG_TAG = bytes((Tag.MSG,))
_BARE_ENCODINGS = {tag: bytes((tag,)) for tag in Tag}


def encode_response(response: Response) -> bytes:
    """Encode a response as ``tag || fields``."""
    # The relay encodes one response per command and one MSG per delivery, so the two
    # commonest shapes skip the generic writer.
    if isinstance(response, Message):
        length = len(response.sealed).to_bytes(2, "big")
        return _MSG_TAG + response.message_id + length + response.sealed
    if isinstance(response, FieldlessBody):
        return _BARE_ENCODINGS[response.tag]
    writer = Writer().u8(response.tag)
    response.encode(writer)
    return writer.build()


def decode_response(data: bytes) -> Response:
    """Decode a response; :class:`UnexpectedResponse` if invalid."""
    response_class = _RESPONSES.get(data[0]) if data else None
    if response_class is None:
        raise UnexpectedResponse("empty response or unknown response tag")
    try:
        return response_class.decode(data[1:])
    except DecodeError as exc:
        raise UnexpectedResponse(f"malformed {response_class.tag.name}: {exc}") from exc
