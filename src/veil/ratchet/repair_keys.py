"""Repair-authentication keys exported from the ratchet's root chain.

A key that authenticates repair frames must heal like the ratchet does: whoever
once copied a connection's state must lose the power to forge repairs once the
ratchet has moved on. So every root key the ratchet reaches (the agreement's
shared secret, then every DH ratchet step, on both sides in the same order)
exports one repair key::

    okm = HKDF-SHA256(salt = 0^32, ikm = root key, info = REPAIR_KEY_INFO, L = 40)
    key = okm[0:32]        key id = okm[32:40]

Each side keeps the last :data:`REPAIR_KEY_WINDOW` keys. A sender authenticates
with the newest key it knows its peer also derived (one from a root key the peer
computed: the agreement's, or a step triggered by the peer's ratchet key) and
names it by id; the receiver accepts any key still in its window. Once both
sides have made more DH steps than the window holds since a key was derived,
that key is useless, to its thief too.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto.primitives import hkdf_sha256
from veil.ratchet.kdf import KEY_SIZE
from veil.wire import DecodeError, Reader, Writer

__all__ = [
    "REPAIR_KEY_ID_SIZE",
    "REPAIR_KEY_INFO",
    "REPAIR_KEY_WINDOW",
    "RepairKey",
    "RepairKeyWindow",
    "decode_window",
    "encode_window",
    "find",
    "newest_shared",
    "push",
]

REPAIR_KEY_INFO = b"Veil ratchet repair key"
REPAIR_KEY_ID_SIZE = 8
REPAIR_KEY_WINDOW = 16
"""Repair keys each side keeps: the last 16 root keys, about 8 round trips with
DH turns in both directions."""


@dataclass(frozen=True, slots=True)
class RepairKey:
    """One exported key; ``shared`` is true when the peer is known to hold it."""

    key_id: bytes
    key: bytes
    shared: bool

    @classmethod
    def export(cls, root_key: bytes, *, shared: bool) -> RepairKey:
        """Derive the repair key of ``root_key``."""
        okm = hkdf_sha256(
            root_key,
            salt=bytes(KEY_SIZE),
            info=REPAIR_KEY_INFO,
            length=KEY_SIZE + REPAIR_KEY_ID_SIZE,
        )
        return cls(okm[KEY_SIZE:], okm[:KEY_SIZE], shared)


RepairKeyWindow = tuple[RepairKey, ...]
"""The newest :data:`REPAIR_KEY_WINDOW` keys, oldest first (immutable, so a state
clone shares it safely)."""


def push(window: RepairKeyWindow, root_key: bytes, *, shared: bool) -> RepairKeyWindow:
    """Append the key of a new root key, dropping the oldest beyond the window."""
    return (*window, RepairKey.export(root_key, shared=shared))[-REPAIR_KEY_WINDOW:]


def newest_shared(window: RepairKeyWindow) -> RepairKey | None:
    """The key to authenticate with now, or ``None`` if none is known to be shared."""
    return next((entry for entry in reversed(window) if entry.shared), None)


def find(window: RepairKeyWindow, key_id: bytes) -> bytes | None:
    """The key named ``key_id`` if it is still in the window."""
    return next((entry.key for entry in window if entry.key_id == key_id), None)


def encode_window(writer: Writer, window: RepairKeyWindow) -> None:
    """Append ``u8 count`` then ``key id (8) || key (32) || u8 shared`` per key."""
    writer.u8(len(window))
    for entry in window:
        writer.raw(entry.key_id).raw(entry.key).u8(int(entry.shared))


def decode_window(reader: Reader) -> RepairKeyWindow:
    """Read what :func:`encode_window` wrote; ``DecodeError`` if it breaks a bound."""
    count = reader.u8()
    if count > REPAIR_KEY_WINDOW:
        raise DecodeError(f"{count} repair keys, at most {REPAIR_KEY_WINDOW} are kept")
    window = []
    for _ in range(count):
        key_id, key, shared = reader.raw(REPAIR_KEY_ID_SIZE), reader.raw(KEY_SIZE), reader.u8()
        if shared > 1:
            raise DecodeError(f"repair key shared flag must be 0 or 1, got {shared}")
        window.append(RepairKey(key_id, key, bool(shared)))
    return tuple(window)
