"""HPKE (RFC 9180) base mode for MLS: the two KEMs Veil uses, seal/open and export.

Seal and open go through ``cryptography.hazmat.primitives.hpke.Suite``. That API has no
exporter, which MLS needs for external joins (RFC 9420 §8.3: ``SetupBaseS`` then
``context.export``), so :func:`setup_base_sender` / :func:`setup_base_receiver` compose the
same base-mode key schedule (RFC 9180 §5.1) from documented pieces: the KEM's ``Encap`` /
``Decap`` (RFC 9180 §4.1 DHKEM, or X-Wing, draft-connolly-cfrg-xwing-kem §5) and HKDF.
Tests check the composition against ``cryptography``'s own HPKE, byte for byte.

KEMs:

* DHKEM(X25519, HKDF-SHA256), id 0x0020: keys are raw 32-byte X25519 keys.
* X-Wing (ML-KEM-768 + X25519), id 0x647A (``KEM.MLKEM768_X25519``): the private key is a
  32-byte seed expanded with SHAKE256 into the ML-KEM seed and the X25519 key; the public
  key is ``pk_M || pk_X`` (1216 bytes); ``DeriveKeyPair(ikm)`` is ``SHAKE256(ikm, 32)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from veil.crypto import RandomSource
from veil.mls.errors import DecryptionFailed, InvalidPublicKey

__all__ = [
    "DHKEM_X25519",
    "XWING",
    "HpkeContext",
    "HpkeKem",
    "HpkeSuite",
    "hkdf_expand",
    "hkdf_extract",
]

_HPKE_VERSION = b"HPKE-v1"
_XWING_LABEL = b"\\.//^\\"
_MODE_BASE = b"\x00"
_AEAD_CHACHA20_POLY1305 = 0x0003


def hkdf_extract(algorithm: hashes.HashAlgorithm, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2): ``HMAC-Hash(salt, IKM)``."""
    mac = hmac.HMAC(salt, algorithm)
    mac.update(ikm)
    return mac.finalize()


