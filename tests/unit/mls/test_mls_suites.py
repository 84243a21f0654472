"""Cipher suites: the crypto-basics IETF vectors, HPKE composition and X-Wing."""

from __future__ import annotations

import pytest

from helpers.mls_checks_crypto import check_crypto_basics
from helpers.mls_vectors import Case, implemented_cases
from veil.crypto import DeterministicRandom
from veil.mls.errors import (
    DecryptionFailed,
    InvalidPublicKey,
    InvalidSignature,
    UnsupportedCipherSuite,
)
from veil.mls.suites import SUITES, CipherSuite, suite_by_id

ALL_SUITES = list(SUITES.values())


def _ids(suite: CipherSuite) -> str:
    return f"{suite.suite_id:#06x}"


@pytest.mark.parametrize("case", implemented_cases("crypto-basics.json"), ids=str)
def test_crypto_basics_vector(case: Case) -> None:
    check_crypto_basics(case)


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids)
def test_encrypt_with_label_round_trips_and_rejects_forgeries(suite: CipherSuite) -> None:
    private, public = suite.generate_key_pair(DeterministicRandom(b"hpke"))
    kem_output, ciphertext = suite.encrypt_with_label(public, b"Label", b"ctx", b"secret")
    assert suite.decrypt_with_label(private, b"Label", b"ctx", kem_output, ciphertext) == b"secret"
    with pytest.raises(DecryptionFailed):
        suite.decrypt_with_label(private, b"Other", b"ctx", kem_output, ciphertext)
    with pytest.raises(DecryptionFailed):
        suite.decrypt_with_label(private, b"Label", b"ctx", kem_output[:-1], ciphertext)


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids)
def test_composed_hpke_context_matches_cryptography(suite: CipherSuite) -> None:
    """Our SetupBaseS/R (needed for export) agree with cryptography's HPKE seal/open."""
    private, public = suite.generate_key_pair(DeterministicRandom(b"export"))
    enc, sender = suite.setup_base_sender(public, b"info", DeterministicRandom(b"eph"))
    receiver = suite.setup_base_receiver(enc, private, b"info")
    assert sender == receiver
    assert sender.export(b"ctx", 32) == receiver.export(b"ctx", 32) != sender.export(b"x", 32)
    ciphertext = suite.aead_seal(sender.key, sender.base_nonce, b"", b"hello")
    assert suite.hpke.open_base(enc, private, b"info", ciphertext) == b"hello"


def test_xwing_keys_have_the_xwing_shapes() -> None:
    suite = suite_by_id(0xF00D)
    private, public = suite.derive_key_pair(b"\x01" * 64)
    assert (len(private), len(public)) == (32, 1216)
    assert suite.derive_key_pair(b"\x01" * 64) == (private, public)
    kem_output, _ = suite.encrypt_with_label(public, b"L", b"", b"")
    assert len(kem_output) == 1120
    assert (suite.hash_size, suite.key_size, suite.nonce_size) == (64, 32, 12)


def test_signatures_verify_only_their_own_label_and_content() -> None:
    suite = suite_by_id(1)
    private, public = suite.generate_signature_key(DeterministicRandom(b"sig"))
    signature = suite.sign_with_label(private, b"Label", b"content")
    suite.verify_with_label(public, b"Label", b"content", signature)
    with pytest.raises(InvalidSignature):
        suite.verify_with_label(public, b"Label", b"other", signature)
    with pytest.raises(InvalidSignature):
        suite.verify_with_label(public[:5], b"Label", b"content", signature)


def test_unknown_suite_is_a_protocol_error() -> None:
    with pytest.raises(UnsupportedCipherSuite, match="0x0002"):
        suite_by_id(2)


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids)
def test_malformed_public_keys_are_protocol_errors(suite: CipherSuite) -> None:
    _, public = suite.generate_key_pair(DeterministicRandom(b"keys"))
    suite.check_public_keys(public, bytes(range(32)))
    with pytest.raises(InvalidPublicKey):
        suite.check_public_keys(public[:-1])
    with pytest.raises(InvalidPublicKey):
        suite.check_public_keys(public, b"short")
    with pytest.raises(InvalidPublicKey):
        suite.encrypt_with_label(public + b"\x00", b"L", b"", b"")
