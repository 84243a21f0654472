"""MLS cipher suites (RFC 9420 §5.1) and the labelled operations built on them.

Veil implements three suites:

========  ===============================================  =============================
value     name                                             HPKE KEM / KDF / AEAD
========  ===============================================  =============================
0x0001    MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519     DHKEM-X25519 / SHA256 / AES128
0x0003    MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_...  DHKEM-X25519 / SHA256 / ChaCha
0xF00D    MLS_256_XWING_AES256GCM_SHA512_Ed25519           X-Wing / SHA512 / AES256
========  ===============================================  =============================

0xF00D is the private-use codepoint the independent implementation ``ts-mls`` gives the
X-Wing suite (its ``src/crypto/ciphersuite.ts``), so the two interoperate on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519

from veil.crypto import RandomSource
from veil.mls.codec import TlsWriter, encode_varint
from veil.mls.errors import (
    DecryptionFailed,
    InvalidPublicKey,
    InvalidSignature,
    UnsupportedCipherSuite,
)
from veil.mls.hpke import (
    DHKEM_X25519,
    XWING,
    HpkeContext,
    HpkeKem,
    HpkeSuite,
    hkdf_expand,
    hkdf_extract,
)

__all__ = [
    "MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519",
    "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519",
    "MLS_256_XWING_AES256GCM_SHA512_ED25519",
    "SUITES",
    "CipherSuite",
    "suite_by_id",
]

_LABEL_PREFIX = b"MLS 1.0 "


def _labelled(label: bytes, content: bytes) -> bytes:
    """``struct { opaque label<V> = "MLS 1.0 " + Label; opaque content<V>; }``."""
    return TlsWriter().opaque(_LABEL_PREFIX + label).opaque(content).build()


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """One cipher suite: every cryptographic operation MLS performs goes through it."""

    suite_id: int
    name: str
    hash_algorithm: hashes.HashAlgorithm
    aead_name: str
    hpke: HpkeSuite

    # --- sizes ---------------------------------------------------------------------

    @property
    def hash_size(self) -> int:
        """``Nh``: the hash and KDF output size."""
        return self.hash_algorithm.digest_size

    @property
    def key_size(self) -> int:
        """``Nk``: the AEAD key size."""
        return self.hpke.key_size

    @property
    def nonce_size(self) -> int:
        """``Nn``: the AEAD nonce size."""
        return self.hpke.nonce_size

    # --- hash and KDF --------------------------------------------------------------

    def hash(self, data: bytes) -> bytes:
        """``Hash(data)``."""
        digest = hashes.Hash(self.hash_algorithm)
        digest.update(data)
        return digest.finalize()

    def extract(self, salt: bytes, ikm: bytes) -> bytes:
        """``KDF.Extract(salt, ikm)``."""
        return hkdf_extract(self.hash_algorithm, salt, ikm)

    def expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        """``KDF.Expand(prk, info, length)``."""
        return hkdf_expand(self.hash_algorithm, prk, info, length)

    def expand_with_label(self, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
        """``ExpandWithLabel`` (RFC 9420 §5.1.3)."""
        full_label = _LABEL_PREFIX + label
        kdf_label = b"".join(
            (
                length.to_bytes(2, "big"),
                encode_varint(len(full_label)),
                full_label,
                encode_varint(len(context)),
                context,
            )
        )
        return self.expand(secret, kdf_label, length)

    def derive_secret(self, secret: bytes, label: bytes) -> bytes:
        """``DeriveSecret(secret, label)`` = ``ExpandWithLabel(secret, label, "", Nh)``."""
        return self.expand_with_label(secret, label, b"", self.hash_size)

    def derive_tree_secret(
        self, secret: bytes, label: bytes, generation: int, length: int
    ) -> bytes:
        """``DeriveTreeSecret`` (RFC 9420 §9): the context is the ``uint32`` generation."""
        return self.expand_with_label(secret, label, generation.to_bytes(4, "big"), length)

    def ref_hash(self, label: bytes, value: bytes) -> bytes:
        """``RefHash(label, value)`` (RFC 9420 §5.2); ``label`` is the full label."""
        return self.hash(TlsWriter().opaque(label).opaque(value).build())

    def mac(self, key: bytes, data: bytes) -> bytes:
        """``MAC(key, data)``: HMAC with the suite's hash (RFC 9420 §5.1)."""
        return hkdf_extract(self.hash_algorithm, key, data)

    # --- AEAD ----------------------------------------------------------------------

    def aead_seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """``AEAD.Seal(key, nonce, aad, pt)``."""
        return self.hpke.aead(key).encrypt(nonce, plaintext, aad)

    def aead_open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """``AEAD.Open``; a forged or corrupted ciphertext raises DecryptionFailed."""
        try:
            return self.hpke.aead(key).decrypt(nonce, ciphertext, aad)
        except Exception as error:  # InvalidTag, or a ciphertext shorter than the tag
            raise DecryptionFailed("AEAD ciphertext does not open") from error

    # --- HPKE ----------------------------------------------------------------------

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """HPKE ``DeriveKeyPair(ikm)`` -> ``(private_key, public_key)``."""
        return self.hpke.kem.derive_key_pair(ikm)

    def check_public_keys(self, encryption_key: bytes, signature_key: bytes | None = None) -> None:
        """Raise InvalidPublicKey unless the keys are well-formed for this suite."""
        self.hpke.kem.public_key_object(encryption_key)
        if signature_key is not None:
            try:
                ed25519.Ed25519PublicKey.from_public_bytes(signature_key)
            except ValueError as error:
                raise InvalidPublicKey("the signature public key is malformed") from error

    def generate_key_pair(self, rng: RandomSource) -> tuple[bytes, bytes]:
        """A fresh HPKE key pair from ``Nh`` bytes of injected randomness."""
        return self.derive_key_pair(rng.random_bytes(self.hash_size))

    def encrypt_with_label(
        self, public_key: bytes, label: bytes, context: bytes, plaintext: bytes
    ) -> tuple[bytes, bytes]:
        """``EncryptWithLabel`` (RFC 9420 §5.1.3) -> ``(kem_output, ciphertext)``."""
        return self.hpke.seal_base(public_key, _labelled(label, context), plaintext)

    def encrypt_with_label_each(
        self,
        recipients: Sequence[tuple[bytes, bytes]],
        label: bytes,
        context: bytes,
        rng: RandomSource,
    ) -> list[tuple[bytes, bytes]]:
        """``EncryptWithLabel(pk, label, context, pt)`` for each ``(pk, pt)`` in
        ``recipients`` -> ``[(kem_output, ciphertext)]``. The HPKE info (label and context)
        is hashed once for all of them: a Welcome's context is the encrypted GroupInfo,
        O(n) bytes, so hashing it per joiner would make creation O(n²)."""
        info_hash = self.hpke.info_hash(_labelled(label, context))
        return [self.hpke.seal_base_hashed(key, info_hash, pt, rng) for key, pt in recipients]

    def decrypt_with_label(
        self, private_key: bytes, label: bytes, context: bytes, kem_output: bytes, ciphertext: bytes
    ) -> bytes:
        """``DecryptWithLabel``; raises DecryptionFailed on a forgery."""
        return self.hpke.open_base(kem_output, private_key, _labelled(label, context), ciphertext)

    def setup_base_sender(
        self, public_key: bytes, info: bytes, rng: RandomSource
    ) -> tuple[bytes, HpkeContext]:
        """HPKE ``SetupBaseS`` (for external init, RFC 9420 §8.3)."""
        return self.hpke.setup_base_sender(public_key, info, rng)

    def setup_base_receiver(
        self, kem_output: bytes, private_key: bytes, info: bytes
    ) -> HpkeContext:
        """HPKE ``SetupBaseR``."""
        return self.hpke.setup_base_receiver(kem_output, private_key, info)

    # --- signatures (Ed25519 in every suite Veil implements) -------------------------

    @staticmethod
    def signature_public_key(private_key: bytes) -> bytes:
        """The raw Ed25519 public key of a raw 32-byte private key."""
        key = ed25519.Ed25519PrivateKey.from_private_bytes(private_key)
        return key.public_key().public_bytes_raw()

    @staticmethod
    def generate_signature_key(rng: RandomSource) -> tuple[bytes, bytes]:
        """A fresh Ed25519 key pair ``(private, public)`` from injected randomness."""
        private = rng.random_bytes(32)
        return private, CipherSuite.signature_public_key(private)

    @staticmethod
    def signing_key(private_key: bytes) -> ed25519.Ed25519PrivateKey:
        """The loaded Ed25519 key of a raw private key; loading derives the public key, as
        costly as a signature, so a sender that signs often keeps the loaded key."""
        return ed25519.Ed25519PrivateKey.from_private_bytes(private_key)

    @staticmethod
    def sign_with_label(
        private_key: bytes | ed25519.Ed25519PrivateKey, label: bytes, content: bytes
    ) -> bytes:
        """``SignWithLabel`` (RFC 9420 §5.1.2), with a raw or a loaded private key."""
        if isinstance(private_key, bytes):
            private_key = CipherSuite.signing_key(private_key)
        return private_key.sign(_labelled(label, content))

    @staticmethod
    def verify_with_label(
        public_key: bytes, label: bytes, content: bytes, signature: bytes
    ) -> None:
        """``VerifyWithLabel``; raises InvalidSignature unless it verifies."""
        try:
            key = ed25519.Ed25519PublicKey.from_public_bytes(public_key)
            key.verify(signature, _labelled(label, content))
        except (CryptographyInvalidSignature, ValueError) as error:
            raise InvalidSignature(f"signature over {label!r} does not verify") from error


