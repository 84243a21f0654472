"""The queue frame layer (agent version 3): every frame sealed to the queue it goes to.

A plain frame starts with its version and kind bytes, and a ratchet message body has
a fixed, readable header after them, so the relay hosting a queue could tell a
handshake or a repair from a message. From agent version 3 the whole frame is
encrypted before it leaves the agent::

    queue frame = nonce (12, random) || AES-256-GCM(queue key, nonce,
                                                   inner frame, QUEUE_FRAME_AD)

The inner frame is an ordinary frame (:mod:`veil.agent.frames`) padded to
:data:`~veil.agent.frames.INNER_FRAME_SIZE`, so the result is exactly
:data:`~veil.agent.frames.FRAME_SIZE` bytes, and every byte a relay can read is a
random nonce or ciphertext: a confirmation, a hello, a chat message and a repair
frame look alike. Keys::

    frame secret = HKDF-SHA256(link key || ratchet invitation, salt = "",
                               info = FRAME_SECRET_INFO)            (32 bytes)
    queue key    = HKDF-SHA256(frame secret, salt = the queue's sender id,
                               info = QUEUE_KEY_INFO)               (32 bytes)

Both sides know the invitation (the inviter made it, the joiner read it from the
link), which the relay never sees; each queue of the connection has its own key.
The nonce is random (NIST SP 800-38D, section 8.2.2), never derived from state, so
restoring an old backup cannot repeat one; a queue carries far fewer than the 2^32
frames that bound allows.
"""

from __future__ import annotations

from veil.agent.errors import FrameNotOpened, MalformedFrame
from veil.agent.frames import (
    FRAME_SIZE,
    INNER_FRAME_SIZE,
    Frame,
    FrameKind,
    decode_frame,
    encode_frame,
)
from veil.crypto import AuthenticationFailed, RandomSource, aead_decrypt, aead_encrypt, hkdf_sha256

__all__ = [
    "FRAME_SECRET_INFO",
    "QUEUE_FRAMES_FROM",
    "QUEUE_FRAME_AD",
    "QUEUE_KEY_INFO",
    "frame_secret",
    "open_queue_frame",
    "queue_key",
    "seal_queue_frame",
]

#: The first agent version whose frames are sealed to their queue.
QUEUE_FRAMES_FROM = 3
FRAME_SECRET_INFO = b"veil/agent/v3/frame-secret"
QUEUE_KEY_INFO = b"veil/agent/v3/queue-frame-key"
QUEUE_FRAME_AD = b"veil/agent/v3/queue-frame"
_NONCE_SIZE = 12
_KEY_SIZE = 32


def frame_secret(link_key: bytes, ratchet_invitation: bytes) -> bytes:
    """The connection's frame secret, from the public halves of its invitation."""
    return hkdf_sha256(
        link_key + ratchet_invitation, salt=b"", info=FRAME_SECRET_INFO, length=_KEY_SIZE
    )


def queue_key(secret: bytes, sender_id: bytes) -> bytes:
    """The key of the queue whose sender id is ``sender_id``."""
    return hkdf_sha256(secret, salt=sender_id, info=QUEUE_KEY_INFO, length=_KEY_SIZE)


def seal_queue_frame(key: bytes, kind: FrameKind, body: bytes, rng: RandomSource) -> bytes:
    """A :data:`FRAME_SIZE`-byte frame of ``kind`` sealed under the queue ``key``."""
    nonce = rng.random_bytes(_NONCE_SIZE)
    inner = encode_frame(kind, body, INNER_FRAME_SIZE)
    return nonce + aead_encrypt(key, nonce, inner, QUEUE_FRAME_AD)


def open_queue_frame(key: bytes, data: bytes) -> Frame:
    """Open :func:`seal_queue_frame` output; :class:`FrameNotOpened` if it does not
    authenticate, :class:`MalformedFrame` if the frame inside is malformed."""
    if len(data) != FRAME_SIZE:
        raise MalformedFrame(f"a frame is {FRAME_SIZE} bytes, got {len(data)}")
    nonce, sealed = data[:_NONCE_SIZE], data[_NONCE_SIZE:]
    try:
        inner = aead_decrypt(key, nonce, sealed, QUEUE_FRAME_AD)
    except AuthenticationFailed as exc:
        raise FrameNotOpened("the frame did not authenticate under its queue key") from exc
    return decode_frame(inner, INNER_FRAME_SIZE)
