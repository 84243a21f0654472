"""Security codes: what two people compare to know no one sits between them.

Each side's fingerprint is Signal's iterated hash: ``h = SHA-512(version || key ||
label [|| transcript hash])``, then ``ITERATIONS`` times ``h = SHA-512(h || key)``.
Version 1 covers the identity keys only. Version 2 (connections agreed at ratchet
v2) also covers the agreement's transcript hash, which commits to every public key
of the agreement including the ML-KEM-768 key and ciphertext: an attacker who
replaced the KEM half of the handshake changes the code. The first 30 bytes
become 30 digits (six 5-byte chunks, each ``mod 100000``). The two parties'
digits are ordered canonically, so both sides see the same 60 digits; the QR
payload is ``version || fingerprint_low (32) || fingerprint_high (32)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto.primitives import X25519_KEY_SIZE, constant_time_equal, sha512

__all__ = [
    "FINGERPRINT_LABEL",
    "ITERATIONS",
    "SECURITY_CODE_V2",
    "SECURITY_CODE_VERSION",
    "SecurityCode",
    "security_code",
]

SECURITY_CODE_VERSION = 1
SECURITY_CODE_V2 = 2
TRANSCRIPT_HASH_SIZE = 32
ITERATIONS = 5200
FINGERPRINT_LABEL = b"Veil security code"
_CHUNK = 5
_CHUNKS_PER_PARTY = 6
_QR_FINGERPRINT_SIZE = 32


def _fingerprint(identity_key: bytes, version: int, transcript_hash: bytes) -> bytes:
    digest = sha512(version.to_bytes(2, "big") + identity_key + FINGERPRINT_LABEL + transcript_hash)
    for _ in range(ITERATIONS):
        digest = sha512(digest + identity_key)
    return digest


def _digits(fingerprint: bytes) -> str:
    chunks = (
        fingerprint[offset : offset + _CHUNK]
        for offset in range(0, _CHUNK * _CHUNKS_PER_PARTY, _CHUNK)
    )
    return "".join(f"{int.from_bytes(chunk, 'big') % 100_000:05d}" for chunk in chunks)


@dataclass(frozen=True, slots=True)
class SecurityCode:
    """A connection's security code: 60 digits and a QR payload, equal on both sides."""

    digits: str
    qr_payload: bytes

    @property
    def groups(self) -> list[str]:
        """The digits in groups of five, as people read them aloud."""
        return [self.digits[i : i + _CHUNK] for i in range(0, len(self.digits), _CHUNK)]

    def __str__(self) -> str:
        return " ".join(self.groups)

    def matches_scanned(self, scanned_payload: bytes) -> bool:
        """Compare a scanned QR payload with ours in constant time."""
        return constant_time_equal(self.qr_payload, scanned_payload)


def security_code(
    local_identity_key: bytes, remote_identity_key: bytes, *, transcript_hash: bytes | None = None
) -> SecurityCode:
    """Compute the code for a connection from both sides' agreement identity keys,
    and (version 2) the agreement's transcript hash.

    The order of the keys does not matter; substituting either key, or anything
    in the transcript, changes the result. Without ``transcript_hash`` this is the
    version 1 code, unchanged.
    """
    for key in (local_identity_key, remote_identity_key):
        if len(key) != X25519_KEY_SIZE:
            raise ValueError("identity keys are 32-byte X25519 public keys")
    version, transcript = SECURITY_CODE_VERSION, b""
    if transcript_hash is not None:
        if len(transcript_hash) != TRANSCRIPT_HASH_SIZE:
            raise ValueError("the transcript hash is a 32-byte SHA-256 digest")
        version, transcript = SECURITY_CODE_V2, transcript_hash
    fingerprints = sorted(
        _fingerprint(key, version, transcript) for key in (local_identity_key, remote_identity_key)
    )
    digits = "".join(_digits(fingerprint) for fingerprint in fingerprints)
    qr_payload = bytes([version]) + b"".join(
        fingerprint[:_QR_FINGERPRINT_SIZE] for fingerprint in fingerprints
    )
    return SecurityCode(digits, qr_payload)