def hkdf_expand(algorithm: hashes.HashAlgorithm, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3)."""
    return HKDFExpand(algorithm, length, info).derive(prk)


def _labeled_extract(
    algorithm: hashes.HashAlgorithm, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes
) -> bytes:
    return hkdf_extract(algorithm, salt, _HPKE_VERSION + suite_id + label + ikm)


def _labeled_expand(
    algorithm: hashes.HashAlgorithm,
    suite_id: bytes,
    prk: bytes,
    label: bytes,
    info: bytes,
    *,
    length: int,
) -> bytes:
    labeled_info = length.to_bytes(2, "big") + _HPKE_VERSION + suite_id + label + info
    return hkdf_expand(algorithm, prk, labeled_info, length)


def _x25519_private(raw: bytes) -> x25519.X25519PrivateKey:
    return x25519.X25519PrivateKey.from_private_bytes(raw)


def _x25519_public_bytes(private: x25519.X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes_raw()


@dataclass(frozen=True, slots=True)
class HpkeKem:
    """One HPKE KEM: key derivation, key (de)serialisation, encapsulation."""

    kem_id: int
    public_key_size: int
    enc_size: int
    cryptography_kem: hpke.KEM

    @property
    def is_xwing(self) -> bool:
        """Whether this is the X-Wing hybrid KEM."""
        return self.kem_id == XWING_KEM_ID

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """``DeriveKeyPair(ikm)`` -> ``(private_key, public_key)`` as MLS serialises them."""
        if self.is_xwing:
            shake = hashes.Hash(hashes.SHAKE256(32))
            shake.update(ikm)
            seed = shake.finalize()
            return seed, self.public_key_of(seed)
        suite_id = b"KEM" + self.kem_id.to_bytes(2, "big")
        prk = _labeled_extract(hashes.SHA256(), suite_id, b"", b"dkp_prk", ikm)
        private = _labeled_expand(hashes.SHA256(), suite_id, prk, b"sk", b"", length=32)
        return private, self.public_key_of(private)

    def public_key_of(self, private_key: bytes) -> bytes:
        """The serialised public key that belongs to ``private_key``."""
        if self.is_xwing:
            ml_kem, x_key = _expand_xwing_seed(private_key)
            return ml_kem.public_key().public_bytes_raw() + _x25519_public_bytes(x_key)
        return _x25519_public_bytes(_x25519_private(private_key))

    def private_key_object(self, private_key: bytes) -> object:
        """The ``cryptography`` key object ``hpke.Suite.decrypt`` takes."""
        if self.is_xwing:
            ml_kem, x_key = _expand_xwing_seed(private_key)
            return hpke.MLKEM768X25519PrivateKey(ml_kem, x_key)
        return _x25519_private(private_key)

    def public_key_object(self, public_key: bytes) -> object:
        """The ``cryptography`` key object ``hpke.Suite.encrypt`` takes."""
        if len(public_key) != self.public_key_size:
            raise InvalidPublicKey(f"an HPKE public key must be {self.public_key_size} bytes")
        try:
            if self.is_xwing:
                ml_kem = mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:1184])
                x_key = x25519.X25519PublicKey.from_public_bytes(public_key[1184:])
                return hpke.MLKEM768X25519PublicKey(ml_kem, x_key)
            return x25519.X25519PublicKey.from_public_bytes(public_key)
        except ValueError as error:
            raise InvalidPublicKey("the HPKE public key does not decode") from error

    def encap(self, public_key: bytes, rng: RandomSource) -> tuple[bytes, bytes]:
        """``Encap(pkR)`` -> ``(shared_secret, enc)``; a malformed key raises InvalidPublicKey."""
        if len(public_key) != self.public_key_size:
            raise InvalidPublicKey(f"an HPKE public key must be {self.public_key_size} bytes")
        try:
            return self._encap(public_key, _x25519_private(rng.random_bytes(32)))
        except ValueError as error:  # undecodable ML-KEM key, or a low-order X25519 point
            raise InvalidPublicKey("the HPKE public key is unusable") from error

    def _encap(self, public_key: bytes, ephemeral: x25519.X25519PrivateKey) -> tuple[bytes, bytes]:
        if self.is_xwing:
            ml_kem_public = mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:1184])
            shared_m, ciphertext_m = ml_kem_public.encapsulate()
            ciphertext_x = _x25519_public_bytes(ephemeral)
            shared_x = ephemeral.exchange(
                x25519.X25519PublicKey.from_public_bytes(public_key[1184:])
            )
            secret = _xwing_combine(shared_m, shared_x, ciphertext_x, public_key[1184:])
            return secret, ciphertext_m + ciphertext_x
        enc = _x25519_public_bytes(ephemeral)
        shared = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(public_key))
        return self._dhkem_shared_secret(shared, enc + public_key), enc

    def decap(self, enc: bytes, private_key: bytes) -> bytes:
        """``Decap(enc, skR)`` -> the shared secret."""
        if len(enc) != self.enc_size:
            raise DecryptionFailed(f"HPKE encapsulation must be {self.enc_size} bytes")
        if self.is_xwing:
            ml_kem, x_key = _expand_xwing_seed(private_key)
            shared_m = ml_kem.decapsulate(enc[:1088])
            shared_x = _exchange(x_key, enc[1088:])
            public_x = _x25519_public_bytes(x_key)
            return _xwing_combine(shared_m, shared_x, enc[1088:], public_x)
        private = _x25519_private(private_key)
        shared = _exchange(private, enc)
        return self._dhkem_shared_secret(shared, enc + _x25519_public_bytes(private))

    def _dhkem_shared_secret(self, dh: bytes, kem_context: bytes) -> bytes:
        suite_id = b"KEM" + self.kem_id.to_bytes(2, "big")
        prk = _labeled_extract(hashes.SHA256(), suite_id, b"", b"eae_prk", dh)
        return _labeled_expand(
            hashes.SHA256(), suite_id, prk, b"shared_secret", kem_context, length=32
        )


def _exchange(private: x25519.X25519PrivateKey, peer: bytes) -> bytes:
    try:
        return private.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    except ValueError as error:  # all-zero shared secret: a low-order point
        raise DecryptionFailed("HPKE encapsulation holds an unusable X25519 key") from error


def _expand_xwing_seed(seed: bytes) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
    if len(seed) != 32:
        raise ValueError("an X-Wing private key is a 32-byte seed")
    shake = hashes.Hash(hashes.SHAKE256(96))
    shake.update(seed)
    expanded = shake.finalize()
    return mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]), _x25519_private(expanded[64:])


def _xwing_combine(shared_m: bytes, shared_x: bytes, ciphertext_x: bytes, public_x: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA3_256())
    digest.update(shared_m + shared_x + ciphertext_x + public_x + _XWING_LABEL)
    return digest.finalize()


XWING_KEM_ID = 0x647A
DHKEM_X25519 = HpkeKem(0x0020, 32, 32, hpke.KEM.X25519)
XWING = HpkeKem(XWING_KEM_ID, 1216, 1120, hpke.KEM.MLKEM768_X25519)


@dataclass(frozen=True, slots=True)
class HpkeContext:
    """The secrets of one base-mode HPKE context (RFC 9180 §5.1)."""

    key: bytes
    base_nonce: bytes
    exporter_secret: bytes
    suite: HpkeSuite

    def export(self, exporter_context: bytes, length: int) -> bytes:
        """``Context.Export(exporter_context, L)`` (RFC 9180 §5.3)."""
        return self.suite.labeled_expand(self.exporter_secret, b"sec", exporter_context, length)


@dataclass(frozen=True, slots=True)
class HpkeSuite:
    """A KEM, KDF and AEAD triple: what MLS's HPKE calls go through."""

    kem: HpkeKem
    kdf_id: int
    kdf_hash: hashes.HashAlgorithm
    aead_id: int
    key_size: int
    nonce_size: int
    cryptography_kdf: hpke.KDF
    cryptography_aead: hpke.AEAD

    def aead(self, key: bytes) -> AESGCM | ChaCha20Poly1305:
        """The suite's AEAD keyed with ``key`` (RFC 9180 §7.3: ids 1, 2 AES-GCM; 3 ChaCha)."""
        return ChaCha20Poly1305(key) if self.aead_id == _AEAD_CHACHA20_POLY1305 else AESGCM(key)

    def _cryptography_suite(self) -> hpke.Suite:
        return hpke.Suite(self.kem.cryptography_kem, self.cryptography_kdf, self.cryptography_aead)

    def seal_base(self, public_key: bytes, info: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
        """``SealBase(pkR, info, aad="", pt)`` -> ``(enc, ciphertext)``."""
        key = self.kem.public_key_object(public_key)
        sealed = self._cryptography_suite().encrypt(plaintext, key, info)  # type: ignore[arg-type]
        return sealed[: self.kem.enc_size], sealed[self.kem.enc_size :]

    def open_base(self, enc: bytes, private_key: bytes, info: bytes, ciphertext: bytes) -> bytes:
        """``OpenBase(enc, skR, info, aad="", ct)``; a forgery raises DecryptionFailed."""
        if len(enc) != self.kem.enc_size:
            raise DecryptionFailed(f"HPKE encapsulation must be {self.kem.enc_size} bytes")
        key = self.kem.private_key_object(private_key)
        try:
            return self._cryptography_suite().decrypt(enc + ciphertext, key, info)  # type: ignore[arg-type]
        except Exception as error:  # cryptography raises InvalidTag or ValueError
            raise DecryptionFailed("HPKE ciphertext does not open") from error

    @property
    def _suite_id(self) -> bytes:
        ids = (self.kem.kem_id, self.kdf_id, self.aead_id)
        return b"HPKE" + b"".join(i.to_bytes(2, "big") for i in ids)

    def labeled_expand(self, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
        """RFC 9180 ``LabeledExpand`` under this suite's id."""
        return _labeled_expand(self.kdf_hash, self._suite_id, prk, label, info, length=length)

    def info_hash(self, info: bytes) -> bytes:
        """``LabeledExtract("", "info_hash", info)`` (RFC 9180 §5.1): the only step of the
        key schedule that reads ``info``, so a sender sealing to many recipients under one
        ``info`` computes it once (see :meth:`seal_base_hashed`)."""
        return _labeled_extract(self.kdf_hash, self._suite_id, b"", b"info_hash", info)

    def seal_base_hashed(
        self, public_key: bytes, info_hash: bytes, plaintext: bytes, rng: RandomSource
    ) -> tuple[bytes, bytes]:
        """``SealBase(pkR, info, aad="", pt)`` -> ``(enc, ciphertext)``, given
        ``info_hash(info)``: ``SetupBaseS`` then ``Seal`` at sequence number 0, whose nonce
        is ``base_nonce`` itself (RFC 9180 §5.2). Byte-compatible with :meth:`open_base`."""
        shared_secret, enc = self.kem.encap(public_key, rng)
        context = self._key_schedule_hashed(shared_secret, info_hash)
        return enc, self.aead(context.key).encrypt(context.base_nonce, plaintext, b"")

    def _key_schedule(self, shared_secret: bytes, info: bytes) -> HpkeContext:
        return self._key_schedule_hashed(shared_secret, self.info_hash(info))

    def _key_schedule_hashed(self, shared_secret: bytes, info_hash: bytes) -> HpkeContext:
        extract = _labeled_extract
        psk_id_hash = extract(self.kdf_hash, self._suite_id, b"", b"psk_id_hash", b"")
        context = _MODE_BASE + psk_id_hash + info_hash
        secret = extract(self.kdf_hash, self._suite_id, shared_secret, b"secret", b"")
        return HpkeContext(
            key=self.labeled_expand(secret, b"key", context, self.key_size),
            base_nonce=self.labeled_expand(secret, b"base_nonce", context, self.nonce_size),
            exporter_secret=self.labeled_expand(secret, b"exp", context, self.kdf_hash.digest_size),
            suite=self,
        )

    def setup_base_sender(
        self, public_key: bytes, info: bytes, rng: RandomSource
    ) -> tuple[bytes, HpkeContext]:
        """``SetupBaseS(pkR, info)`` -> ``(enc, context)``."""
        shared_secret, enc = self.kem.encap(public_key, rng)
        return enc, self._key_schedule(shared_secret, info)

    def setup_base_receiver(self, enc: bytes, private_key: bytes, info: bytes) -> HpkeContext:
        """``SetupBaseR(enc, skR, info)``."""
        return self._key_schedule(self.kem.decap(enc, private_key), info)
