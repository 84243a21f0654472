"""The routing commands and responses, one dataclass each, with a strict codec.

They ride in ordinary relay transmissions (see :mod:`veil.relay.protocol.transmission`)
next to the queue commands, in their own tag range:

=======  =====  ======================  ==========================================
name     tag    direction               fields (after the tag)
=======  =====  ======================  ==========================================
``PRXY``  0x10  client -> proxy         versions(4) || bytes16 destination address
``PFWD``  0x11  client -> proxy         u16 version || ephemeral key(32) || sealed
``RFWD``  0x12  proxy -> destination    u16 version || forwarding key(32) ||
                                        seed(32) || wrapped
``PKEY``  0x90  proxy -> client         see :class:`ProxyKey`
``PRES``  0x91  proxy -> client         sealed response
``RRES``  0x92  destination -> proxy    wrapped response
=======  =====  ======================  ==========================================

Every ciphertext has one fixed size, so no field length is on the wire and a
forwarded ``SKEY`` looks exactly like a forwarded ``SEND``. Decoding rejects
unknown tags, short fields and trailing bytes with :class:`MalformedRoutingCommand`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, TypeVar

from veil.crypto.primitives import AEAD_TAG_SIZE, X25519_KEY_SIZE
from veil.relay.protocol.address import MAX_ADDRESS_LENGTH, RelayAddress
from veil.relay.protocol.errors import InvalidAddress
from veil.routing.errors import MalformedRoutingCommand
from veil.wire import Reader, VersionRange, WireError, Writer

__all__ = [
    "FORWARDED_COMMAND_SIZE",
    "FORWARDED_RESPONSE_SIZE",
    "FORWARD_SEED_SIZE",
    "PROXY_SESSION_ID_SIZE",
    "ROUTING_VERSIONS",
    "SEALED_COMMAND_SIZE",
    "SEALED_RESPONSE_SIZE",
    "WRAPPED_COMMAND_SIZE",
    "WRAPPED_RESPONSE_SIZE",
    "ProxyForward",
    "ProxyKey",
    "ProxyRequest",
    "ProxyResponse",
    "RelayForward",
    "RelayResponse",
    "RoutingCommand",
    "RoutingResponse",
    "RoutingTag",
    "decode_routing_command",
    "decode_routing_response",
    "encode_routing_command",
    "encode_routing_response",
]

ROUTING_VERSIONS = VersionRange(1, 1)
"""Routing protocol versions this implementation speaks."""

PROXY_SESSION_ID_SIZE = 24
"""The id a proxy gives its session to one destination; the entity id of ``PFWD``."""
FORWARD_SEED_SIZE = 32
_HELLO_SESSION_ID_SIZE = 32
_SIGNATURE_SIZE = 64

FORWARDED_COMMAND_SIZE = 16_192
"""Padded size of the destination transmission a client forwards (any command)."""
FORWARDED_RESPONSE_SIZE = 512
"""Padded size of the destination's response transmission."""
SEALED_COMMAND_SIZE = FORWARDED_COMMAND_SIZE + AEAD_TAG_SIZE
SEALED_RESPONSE_SIZE = FORWARDED_RESPONSE_SIZE + AEAD_TAG_SIZE
WRAPPED_COMMAND_SIZE = X25519_KEY_SIZE + SEALED_COMMAND_SIZE + AEAD_TAG_SIZE
"""The proxy's re-encryption of ``ephemeral key || sealed command``."""
WRAPPED_RESPONSE_SIZE = SEALED_RESPONSE_SIZE + AEAD_TAG_SIZE


class RoutingTag(IntEnum):
    """Tags of the routing commands (0x1_) and responses (0x9_)."""

    PRXY = 0x10
    PFWD = 0x11
    RFWD = 0x12
    PKEY = 0x90
    PRES = 0x91
    RRES = 0x92


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """``PRXY``: ask the proxy for (or to reuse) its session to ``destination``."""

    tag: ClassVar[RoutingTag] = RoutingTag.PRXY
    versions: VersionRange
    destination: RelayAddress

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        self.versions.encode(writer)
        writer.bytes16(str(self.destination).encode("ascii"))

    @classmethod
    def decode(cls, reader: Reader) -> ProxyRequest:
        """Read the fields; the address must be in its one canonical spelling."""
        versions = VersionRange.decode(reader)
        text = reader.bytes16(MAX_ADDRESS_LENGTH)
        try:
            destination = RelayAddress.parse(text.decode("ascii"))
        except (UnicodeDecodeError, InvalidAddress) as exc:
            raise MalformedRoutingCommand(f"bad destination address: {exc}") from exc
        if str(destination).encode("ascii") != text:
            raise MalformedRoutingCommand("destination address is not in canonical form")
        return cls(versions, destination)


