"""Security codes: equal on both sides, sensitive to every key, compared in constant time."""

from __future__ import annotations

import pytest

from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.ratchet import InvitationSecrets, join, security_code


def keys(count: int) -> list[bytes]:
    rng = DeterministicRandom(b"security code")
    return [X25519KeyPair.generate(rng).public for _ in range(count)]


def test_both_sides_of_a_connection_see_the_same_code() -> None:
    rng = DeterministicRandom(b"connection")
    secrets = InvitationSecrets.generate(rng, pq=False)
    reply, joiner = join(secrets.public, rng, pq=False)
    inviter = secrets.accept(reply)
    ours = security_code(joiner.local_identity_key, joiner.remote_identity_key)
    theirs = security_code(inviter.local_identity_key, inviter.remote_identity_key)
    assert ours == theirs
    assert ours.matches_scanned(theirs.qr_payload)


def test_shape_of_digits_and_payload() -> None:
    alice, bob = keys(2)
    code = security_code(alice, bob)
    assert len(code.digits) == 60 and code.digits.isdigit()
    assert [len(group) for group in code.groups] == [5] * 12
    assert str(code) == " ".join(code.groups)
    assert len(code.qr_payload) == 1 + 32 + 32 and code.qr_payload[0] == 1


def test_a_substituted_key_changes_the_code() -> None:
    alice, bob, mallory = keys(3)
    genuine = security_code(alice, bob)
    for forged in (security_code(alice, mallory), security_code(mallory, bob)):
        assert forged.digits != genuine.digits
        assert not genuine.matches_scanned(forged.qr_payload)


def test_keys_must_be_x25519_public_keys() -> None:
    with pytest.raises(ValueError):
        security_code(bytes(31), bytes(32))
