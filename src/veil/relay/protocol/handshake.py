"""The relay handshake: the hellos exchanged right after TLS.

The relay speaks first with a :class:`ServerHello` (its version range, a random
session id, a fresh X25519 session key, and an Ed25519 signature by its identity
over all three). The client checks the signature against the identity it pinned,
then answers with a :class:`ClientHello` carrying its own version range. Both use
the highest version in both ranges. Every command authenticator covers the session
id and is keyed through the session key, so a command cannot be replayed on another
connection. Each hello travels alone in one block.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import AuthenticationFailed, Ed25519KeyPair, ed25519_verify
from veil.relay.protocol.errors import HandshakeFailed
from veil.wire import Reader, VersionRange, WireError, Writer
from veil.wire.blocks import decode_block, encode_block

__all__ = [
    "HELLO_SIGNATURE_LABEL",
    "RELAY_VERSIONS",
    "SESSION_ID_SIZE",
    "ClientHello",
    "ServerHello",
    "decode_client_hello",
    "decode_server_hello",
    "sign_server_hello",
]

RELAY_VERSIONS = VersionRange(1, 4)
"""Relay protocol versions this implementation speaks."""

SESSION_ID_SIZE = 32
_SESSION_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
HELLO_SIGNATURE_LABEL = b"veil relay hello v1"
"""Domain separation for the identity's signature over a server hello."""


@dataclass(frozen=True, slots=True)
class ServerHello:
    """The relay's first block: ``versions || session_id(32) || session_key(32) || sig(64)``."""

    versions: VersionRange
    session_id: bytes
    session_key: bytes
    signature: bytes

    def signed_bytes(self) -> bytes:
        """What the identity signs: the label, then every field but the signature."""
        return _signed_bytes(self.versions, self.session_id, self.session_key)

    def verify(self, identity_public: bytes) -> None:
        """Check the signature against the pinned identity; :class:`HandshakeFailed` if bad."""
        try:
            ed25519_verify(identity_public, self.signature, self.signed_bytes())
        except AuthenticationFailed as exc:
            raise HandshakeFailed("relay hello is not signed by the pinned identity") from exc

    def encode(self) -> bytes:
        """Return the hello as a complete block."""
        writer = Writer()
        self.versions.encode(writer)
        writer.raw(self.session_id).raw(self.session_key).raw(self.signature)
        return encode_block([writer.build()])


def _signed_bytes(versions: VersionRange, session_id: bytes, session_key: bytes) -> bytes:
    writer = Writer().raw(HELLO_SIGNATURE_LABEL)
    versions.encode(writer)
    return writer.raw(session_id).raw(session_key).build()


def sign_server_hello(
    identity: Ed25519KeyPair, versions: VersionRange, session_id: bytes, session_key: bytes
) -> ServerHello:
    """Build the relay's hello, signed by its identity key."""
    if len(session_id) != SESSION_ID_SIZE or len(session_key) != _SESSION_KEY_SIZE:
        raise ValueError("session id and session key are 32 bytes each")
    signature = identity.sign(_signed_bytes(versions, session_id, session_key))
    return ServerHello(versions, session_id, session_key, signature)


def decode_server_hello(block: bytes) -> ServerHello:
    """Parse the relay's hello block (signature not yet checked).

    Raises :class:`HandshakeFailed` if the block is not exactly one well-formed hello.
    """
    try:
        reader = _single_transmission(block)
        versions = VersionRange.decode(reader)
        session_id = reader.raw(SESSION_ID_SIZE)
        session_key = reader.raw(_SESSION_KEY_SIZE)
        signature = reader.raw(_SIGNATURE_SIZE)
        reader.finish()
    except WireError as exc:
        raise HandshakeFailed(f"malformed relay hello: {exc}") from exc
    return ServerHello(versions, session_id, session_key, signature)


@dataclass(frozen=True, slots=True)
class ClientHello:
    """The client's answer: just its version range (``u16 min || u16 max``)."""

    versions: VersionRange

    def encode(self) -> bytes:
        """Return the hello as a complete block."""
        writer = Writer()
        self.versions.encode(writer)
        return encode_block([writer.build()])


def decode_client_hello(block: bytes) -> ClientHello:
    """Parse the client's hello block; :class:`HandshakeFailed` if malformed."""
    try:
        reader = _single_transmission(block)
        versions = VersionRange.decode(reader)
        reader.finish()
    except WireError as exc:
        raise HandshakeFailed(f"malformed client hello: {exc}") from exc
    return ClientHello(versions)


def _single_transmission(block: bytes) -> Reader:
    transmissions = decode_block(block)
    if len(transmissions) != 1:
        raise HandshakeFailed("a hello block carries exactly one transmission")
    return Reader(transmissions[0])