def _hpke(
    kem: HpkeKem, kdf: hpke.KDF, kdf_id: int, kdf_hash: hashes.HashAlgorithm, aead: str
) -> HpkeSuite:
    aead_ids = {
        "AES128GCM": (0x0001, 16, hpke.AEAD.AES_128_GCM),
        "AES256GCM": (0x0002, 32, hpke.AEAD.AES_256_GCM),
        "ChaCha20Poly1305": (0x0003, 32, hpke.AEAD.CHACHA20_POLY1305),
    }
    aead_id, key_size, cryptography_aead = aead_ids[aead]
    return HpkeSuite(kem, kdf_id, kdf_hash, aead_id, key_size, 12, kdf, cryptography_aead)


MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519 = CipherSuite(
    0x0001,
    "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
    hashes.SHA256(),
    "AES128GCM",
    _hpke(DHKEM_X25519, hpke.KDF.HKDF_SHA256, 0x0001, hashes.SHA256(), "AES128GCM"),
)
MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519 = CipherSuite(
    0x0003,
    "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
    hashes.SHA256(),
    "ChaCha20Poly1305",
    _hpke(DHKEM_X25519, hpke.KDF.HKDF_SHA256, 0x0001, hashes.SHA256(), "ChaCha20Poly1305"),
)
MLS_256_XWING_AES256GCM_SHA512_ED25519 = CipherSuite(
    0xF00D,
    "MLS_256_XWING_AES256GCM_SHA512_Ed25519",
    hashes.SHA512(),
    "AES256GCM",
    _hpke(XWING, hpke.KDF.HKDF_SHA512, 0x0003, hashes.SHA512(), "AES256GCM"),
)

SUITES: dict[int, CipherSuite] = {
    suite.suite_id: suite
    for suite in (
        MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519,
        MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519,
        MLS_256_XWING_AES256GCM_SHA512_ED25519,
    )
}


def suite_by_id(suite_id: int) -> CipherSuite:
    """The suite with this codepoint; an unimplemented one raises UnsupportedCipherSuite."""
    try:
        return SUITES[suite_id]
    except KeyError:
        raise UnsupportedCipherSuite(f"cipher suite {suite_id:#06x} is not implemented") from None
