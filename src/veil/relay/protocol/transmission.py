"""Transmissions: one authorised command or response inside a block.

Layout::

    bytes8  authenticator    0 or 32 bytes (HMAC-SHA256, see queue_crypto)
    raw     correlation id   24 bytes; all zero on relay pushes (MSG, END)
    bytes8  entity id        0 or 24 bytes (a recipient or sender queue id)
    rest    command or response (u8 tag || fields, see commands)

The authenticator covers ``session_id || everything after the authenticator``,
so the relay verifies it without re-encoding anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.relay.protocol.errors import MalformedTransmission

__all__ = [
    "AUTHENTICATOR_SIZE",
    "CORRELATION_ID_SIZE",
    "ENTITY_ID_SIZE",
    "PUSH_CORRELATION_ID",
    "Transmission",
    "attach_authenticator",
    "authorized_part",
    "decode_client_transmission",
    "decode_transmission",
    "encode_reply",
    "encode_transmission",
]

AUTHENTICATOR_SIZE = 32
CORRELATION_ID_SIZE = 24
ENTITY_ID_SIZE = 24
PUSH_CORRELATION_ID = bytes(CORRELATION_ID_SIZE)
"""Correlation id of relay-initiated transmissions; clients never choose it."""
_AUTHENTICATOR_SIZES = (0, AUTHENTICATOR_SIZE)
_ENTITY_ID_SIZES = (0, ENTITY_ID_SIZE)
_ENTITY_PREFIXES = {size: bytes((size,)) for size in _ENTITY_ID_SIZES}


@dataclass(frozen=True, slots=True)
class Transmission:
    """A decoded transmission; ``body`` still holds the encoded command or response.

    ``authorized`` is the exact byte string the authenticator covers (after the
    session id), kept so verification needs no re-encoding.
    """

    authenticator: bytes
    correlation_id: bytes
    entity_id: bytes
    body: bytes
    authorized: bytes


def authorized_part(correlation_id: bytes, entity_id: bytes, body: bytes) -> bytes:
    """Return the bytes an authenticator covers (the transmission minus its first field)."""
    _check_sizes(correlation_id, entity_id)
    return correlation_id + bytes((len(entity_id),)) + entity_id + body


def attach_authenticator(authenticator: bytes, authorized: bytes) -> bytes:
    """Prefix the authorised part with its (possibly empty) authenticator."""
    if len(authenticator) not in _AUTHENTICATOR_SIZES:
        raise ValueError("authenticator is 0 or 32 bytes")
    return bytes((len(authenticator),)) + authenticator + authorized


def encode_transmission(
    authenticator: bytes, correlation_id: bytes, entity_id: bytes, body: bytes
) -> bytes:
    """Encode a whole transmission; ``ValueError`` on a field of the wrong size."""
    return attach_authenticator(authenticator, authorized_part(correlation_id, entity_id, body))


def decode_client_transmission(data: bytes) -> Transmission:
    """Decode a transmission a client sent; it may not use the push correlation id.

    Otherwise its answer would look like a push to the client.
    """
    transmission = decode_transmission(data)
    if transmission.correlation_id == PUSH_CORRELATION_ID:
        raise MalformedTransmission("the all-zero correlation id is reserved for pushes")
    return transmission


def encode_reply(correlation_id: bytes, entity_id: bytes, body: bytes) -> bytes:
    """Encode a relay-to-client transmission (no authenticator).

    The relay's hot path: ids come from transmissions it decoded (or generated), so
    their sizes were checked already.
    """
    return b"\x00" + correlation_id + _ENTITY_PREFIXES[len(entity_id)] + entity_id + body


def _check_sizes(correlation_id: bytes, entity_id: bytes) -> None:
    if len(correlation_id) != CORRELATION_ID_SIZE:
        raise ValueError("correlation id is 24 bytes")
    if len(entity_id) not in _ENTITY_ID_SIZES:
        raise ValueError("entity id is 0 or 24 bytes")


def decode_transmission(data: bytes) -> Transmission:
    """Decode a transmission header; :class:`MalformedTransmission` if it is malformed.

    Runs for every transmission a relay receives, so it slices directly; each field
    must have exactly one of its allowed sizes.
    """
    if not data:
        raise MalformedTransmission("empty transmission")
    covered_start = 1 + data[0]
    entity_start = covered_start + CORRELATION_ID_SIZE + 1
    if data[0] not in _AUTHENTICATOR_SIZES or len(data) < entity_start:
        raise MalformedTransmission("authenticator or correlation id malformed")
    entity_size = data[entity_start - 1]
    body_start = entity_start + entity_size
    if entity_size not in _ENTITY_ID_SIZES or len(data) <= body_start:
        raise MalformedTransmission("entity id malformed or no command")
    return Transmission(
        authenticator=data[1:covered_start],
        correlation_id=data[covered_start : entity_start - 1],
        entity_id=data[entity_start:body_start],
        body=data[body_start:],
        authorized=data[covered_start:],
    )
