"""Ratchet protocol versions and how a connection moves from one to the next.

Version 1 is the original ratchet. Version 2 makes body encryption safe under a
state rollback (a random salt per message), binds the KEM ciphertext and public
keys into the root KDF, and needs header encryption with AES-256-GCM.

A connection upgrades in place. Every header a v2-capable side sends sets the most
significant bit of its X25519 ratchet public key: RFC 7748 section 5 makes every
X25519 implementation ignore that bit ("to preserve compatibility with point
formats that reserve the sign bit for use in other protocols"), so a v1-only peer
computes the same shared secret and never notices, while a v2 peer learns that its
peer speaks v2. The header is encrypted and authenticated, so nobody else can
read, strip or forge the bit. Each side then runs its next sending chain (its next
DH turn) at the highest version both speak; versions of a side's sending chains
never go down.
"""

from __future__ import annotations

__all__ = [
    "CAPABILITY_BIT",
    "CAPABLE_VERSION",
    "MAX_RATCHET_VERSION",
    "RATCHET_V1",
    "RATCHET_V2",
    "mark_capable",
    "next_sending_version",
    "split_capability",
]

RATCHET_V1 = 1
RATCHET_V2 = 2
MAX_RATCHET_VERSION = RATCHET_V2
"""Highest ratchet version this implementation speaks."""
CAPABLE_VERSION = RATCHET_V2
"""The version the capability bit in a header's ratchet key announces."""
CAPABILITY_BIT = 0x80
"""The bit, in the last byte of a little-endian X25519 u-coordinate."""


def mark_capable(public_key: bytes) -> bytes:
    """Set the capability bit of an X25519 public key (X25519 ignores that bit)."""
    return public_key[:-1] + bytes([public_key[-1] | CAPABILITY_BIT])


def split_capability(public_key: bytes) -> tuple[bytes, bool]:
    """Return the canonical key (bit cleared) and whether the bit was set."""
    last = public_key[-1]
    return public_key[:-1] + bytes([last & ~CAPABILITY_BIT]), bool(last & CAPABILITY_BIT)


def next_sending_version(current: int, max_version: int, peer_max_version: int) -> int:
    """The version of a new sending chain: the highest both sides speak, never lower
    than the version this side already sends."""
    return max(current, min(max_version, peer_max_version))
