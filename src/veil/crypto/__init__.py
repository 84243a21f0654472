"""Veil's crypto layer: typed wrappers over ``cryptography``, padding, randomness."""

from veil.crypto.errors import AuthenticationFailed, CryptoError, InvalidKey
from veil.crypto.padding import InvalidPadding, pad, unpad
from veil.crypto.primitives import (
    AeadCipher,
    Ed25519KeyPair,
    MlKem768KeyPair,
    X25519KeyPair,
    aead_decrypt,
    aead_encrypt,
    argon2id,
    constant_time_equal,
    ed25519_verify,
    hkdf_sha256,
    hkdf_sha512,
    hmac_sha256,
    mlkem768_encapsulate,
    sha256,
    sha512,
)
from veil.crypto.random import DeterministicRandom, RandomSource, SystemRandom

__all__ = [
    "AeadCipher",
    "AuthenticationFailed",
    "CryptoError",
    "DeterministicRandom",
    "Ed25519KeyPair",
    "InvalidKey",
    "InvalidPadding",
    "MlKem768KeyPair",
    "RandomSource",
    "SystemRandom",
    "X25519KeyPair",
    "aead_decrypt",
    "aead_encrypt",
    "argon2id",
    "constant_time_equal",
    "ed25519_verify",
    "hkdf_sha256",
    "hkdf_sha512",
    "hmac_sha256",
    "mlkem768_encapsulate",
    "pad",
    "sha256",
    "sha512",
    "unpad",
]
