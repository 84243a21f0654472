"""Agent frames: the fixed-size bodies an agent hands to a relay ``SEND``.

Every frame is padded to exactly :data:`FRAME_SIZE` bytes, so a relay (and anyone
watching it) sees the same length for a handshake, a one-letter message or a long
one. Inside the padding::

    u8  frame version (FRAME_VERSION)
    u8  kind          CONFIRMATION | RATCHET_MESSAGE | CONTACT_REQUEST
                      | REPAIR_OFFER | REPAIR_ACCEPT
    ... body          the rest of the padded content

A confirmation and a contact request are *sealed* to an X25519 key published in a
link: ``ephemeral public (32) || AES-256-GCM(key, zero nonce, payload, ad)`` with
``key = HKDF-SHA256(X25519(ephemeral, link key), salt = ephemeral || link key,
info = SEAL_KEY_INFO)``. The ephemeral key is fresh per seal, so the fixed nonce is
never reused under one key. When the link also offers an ML-KEM-768 key the seal is
hybrid (review finding F6): an encapsulation to it goes next to the ephemeral key,
and its secret and ciphertext into the key derivation, so a recording of the
frame stays secret unless both X25519 and ML-KEM-768 fall.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from veil.agent.errors import ConfirmationRejected, MalformedFrame
from veil.crypto import (
    AuthenticationFailed,
    InvalidKey,
    InvalidPadding,
    RandomSource,
    X25519KeyPair,
    aead_decrypt,
    aead_encrypt,
    hkdf_sha256,
    pad,
    unpad,
)
from veil.crypto.padding import padded_capacity
from veil.crypto.primitives import (
    AEAD_TAG_SIZE,
    MLKEM768_CIPHERTEXT_SIZE,
    MlKem768KeyPair,
    mlkem768_encapsulate,
)

__all__ = [
    "FRAME_SIZE",
    "FRAME_VERSION",
    "HYBRID_SEAL_KEY_INFO",
    "INNER_FRAME_SIZE",
    "MAX_FRAME_BODY",
    "QUEUE_SEAL_OVERHEAD",
    "SEAL_KEY_INFO",
    "Frame",
    "FrameKind",
    "decode_frame",
    "encode_frame",
    "fill",
    "open_sealed",
    "seal",
    "sealed_overhead",
    "unfill",
]

#: Every frame is padded to this many bytes; it fits one relay ``SEND`` with room
#: for the relay's own framing inside a 16 KiB block.
FRAME_SIZE = 15_360
FRAME_VERSION = 1
_HEADER_SIZE = 2
#: What the queue frame layer (:mod:`veil.agent.queue_frames`, agent version 3) adds
#: around a frame: a 12-byte random nonce and a 16-byte tag.
QUEUE_SEAL_OVERHEAD = 12 + AEAD_TAG_SIZE
#: The size of a frame inside the queue frame layer.
INNER_FRAME_SIZE = FRAME_SIZE - QUEUE_SEAL_OVERHEAD
#: The largest body, chosen so that a frame fits inside the queue frame layer too;
#: every frame body is filled to exactly this size whatever the agent version.
MAX_FRAME_BODY = padded_capacity(INNER_FRAME_SIZE) - _HEADER_SIZE

SEAL_KEY_INFO = b"veil/agent/v1/sealed-frame-key"
HYBRID_SEAL_KEY_INFO = b"veil/agent/v2/hybrid-sealed-frame-key"
_SEAL_AD_LABEL = b"veil/agent/v1/sealed-frame"
_HYBRID_SEAL_AD_LABEL = b"veil/agent/v2/hybrid-sealed-frame"
_EPHEMERAL_SIZE = 32
_ZERO_NONCE = bytes(12)


class FrameKind(IntEnum):
    """What a frame carries; the receiving connection's state decides if it fits."""

    CONFIRMATION = 1
    RATCHET_MESSAGE = 2
    CONTACT_REQUEST = 3
    REPAIR_OFFER = 4
    REPAIR_ACCEPT = 5


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its kind and its (still encrypted) body."""

    kind: FrameKind
    body: bytes


def encode_frame(kind: FrameKind, body: bytes, size: int = FRAME_SIZE) -> bytes:
    """Return the ``size``-byte padded frame; ``ValueError`` if too big."""
    if len(body) > MAX_FRAME_BODY:
        raise ValueError(f"frame body of {len(body)} bytes exceeds {MAX_FRAME_BODY}")
    return pad(bytes((FRAME_VERSION, kind)) + body, size)


def decode_frame(data: bytes, size: int = FRAME_SIZE) -> Frame:
    """Parse a ``size``-byte padded frame strictly; :class:`MalformedFrame` on any fault."""
    if len(data) != size:
        raise MalformedFrame(f"a frame is {size} bytes, got {len(data)}")
    try:
        content = unpad(data)
    except InvalidPadding as exc:
        raise MalformedFrame(str(exc)) from exc
    if len(content) < _HEADER_SIZE:
        raise MalformedFrame("frame is shorter than its header")
    if content[0] != FRAME_VERSION:
        raise MalformedFrame(f"unknown frame version {content[0]}")
    try:
        kind = FrameKind(content[1])
    except ValueError as exc:
        raise MalformedFrame(f"unknown frame kind {content[1]}") from exc
    return Frame(kind, content[_HEADER_SIZE:])


def fill(payload: bytes, overhead: int) -> bytes:
    """Pad ``payload`` so that, once encryption adds ``overhead`` bytes, the frame body
    is exactly :data:`MAX_FRAME_BODY`.

    Every frame then has the same content length, whatever it carries, and since the
    padding is inside the encryption a relay learns nothing from sizes.
    """
    return pad(payload, MAX_FRAME_BODY - overhead)


def unfill(padded: bytes) -> bytes:
    """Invert :func:`fill` after decryption; :class:`MalformedFrame` if malformed."""
    try:
        return unpad(padded)
    except InvalidPadding as exc:
        raise MalformedFrame(f"encrypted frame padding: {exc}") from exc


def _seal_key(
    shared: bytes, ephemeral_public: bytes, recipient_public: bytes, kem: tuple[bytes, bytes] | None
) -> bytes:
    if kem is None:
        salt = ephemeral_public + recipient_public
        return hkdf_sha256(shared, salt=salt, info=SEAL_KEY_INFO, length=32)
    kem_secret, kem_ciphertext = kem
    salt = ephemeral_public + recipient_public + kem_ciphertext
    return hkdf_sha256(shared + kem_secret, salt=salt, info=HYBRID_SEAL_KEY_INFO, length=32)


def _seal_ad(ephemeral_public: bytes, recipient_public: bytes, kem_ciphertext: bytes) -> bytes:
    label = _HYBRID_SEAL_AD_LABEL if kem_ciphertext else _SEAL_AD_LABEL
    return label + ephemeral_public + recipient_public + kem_ciphertext


def seal(
    recipient_public: bytes,
    payload: bytes,
    rng: RandomSource,
    *,
    kem_public: bytes | None = None,
    encapsulate: Callable[[bytes], tuple[bytes, bytes]] = mlkem768_encapsulate,
) -> bytes:
    """Encrypt ``payload`` to ``recipient_public`` with a fresh ephemeral key, and with
    ``kem_public`` also to that ML-KEM-768 key (hybrid: secret if either holds)."""
    ephemeral = X25519KeyPair.generate(rng)
    kem = None if kem_public is None else encapsulate(kem_public)
    kem_ciphertext = b"" if kem is None else kem[1]
    shared = ephemeral.exchange(recipient_public)
    key = _seal_key(shared, ephemeral.public, recipient_public, kem)
    associated = _seal_ad(ephemeral.public, recipient_public, kem_ciphertext)
    filled = fill(payload, sealed_overhead(hybrid=kem is not None))
    sealed = aead_encrypt(key, _ZERO_NONCE, filled, associated)
    return ephemeral.public + kem_ciphertext + sealed


def sealed_overhead(*, hybrid: bool) -> int:
    """Bytes :func:`seal` adds: the ephemeral key, the KEM ciphertext (hybrid), the tag."""
    return _EPHEMERAL_SIZE + (MLKEM768_CIPHERTEXT_SIZE if hybrid else 0) + AEAD_TAG_SIZE


def open_sealed(
    recipient: X25519KeyPair, sealed: bytes, kem: MlKem768KeyPair | None = None
) -> bytes:
    """Decrypt :func:`seal` output; :class:`ConfirmationRejected` if it fails.

    With ``kem`` the hybrid form is tried first, then the X25519-only form that
    senders from before it use."""
    if len(sealed) < _EPHEMERAL_SIZE:
        raise MalformedFrame("sealed payload is shorter than its ephemeral key")
    if kem is not None:
        with contextlib.suppress(ConfirmationRejected):
            return _open(recipient, sealed, kem)
    return _open(recipient, sealed, None)


def _open(recipient: X25519KeyPair, sealed: bytes, kem: MlKem768KeyPair | None) -> bytes:
    ephemeral_public, rest = sealed[:_EPHEMERAL_SIZE], sealed[_EPHEMERAL_SIZE:]
    try:
        shared = recipient.exchange(ephemeral_public)
        kem_ciphertext, secret = b"", None
        if kem is not None:
            kem_ciphertext, rest = rest[:MLKEM768_CIPHERTEXT_SIZE], rest[MLKEM768_CIPHERTEXT_SIZE:]
            secret = (kem.decapsulate(kem_ciphertext), kem_ciphertext)
        key = _seal_key(shared, ephemeral_public, recipient.public, secret)
        associated = _seal_ad(ephemeral_public, recipient.public, kem_ciphertext)
        filled = aead_decrypt(key, _ZERO_NONCE, rest, associated)
    except (AuthenticationFailed, InvalidKey) as exc:
        raise ConfirmationRejected("sealed payload did not authenticate") from exc
    return unfill(filled)
