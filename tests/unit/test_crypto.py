"""The crypto wrapper against published vectors, plus Veil's own pinned constructions."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import pytest

from veil.crypto import (
    AeadCipher,
    AuthenticationFailed,
    DeterministicRandom,
    Ed25519KeyPair,
    InvalidKey,
    InvalidPadding,
    MlKem768KeyPair,
    SystemRandom,
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
    pad,
    unpad,
)

Loader = Callable[[str], Any]


def test_x25519_rfc7748(vectors: Loader) -> None:
    case = vectors("crypto/primitives.json")["x25519"]
    alice = X25519KeyPair(bytes.fromhex(case["alice_private"]))
    bob = X25519KeyPair(bytes.fromhex(case["bob_private"]))
    assert alice.public.hex() == case["alice_public"]
    assert bob.public.hex() == case["bob_public"]
    assert alice.exchange(bob.public).hex() == case["shared"]
    assert bob.exchange(alice.public).hex() == case["shared"]


def test_x25519_rejects_low_order_point_and_bad_length() -> None:
    key = X25519KeyPair.generate(SystemRandom())
    with pytest.raises(InvalidKey):
        key.exchange(bytes(32))  # the all-zero point gives an all-zero secret
    with pytest.raises(InvalidKey):
        key.exchange(bytes(31))


def test_hkdf_and_hmac_rfc_vectors(vectors: Loader) -> None:
    data = vectors("crypto/primitives.json")
    case = data["hkdf_sha256"]
    okm = hkdf_sha256(
        bytes.fromhex(case["ikm"]),
        salt=bytes.fromhex(case["salt"]),
        info=bytes.fromhex(case["info"]),
        length=case["length"],
    )
    assert okm.hex() == case["okm"]
    mac = data["hmac_sha256"]
    assert hmac_sha256(bytes.fromhex(mac["key"]), bytes.fromhex(mac["data"])).hex() == mac["mac"]
    assert len(hkdf_sha512(b"ikm", salt=b"salt", info=b"info", length=64)) == 64


def test_ed25519_rfc8032(vectors: Loader) -> None:
    case = vectors("crypto/primitives.json")["ed25519"]
    key = Ed25519KeyPair(bytes.fromhex(case["private"]))
    assert key.public.hex() == case["public"]
    signature = key.sign(bytes.fromhex(case["message"]))
    assert signature.hex() == case["signature"]
    ed25519_verify(key.public, signature, b"")
    with pytest.raises(AuthenticationFailed):
        ed25519_verify(key.public, signature, b"x")


def test_mlkem768_round_trip_and_deterministic_keygen() -> None:
    first = MlKem768KeyPair.generate(DeterministicRandom(b"seed"))
    again = MlKem768KeyPair.generate(DeterministicRandom(b"seed"))
    assert first.public == again.public
    secret, ciphertext = mlkem768_encapsulate(first.public)
    assert first.decapsulate(ciphertext) == secret
    with pytest.raises(InvalidKey):
        first.decapsulate(ciphertext[:-1])
    with pytest.raises(InvalidKey):
        mlkem768_encapsulate(b"\x00" * 10)


def test_aead_rejects_any_tampering() -> None:
    key, nonce = bytes(range(32)), bytes(12)
    sealed = aead_encrypt(key, nonce, b"hello", b"ad")
    assert aead_decrypt(key, nonce, sealed, b"ad") == b"hello"
    tampered = bytes([sealed[0] ^ 1]) + sealed[1:]
    for args in ((tampered, b"ad"), (sealed, b"other ad")):
        with pytest.raises(AuthenticationFailed):
            aead_decrypt(key, nonce, *args)


def test_aead_cipher_seals_as_aead_encrypt_does_for_every_message() -> None:
    key = bytes(range(32))
    cipher = AeadCipher(key)
    for n in range(3):
        nonce, plaintext, ad = bytes([n]) * 12, b"message %d" % n, b"ad %d" % n
        assert cipher.encrypt(nonce, plaintext, ad) == aead_encrypt(key, nonce, plaintext, ad)
    with pytest.raises(InvalidKey, match="AEAD key"):
        AeadCipher(key[:16])


def test_argon2id_is_deterministic_and_salted() -> None:
    cheap = {"iterations": 1, "lanes": 1, "memory_kib": 1024}
    one = argon2id(b"passphrase", b"salt-salt-salt-1", **cheap)
    assert one == argon2id(b"passphrase", b"salt-salt-salt-1", **cheap)
    assert one != argon2id(b"passphrase", b"salt-salt-salt-2", **cheap)
    assert len(one) == 32


def test_constant_time_equal() -> None:
    assert constant_time_equal(b"abc", b"abc")
    assert not constant_time_equal(b"abc", b"abd")


def test_deterministic_random_matches_its_definition(vectors: Loader) -> None:
    case = vectors("crypto/veil_constructions.json")["veil_drbg"]
    seed = bytes.fromhex(case["seed"])
    # Recompute from the documented definition with the standard library alone.
    stream = b"".join(
        hmac.digest(seed, b"veil-test-drbg" + i.to_bytes(8, "big"), "sha256") for i in range(4)
    )
    assert stream[:100].hex() == case["first_100_bytes"]
    rng = DeterministicRandom(seed)
    assert (rng.random_bytes(7) + rng.random_bytes(93)).hex() == case["first_100_bytes"]


def test_padding_vectors_and_strictness(vectors: Loader) -> None:
    for case in vectors("crypto/veil_constructions.json")["padding"]:
        padded = pad(bytes.fromhex(case["content"]), case["size"])
        assert padded.hex() == case["padded"]
        assert unpad(padded).hex() == case["content"]
    with pytest.raises(ValueError, match="do not fit"):
        pad(b"12345", 6)
    for bad in (b"", b"\x00", b"\x00\x05abc", b"\x00\x01a\x01"):
        with pytest.raises(InvalidPadding):
            unpad(bad)