@dataclass(frozen=True, slots=True)
class ProxyKey:
    """``PKEY``: the proxy's session to the destination and the proof of who that is.

    Layout: ``proxy_session_id(24) || u16 routing_version || u16 relay_version ||
    identity_key(32) || hello versions(4) || hello session_id(32) ||
    hello session_key(32) || hello signature(64)``. The last four fields are the
    destination's own signed hello, passed on unchanged so the client can check the
    signature itself.
    """

    tag: ClassVar[RoutingTag] = RoutingTag.PKEY
    proxy_session_id: bytes
    routing_version: int
    relay_version: int
    identity_key: bytes
    hello_versions: VersionRange
    session_id: bytes
    session_key: bytes
    signature: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.proxy_session_id).u16(self.routing_version).u16(self.relay_version)
        writer.raw(self.identity_key)
        self.hello_versions.encode(writer)
        writer.raw(self.session_id).raw(self.session_key).raw(self.signature)

    @classmethod
    def decode(cls, reader: Reader) -> ProxyKey:
        """Read the fields."""
        return cls(
            proxy_session_id=reader.raw(PROXY_SESSION_ID_SIZE),
            routing_version=reader.u16(),
            relay_version=reader.u16(),
            identity_key=reader.raw(X25519_KEY_SIZE),
            hello_versions=VersionRange.decode(reader),
            session_id=reader.raw(_HELLO_SESSION_ID_SIZE),
            session_key=reader.raw(X25519_KEY_SIZE),
            signature=reader.raw(_SIGNATURE_SIZE),
        )


@dataclass(frozen=True, slots=True)
class ProxyForward:
    """``PFWD``: one command sealed to the destination, for the proxy to pass on.

    The transmission's entity id is the ``proxy_session_id`` from ``PKEY``.
    """

    tag: ClassVar[RoutingTag] = RoutingTag.PFWD
    version: int
    ephemeral_key: bytes
    sealed: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u16(self.version).raw(self.ephemeral_key).raw(self.sealed)

    @classmethod
    def decode(cls, reader: Reader) -> ProxyForward:
        """Read the fields."""
        return cls(reader.u16(), reader.raw(X25519_KEY_SIZE), reader.raw(SEALED_COMMAND_SIZE))


@dataclass(frozen=True, slots=True)
class ProxyResponse:
    """``PRES``: the destination's response, still sealed to the client."""

    tag: ClassVar[RoutingTag] = RoutingTag.PRES
    sealed: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.sealed)

    @classmethod
    def decode(cls, reader: Reader) -> ProxyResponse:
        """Read the fields."""
        return cls(reader.raw(SEALED_RESPONSE_SIZE))


@dataclass(frozen=True, slots=True)
class RelayForward:
    """``RFWD``: the proxy's re-encryption of one ``PFWD`` for the destination."""

    tag: ClassVar[RoutingTag] = RoutingTag.RFWD
    version: int
    forwarding_key: bytes
    seed: bytes
    wrapped: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.u16(self.version).raw(self.forwarding_key).raw(self.seed).raw(self.wrapped)

    @classmethod
    def decode(cls, reader: Reader) -> RelayForward:
        """Read the fields."""
        return cls(
            reader.u16(),
            reader.raw(X25519_KEY_SIZE),
            reader.raw(FORWARD_SEED_SIZE),
            reader.raw(WRAPPED_COMMAND_SIZE),
        )


@dataclass(frozen=True, slots=True)
class RelayResponse:
    """``RRES``: the destination's sealed response, wrapped again for the proxy."""

    tag: ClassVar[RoutingTag] = RoutingTag.RRES
    wrapped: bytes

    def encode(self, writer: Writer) -> None:
        """Append the fields."""
        writer.raw(self.wrapped)

    @classmethod
    def decode(cls, reader: Reader) -> RelayResponse:
        """Read the fields."""
        return cls(reader.raw(WRAPPED_RESPONSE_SIZE))


RoutingCommand = ProxyRequest | ProxyForward | RelayForward
RoutingResponse = ProxyKey | ProxyResponse | RelayResponse

_Message = TypeVar("_Message", RoutingCommand, RoutingResponse)

_COMMANDS: dict[int, type[RoutingCommand]] = {
    cls.tag: cls for cls in (ProxyRequest, ProxyForward, RelayForward)
}
_RESPONSES: dict[int, type[RoutingResponse]] = {
    cls.tag: cls for cls in (ProxyKey, ProxyResponse, RelayResponse)
}


def encode_routing_command(command: RoutingCommand) -> bytes:
    """Encode a routing command as ``tag || fields``."""
    return _encode(command)


def encode_routing_response(response: RoutingResponse) -> bytes:
    """Encode a routing response as ``tag || fields``."""
    return _encode(response)


def _encode(message: RoutingCommand | RoutingResponse) -> bytes:
    writer = Writer().u8(message.tag)
    message.encode(writer)
    return writer.build()


def decode_routing_command(data: bytes) -> RoutingCommand:
    """Decode a routing command; :class:`MalformedRoutingCommand` if invalid."""
    return _decode(data, _COMMANDS, "command")


def decode_routing_response(data: bytes) -> RoutingResponse:
    """Decode a routing response; :class:`MalformedRoutingCommand` if invalid."""
    return _decode(data, _RESPONSES, "response")


def _decode(data: bytes, table: Mapping[int, type[_Message]], kind: str) -> _Message:
    reader = Reader(data)
    try:
        message_class = table.get(reader.u8())
        if message_class is None:
            raise MalformedRoutingCommand(f"unknown routing {kind} tag {data[0]:#04x}")
        message = message_class.decode(reader)
        reader.finish()
    except WireError as exc:
        raise MalformedRoutingCommand(f"malformed routing {kind}: {exc}") from exc
    return message
