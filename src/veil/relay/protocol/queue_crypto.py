"""Per-queue cryptography: deniable command authenticators and re-encryption.

Authenticators: a command on a queue is authorised by a MAC, not a signature.
The MAC key is ``HKDF(X25519(queue_auth_key, relay_session_key))``: the client
computes it with its queue auth private key and the relay's session public key,
the relay with its session private key and the queue's stored auth public key.
Either side could have made the MAC, so it proves nothing to a third party.

Re-encryption: at ``NEW`` the relay makes a fresh X25519 key for the queue; the
delivery key is ``HKDF(X25519(relay_queue_key, recipient_dh_key))``. Each message is
sealed with AES-256-GCM under it at ``SEND`` time, so what the sender sent and what
the recipient receives share no bytes, and the store only ever holds sealed bodies.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import (
    X25519KeyPair,
    aead_decrypt,
    aead_encrypt,
    constant_time_equal,
    hkdf_sha256,
    hmac_sha256,
)
from veil.relay.protocol.errors import UnexpectedResponse
from veil.relay.protocol.queue_commands import MESSAGE_ID_SIZE
from veil.wire import Reader, Writer

__all__ = [
    "AUTH_KEY_INFO",
    "DELIVERY_KEY_INFO",
    "SEALED_OVERHEAD",
    "OpenedMessage",
    "authenticate",
    "delivery_key",
    "derive_auth_key",
    "open_message",
    "seal_message",
    "verify_authenticator",
]

AUTH_KEY_INFO = b"veil relay command auth v1"
"""HKDF info for the per-session, per-queue authenticator key."""
DELIVERY_KEY_INFO = b"veil relay delivery v1"
"""HKDF info for the relay-to-recipient re-encryption key."""
_KEY_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_FRAME_HEADER_SIZE = 8 + 1
SEALED_OVERHEAD = _FRAME_HEADER_SIZE + _TAG_SIZE
"""Bytes a sealed message adds to the sender's body."""


def derive_auth_key(own: X25519KeyPair, peer_public: bytes) -> bytes:
    """Return the MAC key shared by a queue auth key and a relay session key.

    The client passes its queue auth key pair and the relay session public key;
    the relay passes its session key pair and the queue's auth public key.
    Raises :class:`veil.crypto.InvalidKey` for a malformed or low-order key.
    """
    secret = own.exchange(peer_public)
    return hkdf_sha256(secret, salt=b"", info=AUTH_KEY_INFO, length=_KEY_SIZE)


def authenticate(auth_key: bytes, session_id: bytes, authorized: bytes) -> bytes:
    """Return the 32-byte authenticator of a transmission's authorised part."""
    return hmac_sha256(auth_key, session_id + authorized)


def verify_authenticator(
    auth_key: bytes, session_id: bytes, authorized: bytes, authenticator: bytes
) -> bool:
    """Compare the expected authenticator with the received one in constant time."""
    return constant_time_equal(authenticate(auth_key, session_id, authorized), authenticator)


def delivery_key(own: X25519KeyPair, peer_public: bytes) -> bytes:
    """Return a queue's re-encryption key (same on the relay and the recipient)."""
    secret = own.exchange(peer_public)
    return hkdf_sha256(secret, salt=b"", info=DELIVERY_KEY_INFO, length=_KEY_SIZE)


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    """A message as the recipient reads it after re-decryption."""

    message_id: bytes
    timestamp: int
    flags: int
    body: bytes


def seal_message(key: bytes, message_id: bytes, timestamp: int, flags: int, body: bytes) -> bytes:
    """Seal ``u64 timestamp || u8 flags || body`` for the recipient.

    The nonce is the first 12 bytes of the random 24-byte message id, and the whole
    id is associated data, so a sealed body cannot be moved to another message id.
    """
    if len(message_id) != MESSAGE_ID_SIZE:
        raise ValueError("message id is 24 bytes")
    frame = Writer().u64(timestamp).u8(flags).raw(body).build()
    return aead_encrypt(key, message_id[:_NONCE_SIZE], frame, message_id)


def open_message(key: bytes, message_id: bytes, sealed: bytes) -> OpenedMessage:
    """Open a sealed message.

    Raises :class:`veil.crypto.AuthenticationFailed` if it is forged, and
    :class:`UnexpectedResponse` if it is authentic but its frame is shorter than
    ``u64 timestamp || u8 flags`` (only the relay holds the key, so it sealed it so).
    """
    frame = aead_decrypt(key, message_id[:_NONCE_SIZE], sealed, message_id)
    if len(frame) < _FRAME_HEADER_SIZE:
        raise UnexpectedResponse("sealed message frame is shorter than its header")
    reader = Reader(frame)
    timestamp, flags = reader.u64(), reader.u8()
    return OpenedMessage(message_id, timestamp, flags, reader.rest())
