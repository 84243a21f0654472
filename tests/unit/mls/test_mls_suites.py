"""Cipher suites: the crypto-basics IETF vectors, HPKE composition and X-Wing."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hpke

from helpers.mls_checks_crypto import check_crypto_basics
from helpers.mls_vectors import Case, implemented_cases
from veil.crypto import DeterministicRandom
from veil.mls.codec import TlsWriter
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


def _cryptography_open(
    suite: CipherSuite, private: bytes, info: bytes, kem_output: bytes, ciphertext: bytes
) -> bytes:
    """``cryptography``'s own HPKE open (``Suite.decrypt``), with nothing of ours but the key."""
    cryptography_suite = hpke.Suite(
        suite.hpke.kem.cryptography_kem,
        suite.hpke.cryptography_kdf,
        suite.hpke.cryptography_aead,
    )
    key = suite.hpke.kem.private_key_object(private)
    return cryptography_suite.decrypt(kem_output + ciphertext, key, info)  # type: ignore[arg-type]


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids)
def test_sealing_to_many_with_one_info_hash_opens_with_cryptography(suite: CipherSuite) -> None:
    """EncryptWithLabel to several recipients (one info_hash) is plain RFC 9180 SealBase:
    cryptography's HPKE opens each ciphertext, and only with its own recipient's key."""
    rng = DeterministicRandom(b"many")
    pairs = [suite.generate_key_pair(rng) for _ in range(3)]
    context = bytes(range(256)) * 400  # a Welcome's context is a large encrypted GroupInfo
    plaintexts = [b"secret %d" % i for i in range(3)]
    recipients = [(public, pt) for (_, public), pt in zip(pairs, plaintexts, strict=True)]
    sealed = suite.encrypt_with_label_each(recipients, b"Welcome", context, rng)
    info = TlsWriter().opaque(b"MLS 1.0 Welcome").opaque(context).build()
    for (private, _), plaintext, (kem_output, ciphertext) in zip(
        pairs, plaintexts, sealed, strict=True
    ):
        assert len(kem_output) == suite.hpke.kem.enc_size
        assert _cryptography_open(suite, private, info, kem_output, ciphertext) == plaintext
        opened = suite.decrypt_with_label(private, b"Welcome", context, kem_output, ciphertext)
        assert opened == plaintext
    assert len({kem_output for kem_output, _ in sealed}) == 3
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidTag or ValueError
        _cryptography_open(suite, pairs[1][0], info, *sealed[0])
    with pytest.raises(Exception):  # noqa: B017 - a different info (context) does not open
        _cryptography_open(suite, pairs[0][0], info + b"x", *sealed[0])


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids)
def test_sealing_to_many_hashes_the_info_once(suite: CipherSuite, hashed_infos: list[int]) -> None:
    rng = DeterministicRandom(b"once")
    recipients = [(suite.generate_key_pair(rng)[1], b"pt") for _ in range(5)]
    assert len(suite.encrypt_with_label_each(recipients, b"Welcome", b"ctx" * 1000, rng)) == 5
    assert len(hashed_infos) == 1 and hashed_infos[0] > 3000


@pytest.mark.parametrize("suite", ALL_SUITES, ids=_ids)
def test_sealing_to_many_refuses_a_malformed_key(suite: CipherSuite) -> None:
    rng = DeterministicRandom(b"bad")
    _, public = suite.generate_key_pair(rng)
    for bad in (public[:-1], public + b"\x00"):
        with pytest.raises(InvalidPublicKey):
            suite.encrypt_with_label_each([(public, b""), (bad, b"")], b"L", b"", rng)


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
