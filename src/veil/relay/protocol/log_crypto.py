"""Group-log cryptography: entries sealed at rest, and re-sealed for each reader.

At rest: a log has a random 32-byte storage key, made at ``LNEW``; each entry's
frame ``u64 timestamp || body`` is sealed with AES-256-GCM under it, with a random
nonce and the log id and sequence number as associated data, so what a writer
sent and what the store holds share no bytes.

On delivery: like a queue's delivery key, a reader's key is
``HKDF(X25519(relay_reader_key, reader_dh_key), LOG_DELIVERY_KEY_INFO)``. Every
delivery seals the frame under it with a fresh random nonce (sent along) and the
reader id and sequence number as associated data, so no two readers' downloads,
and no two deliveries to one reader, share bytes. Random nonces, not counters: a
rollback or a restart can never make the relay reuse one.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import (
    RandomSource,
    X25519KeyPair,
    aead_decrypt,
    aead_encrypt,
    hkdf_sha256,
)
from veil.relay.protocol.errors import UnexpectedResponse
from veil.relay.protocol.log_commands import LOG_NONCE_SIZE
from veil.wire import Writer

__all__ = [
    "LOG_DELIVERY_KEY_INFO",
    "OpenedEntry",
    "entry_frame",
    "open_at_rest",
    "open_entry",
    "reader_delivery_key",
    "seal_at_rest",
    "seal_for_reader",
]

LOG_DELIVERY_KEY_INFO = b"veil relay log delivery v1"
"""HKDF info for the relay-to-reader re-encryption key (distinct from queues')."""
_KEY_SIZE = 32
_TIMESTAMP_SIZE = 8


def reader_delivery_key(own: X25519KeyPair, peer_public: bytes) -> bytes:
    """A reader's re-encryption key (the relay and the reader derive the same).

    Raises :class:`veil.crypto.InvalidKey` for a malformed or low-order key.
    """
    secret = own.exchange(peer_public)
    return hkdf_sha256(secret, salt=b"", info=LOG_DELIVERY_KEY_INFO, length=_KEY_SIZE)


def entry_frame(timestamp: int, body: bytes) -> bytes:
    """The plaintext the relay seals: ``u64 timestamp || body``."""
    return Writer().u64(timestamp).raw(body).build()


def _associated(entity_id: bytes, seq: int) -> bytes:
    return entity_id + seq.to_bytes(8, "big")


def seal_at_rest(key: bytes, log_id: bytes, seq: int, frame: bytes, rng: RandomSource) -> bytes:
    """``nonce || AES-256-GCM(key, nonce, frame, aad = log_id || u64 seq)``."""
    nonce = rng.random_bytes(LOG_NONCE_SIZE)
    return nonce + aead_encrypt(key, nonce, frame, _associated(log_id, seq))


def open_at_rest(key: bytes, log_id: bytes, seq: int, stored: bytes) -> bytes:
    """The frame of a stored entry; :class:`veil.crypto.AuthenticationFailed` if altered."""
    nonce, sealed = stored[:LOG_NONCE_SIZE], stored[LOG_NONCE_SIZE:]
    return aead_decrypt(key, nonce, sealed, _associated(log_id, seq))


def seal_for_reader(
    key: bytes, reader_id: bytes, seq: int, frame: bytes, rng: RandomSource
) -> tuple[bytes, bytes]:
    """Seal ``frame`` for one delivery to ``reader_id``; return ``(nonce, sealed)``."""
    nonce = rng.random_bytes(LOG_NONCE_SIZE)
    return nonce, aead_encrypt(key, nonce, frame, _associated(reader_id, seq))


@dataclass(frozen=True, slots=True)
class OpenedEntry:
    """An entry as its reader reads it: its place, the relay's coarse arrival time, the body."""

    seq: int
    timestamp: int
    body: bytes


def open_entry(key: bytes, reader_id: bytes, seq: int, nonce: bytes, sealed: bytes) -> OpenedEntry:
    """Open one delivery.

    Raises :class:`veil.crypto.AuthenticationFailed` if it is forged or meant for
    another reader or place, :class:`UnexpectedResponse` if its frame is too short.
    """
    frame = aead_decrypt(key, nonce, sealed, _associated(reader_id, seq))
    if len(frame) < _TIMESTAMP_SIZE:
        raise UnexpectedResponse("delivered entry frame is shorter than its timestamp")
    return OpenedEntry(seq, int.from_bytes(frame[:_TIMESTAMP_SIZE], "big"), frame[_TIMESTAMP_SIZE:])
