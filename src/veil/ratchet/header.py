"""Ratchet headers and the message envelope that carries them.

Header (plaintext form, fixed size for a given PQ setting)::

    ratchet_key          32   sender's current X25519 ratchet public key
    previous_length      u32  messages in the sender's previous sending chain (PN)
    message_number       u32  index of this message in the current chain (N)
    kem_public         1184   (PQ only) sender's current ML-KEM-768 public key
    kem_ciphertext     1088   (PQ only) encapsulation to the receiver's last KEM key

Envelope::

    version   u8     the ratchet version the connection agreed
    header    u16-prefixed: the header, sealed with the sending header key when
              header encryption is on (``nonce || AES-GCM``), else in the clear
    body      the rest: the message cipher's output
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from veil.crypto.primitives import (
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    X25519_KEY_SIZE,
)
from veil.ratchet.ciphers import HEADER_SEAL_OVERHEAD
from veil.ratchet.errors import MalformedMessage
from veil.ratchet.versions import CAPABILITY_BIT, CAPABLE_VERSION, split_capability

__all__ = [
    "MAX_MESSAGE_SIZE",
    "Envelope",
    "Header",
    "body_associated_data",
    "decode_received_header",
    "header_size",
    "sealed_header_size",
]

_COUNTERS = struct.Struct(">II")
_ENVELOPE_FIXED = struct.Struct(">BH")
_AD_LENGTH = struct.Struct(">I")
MAX_MESSAGE_SIZE = 1 << 20
"""Largest envelope the ratchet parses: far above any 16 KiB block payload."""


def header_size(pq: bool) -> int:
    """Size of an encoded plaintext header."""
    size = X25519_KEY_SIZE + _COUNTERS.size
    return size + MLKEM768_PUBLIC_KEY_SIZE + MLKEM768_CIPHERTEXT_SIZE if pq else size


def sealed_header_size(pq: bool, header_encryption: bool) -> int:
    """Size of the header field of an envelope."""
    return header_size(pq) + (HEADER_SEAL_OVERHEAD if header_encryption else 0)


@dataclass(frozen=True, slots=True)
class Header:
    """What the receiver needs to find the message key (Signal's HEADER, plus PQ)."""

    ratchet_key: bytes
    previous_length: int
    message_number: int
    kem_public: bytes | None = None
    kem_ciphertext: bytes | None = None

    def encode(self) -> bytes:
        """Encode to the fixed-size layout in this module's docstring."""
        counters = _COUNTERS.pack(self.previous_length, self.message_number)
        if self.kem_public is None or self.kem_ciphertext is None:
            return self.ratchet_key + counters
        return self.ratchet_key + counters + self.kem_public + self.kem_ciphertext

    @classmethod
    def decode(cls, data: bytes, *, pq: bool) -> Header:
        """Decode a header; :class:`MalformedMessage` unless it is exactly one header."""
        if len(data) != header_size(pq):
            raise MalformedMessage(
                f"ratchet header of {len(data)} bytes, expected {header_size(pq)}"
            )
        previous_length, message_number = _COUNTERS.unpack_from(data, X25519_KEY_SIZE)
        if not pq:
            return cls(data[:X25519_KEY_SIZE], previous_length, message_number)
        kem_start = X25519_KEY_SIZE + _COUNTERS.size
        ciphertext_start = kem_start + MLKEM768_PUBLIC_KEY_SIZE
        return cls(
            data[:X25519_KEY_SIZE],
            previous_length,
            message_number,
            data[kem_start:ciphertext_start],
            data[ciphertext_start:],
        )


def decode_received_header(data: bytes, pq: bool, message_version: int) -> tuple[Header, int]:
    """Decode a header a peer sent; return it with its canonical ratchet key (the
    capability bit cleared) and the highest ratchet version its sender has shown it
    speaks (the message's version, or :data:`CAPABLE_VERSION` if the bit is set)."""
    key_end = X25519_KEY_SIZE
    if len(data) < key_end or not data[key_end - 1] & CAPABILITY_BIT:
        return Header.decode(data, pq=pq), message_version
    canonical_key, _ = split_capability(data[:key_end])
    header = Header.decode(canonical_key + data[key_end:], pq=pq)
    return header, max(message_version, CAPABLE_VERSION)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A ratchet message split into its fields; ``prefix`` is every byte before the body."""

    version: int
    header: bytes
    body: bytes
    prefix: bytes

    @classmethod
    def build(cls, version: int, header: bytes, body: bytes) -> bytes:
        """Encode an envelope."""
        return _ENVELOPE_FIXED.pack(version, len(header)) + header + body

    @classmethod
    def parse(cls, message: bytes, *, expected_header_size: int) -> Envelope:
        """Split ``message``; :class:`MalformedMessage` if too big or the header is
        not exactly ``expected_header_size`` bytes."""
        if not _ENVELOPE_FIXED.size <= len(message) <= MAX_MESSAGE_SIZE:
            raise MalformedMessage(f"ratchet message of {len(message)} bytes is out of bounds")
        version, length = _ENVELOPE_FIXED.unpack_from(message)
        body_start = _ENVELOPE_FIXED.size + length
        if length != expected_header_size or body_start > len(message):
            raise MalformedMessage(
                f"header field of {length} bytes, expected {expected_header_size}"
            )
        header = message[_ENVELOPE_FIXED.size : body_start]
        return cls(version, header, message[body_start:], message[:body_start])


def body_associated_data(associated_data: bytes, prefix: bytes) -> bytes:
    """The body cipher's associated data: ``u32 len(ad) || ad || envelope prefix``.

    The length prefix keeps the split between caller data and envelope unambiguous;
    the prefix binds the (sealed) header and version to the body.
    """
    return _AD_LENGTH.pack(len(associated_data)) + associated_data + prefix
