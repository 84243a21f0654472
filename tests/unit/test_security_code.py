"""Security codes: equal on both sides, sensitive to every key, compared in constant time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.ratchet import Agreement, InvitationSecrets, join, security_code
from veil.wire import VersionRange


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


def agreements(versions: VersionRange, seed: bytes = b"code v2") -> tuple[Agreement, Agreement]:
    rng = DeterministicRandom(seed)
    secrets = InvitationSecrets.generate(rng, pq=True, versions=versions)
    reply, joiner = join(secrets.public, rng, versions=versions)
    return joiner, secrets.accept(reply)


def test_v2_connections_compare_a_code_over_the_whole_transcript() -> None:
    """F9: both sides see one v2 code; it differs from the identity-only v1 code."""
    joiner, inviter = agreements(VersionRange(1, 2))
    assert joiner.version == 2 and joiner.transcript_hash == inviter.transcript_hash
    code = joiner.security_code()
    assert code == inviter.security_code()
    assert code.qr_payload[0] == 2
    assert code != security_code(joiner.local_identity_key, joiner.remote_identity_key)


def test_v1_connections_keep_their_v1_code() -> None:
    joiner, inviter = agreements(VersionRange(1, 1))
    v1_code = security_code(joiner.local_identity_key, joiner.remote_identity_key)
    assert joiner.security_code() == inviter.security_code() == v1_code
    assert v1_code.qr_payload[0] == 1


def test_a_replaced_kem_key_changes_the_v2_code() -> None:
    """An active attacker who swaps only the ML-KEM half of the invitation (same
    identity keys) makes the two sides' codes differ."""
    rng = DeterministicRandom(b"kem swap")
    secrets = InvitationSecrets.generate(rng, pq=True)
    attacker_kem = InvitationSecrets.generate(rng, pq=True).public.kem_public
    swapped = replace(secrets.public, kem_public=attacker_kem)
    reply, joiner = join(swapped, rng)
    honest_reply, _ = join(secrets.public, rng)
    inviter_view = secrets.accept(replace(honest_reply, identity_key=reply.identity_key))
    assert joiner.remote_identity_key == inviter_view.local_identity_key
    assert joiner.local_identity_key == inviter_view.remote_identity_key
    assert joiner.security_code() != inviter_view.security_code()


def test_a_transcript_hash_of_the_wrong_size_is_refused() -> None:
    alice, bob = keys(2)
    with pytest.raises(ValueError):
        security_code(alice, bob, transcript_hash=bytes(31))
