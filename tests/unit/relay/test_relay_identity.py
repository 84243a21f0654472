"""Relay identity: key files, the self-signed certificate and fingerprint pinning."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil.crypto import DeterministicRandom, sha256
from veil.relay.protocol.address import decode_fingerprint
from veil.relay.protocol.errors import IdentityMismatch
from veil.relay.transport.identity import (
    CERTIFICATE_FILE,
    IDENTITY_KEY_FILE,
    RelayIdentity,
    certificate_public_key,
    fingerprint_of,
    verify_certificate,
)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _identity(seed: bytes = b"relay") -> RelayIdentity:
    return RelayIdentity.generate(DeterministicRandom(seed), NOW)


def _der(identity: RelayIdentity) -> bytes:
    certificate = x509.load_pem_x509_certificate(identity.certificate_pem)
    return certificate.public_bytes(serialization.Encoding.DER)


def test_fingerprint_is_sha256_of_the_raw_public_key() -> None:
    identity = _identity()
    assert decode_fingerprint(identity.fingerprint) == sha256(identity.key_pair.public)
    assert identity.fingerprint == fingerprint_of(identity.key_pair.public)


def test_certificate_carries_the_identity_key() -> None:
    identity = _identity()
    assert certificate_public_key(_der(identity)) == identity.key_pair.public
    pinned = decode_fingerprint(identity.fingerprint)
    assert verify_certificate(_der(identity), pinned) == identity.key_pair.public


def test_another_identity_does_not_match_the_pin() -> None:
    pinned = decode_fingerprint(_identity(b"one").fingerprint)
    with pytest.raises(IdentityMismatch, match="pinned fingerprint"):
        verify_certificate(_der(_identity(b"two")), pinned)


def test_garbage_certificate_is_a_mismatch() -> None:
    with pytest.raises(IdentityMismatch, match="does not parse"):
        certificate_public_key(b"\x30\x03junk")


def test_save_and_load_round_trip_with_private_modes(tmp_path: Path) -> None:
    identity = _identity()
    identity.save(tmp_path)
    for name in (IDENTITY_KEY_FILE, CERTIFICATE_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    loaded = RelayIdentity.load(tmp_path)
    assert loaded.key_pair.public == identity.key_pair.public
    assert loaded.fingerprint == identity.fingerprint


def test_save_never_overwrites(tmp_path: Path) -> None:
    _identity(b"one").save(tmp_path)
    with pytest.raises(FileExistsError):
        _identity(b"two").save(tmp_path)


def test_load_rejects_a_certificate_of_another_key(tmp_path: Path) -> None:
    _identity(b"one").save(tmp_path)
    (tmp_path / CERTIFICATE_FILE).write_bytes(_identity(b"two").certificate_pem)
    with pytest.raises(ValueError, match="does not match"):
        RelayIdentity.load(tmp_path)
