"""Ratchet configurations: one core, parametrised by a small strategy object.

``RatchetConfig.veil(pq=...)`` is what Veil connections use: header encryption,
AES-256-GCM, and optionally the ML-KEM-768 hybrid. ``RatchetConfig.signal_plain()``
is the textbook Double Ratchet with Signal's recommended primitives (no header
encryption, no PQ); it exists so the core can be checked against an independent
implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.ratchet.ciphers import AesGcmCipher, MessageCipher, SignalCbcHmacCipher
from veil.ratchet.errors import CorruptRatchetState
from veil.ratchet.header import sealed_header_size
from veil.ratchet.skipped import SkipLimits

__all__ = ["RatchetConfig", "max_plaintext_overhead"]

_ENVELOPE_FIXED = 3  # u8 version + u16 header length
_CIPHERS: dict[int, MessageCipher] = {
    AesGcmCipher.cipher_id: AesGcmCipher(),
    SignalCbcHmacCipher.cipher_id: SignalCbcHmacCipher(),
}


@dataclass(frozen=True, slots=True)
class RatchetConfig:
    """Which variant of the Double Ratchet a connection runs, and its limits."""

    header_encryption: bool
    pq: bool
    cipher: MessageCipher
    limits: SkipLimits = field(default_factory=SkipLimits)

    @classmethod
    def veil(cls, *, pq: bool, limits: SkipLimits | None = None) -> RatchetConfig:
        """Veil's ratchet: header encryption and AES-256-GCM, PQ hybrid if ``pq``."""
        return cls(True, pq, _CIPHERS[AesGcmCipher.cipher_id], limits or SkipLimits())

    @classmethod
    def signal_plain(cls, *, limits: SkipLimits | None = None) -> RatchetConfig:
        """Signal's plain Double Ratchet with its recommended primitives."""
        return cls(False, False, _CIPHERS[SignalCbcHmacCipher.cipher_id], limits or SkipLimits())

    @classmethod
    def restore(
        cls, header_encryption: bool, pq: bool, cipher_id: int, limits: SkipLimits
    ) -> RatchetConfig:
        """Rebuild a configuration from the fields persisted state records."""
        cipher = _CIPHERS.get(cipher_id)
        if cipher is None:
            raise CorruptRatchetState(f"unknown message cipher {cipher_id}")
        return cls(header_encryption, pq, cipher, limits)

    @property
    def supports_v2(self) -> bool:
        """Ratchet v2 salts the body with the sealed header's nonce, so it needs
        header encryption and the AES-256-GCM cipher."""
        return self.header_encryption and self.cipher.cipher_id == AesGcmCipher.cipher_id

    @property
    def header_field_size(self) -> int:
        """Exact size of the header field of every envelope in this configuration."""
        return sealed_header_size(self.pq, self.header_encryption)

    def message_size(self, plaintext_length: int) -> int:
        """Exact size of the message :meth:`Ratchet.encrypt` returns for this plaintext."""
        overhead = self.cipher.overhead(plaintext_length)
        return _ENVELOPE_FIXED + self.header_field_size + plaintext_length + overhead


def max_plaintext_overhead(pq: bool) -> int:
    """Bytes a Veil ratchet message adds to its plaintext, so callers can size
    plaintexts to fill a fixed block exactly (AES-GCM's overhead is constant)."""
    return RatchetConfig.veil(pq=pq).message_size(0)
