"""Typed, minimal wrappers over the ``cryptography`` primitives Veil composes.

Nothing here invents cryptography: each function is a thin, named call into
``cryptography`` so the rest of Veil never imports its hazardous layer directly,
and so every key is plain ``bytes`` at the layer boundary (easy to serialise and to
put in test vectors).
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.crypto.errors import AuthenticationFailed, CryptoError, InvalidKey

if TYPE_CHECKING:
    from veil.crypto.random import RandomSource

__all__ = [
    "AEAD_KEY_SIZE",
    "AEAD_NONCE_SIZE",
    "AEAD_TAG_SIZE",
    "MLKEM768_CIPHERTEXT_SIZE",
    "MLKEM768_PUBLIC_KEY_SIZE",
    "MLKEM768_SEED_SIZE",
    "X25519_KEY_SIZE",
    "Ed25519KeyPair",
    "MlKem768KeyPair",
    "X25519KeyPair",
    "aead_decrypt",
    "aead_encrypt",
    "aes256_cbc_decrypt",
    "aes256_cbc_encrypt",
    "argon2id",
    "constant_time_equal",
    "ed25519_verify",
    "hkdf_sha256",
    "hkdf_sha512",
    "hmac_sha256",
    "mlkem768_encapsulate",
    "sha256",
    "sha512",
    "x25519_public_from_private",
]

X25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
MLKEM768_SEED_SIZE = 64
MLKEM768_PUBLIC_KEY_SIZE = 1184
MLKEM768_CIPHERTEXT_SIZE = 1088
MLKEM_SHARED_SECRET_SIZE = 32
AEAD_KEY_SIZE = 32
AEAD_NONCE_SIZE = 12
AEAD_TAG_SIZE = 16


def _require_length(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise InvalidKey(f"{name} must be {length} bytes, got {len(value)}")


class X25519KeyPair:
    """An X25519 private key with its public half cached as bytes."""

    __slots__ = ("_key", "public")

    def __init__(self, private: bytes) -> None:
        _require_length("X25519 private key", private, X25519_KEY_SIZE)
        self._key = x25519.X25519PrivateKey.from_private_bytes(private)
        self.public: bytes = self._key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls, rng: RandomSource) -> X25519KeyPair:
        """Make a fresh key pair from ``rng``."""
        return cls(rng.random_bytes(X25519_KEY_SIZE))

    @property
    def private(self) -> bytes:
        """The raw 32-byte private key (for persistence only)."""
        return self._key.private_bytes_raw()

    def exchange(self, peer_public: bytes) -> bytes:
        """Return the X25519 shared secret with ``peer_public``.

        Raises :class:`InvalidKey` for a malformed key or a low-order point (an
        all-zero result), so a peer cannot force a known shared secret.
        """
        _require_length("X25519 public key", peer_public, X25519_KEY_SIZE)
        try:
            peer = x25519.X25519PublicKey.from_public_bytes(peer_public)
            return self._key.exchange(peer)
        except ValueError as exc:
            raise InvalidKey("X25519 exchange rejected the peer key") from exc


def x25519_public_from_private(private: bytes) -> bytes:
    """Return the public key of a raw X25519 private key."""
    return X25519KeyPair(private).public


class Ed25519KeyPair:
    """An Ed25519 signing key with its public half cached as bytes."""

    __slots__ = ("_key", "public")

    def __init__(self, private: bytes) -> None:
        _require_length("Ed25519 private key", private, 32)
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(private)
        self.public: bytes = self._key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls, rng: RandomSource) -> Ed25519KeyPair:
        """Make a fresh signing key from ``rng``."""
        return cls(rng.random_bytes(32))

    @property
    def private(self) -> bytes:
        """The raw 32-byte private key (for persistence only)."""
        return self._key.private_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)


def ed25519_verify(public: bytes, signature: bytes, message: bytes) -> None:
    """Verify an Ed25519 signature; raise :class:`AuthenticationFailed` if it is bad."""
    _require_length("Ed25519 public key", public, 32)
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise AuthenticationFailed("Ed25519 signature did not verify") from exc


class MlKem768KeyPair:
    """An ML-KEM-768 decapsulation key, stored as its 64-byte seed."""

    __slots__ = ("_key", "public", "seed")

    def __init__(self, seed: bytes) -> None:
        _require_length("ML-KEM-768 seed", seed, MLKEM768_SEED_SIZE)
        self.seed = seed
        self._key = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
        self.public: bytes = self._key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls, rng: RandomSource) -> MlKem768KeyPair:
        """Make a fresh key pair deterministically from 64 bytes of ``rng``."""
        return cls(rng.random_bytes(MLKEM768_SEED_SIZE))

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """Return the 32-byte shared secret carried by ``ciphertext``."""
        _require_length("ML-KEM-768 ciphertext", ciphertext, MLKEM768_CIPHERTEXT_SIZE)
        try:
            return self._key.decapsulate(ciphertext)
        except ValueError as exc:
            raise InvalidKey("ML-KEM-768 decapsulation failed") from exc


def mlkem768_encapsulate(public: bytes) -> tuple[bytes, bytes]:
    """Encapsulate to ``public``; return ``(shared_secret, ciphertext)``.

    ``cryptography`` draws the encapsulation randomness itself, so this is the one
    operation whose output tests cannot fix in advance; vectors record its outputs.
    """
    _require_length("ML-KEM-768 public key", public, MLKEM768_PUBLIC_KEY_SIZE)
    try:
        peer = mlkem.MLKEM768PublicKey.from_public_bytes(public)
    except ValueError as exc:
        raise InvalidKey("not a valid ML-KEM-768 public key") from exc
    shared_secret, ciphertext = peer.encapsulate()
    return shared_secret, ciphertext


def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """AES-256-GCM encrypt; the 16-byte tag is appended to the ciphertext."""
    _require_length("AEAD key", key, AEAD_KEY_SIZE)
    return AESGCM(key).encrypt(nonce, plaintext, associated_data)


class AeadCipher:
    """AES-256-GCM under one key, set up once for many messages.

    :func:`aead_encrypt` sets the key up again on every call; a sender of many
    messages under one key (the relay re-sealing entries for a reader) keeps one of
    these instead. Same output as :func:`aead_encrypt` for the same inputs.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        _require_length("AEAD key", key, AEAD_KEY_SIZE)
        self._aead = AESGCM(key)

    def encrypt(self, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt; the 16-byte tag is appended to the ciphertext."""
        return self._aead.encrypt(nonce, plaintext, associated_data)


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """AES-256-GCM decrypt; raise :class:`AuthenticationFailed` on a bad tag."""
    _require_length("AEAD key", key, AEAD_KEY_SIZE)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except InvalidTag as exc:
        raise AuthenticationFailed("AEAD tag did not verify") from exc


def aes256_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """AES-256-CBC with PKCS#7 padding, unauthenticated: callers MAC the result.

    Exists for Signal's recommended message cipher (CBC then HMAC), which the
    ratchet's plain configuration needs to interoperate with other implementations.
    """
    _require_length("AES-256 key", key, AEAD_KEY_SIZE)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes256_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Invert :func:`aes256_cbc_encrypt`; :class:`CryptoError` on bad length or padding.

    Call it only after the MAC over ``ciphertext`` verified, so padding errors are
    never an oracle.
    """
    _require_length("AES-256 key", key, AEAD_KEY_SIZE)
    try:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise CryptoError("AES-CBC ciphertext or its padding is malformed") from exc


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869) with an explicit salt and a named info string."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hkdf_sha512(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA512 (RFC 5869) with an explicit salt and a named info string."""
    return HKDF(algorithm=hashes.SHA512(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data`` under ``key``."""
    return _hmac.digest(key, data, "sha256")


def sha256(data: bytes) -> bytes:
    """SHA-256 digest."""
    return hashlib.sha256(data).digest()


def sha512(data: bytes) -> bytes:
    """SHA-512 digest."""
    return hashlib.sha512(data).digest()


def constant_time_equal(left: bytes, right: bytes) -> bool:
    """Compare two secrets without leaking where they differ."""
    return _hmac.compare_digest(left, right)


def argon2id(
    password: bytes,
    salt: bytes,
    *,
    length: int = 32,
    iterations: int = 3,
    lanes: int = 4,
    memory_kib: int = 65536,
) -> bytes:
    """Argon2id (RFC 9106) key derivation, defaulting to its second recommended profile."""
    kdf = Argon2id(
        salt=salt, length=length, iterations=iterations, lanes=lanes, memory_cost=memory_kib
    )
    return kdf.derive(password)
