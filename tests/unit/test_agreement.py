"""Key agreement: both sides agree, the transcript is bound, codecs are strict."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto import DeterministicRandom
from veil.ratchet import (
    CorruptRatchetState,
    InvalidPeerKey,
    InvitationKeys,
    InvitationSecrets,
    MalformedHandshake,
    PostQuantumDropped,
    ReplyKeys,
    UnsupportedRatchetVersion,
    join,
)
from veil.wire import VersionRange


def rng(label: bytes = b"agreement") -> DeterministicRandom:
    return DeterministicRandom(label)


@pytest.mark.parametrize(("offer_pq", "accept_pq"), [(True, True), (True, False), (False, True)])
def test_both_sides_derive_the_same_secret(offer_pq: bool, accept_pq: bool) -> None:
    secrets = InvitationSecrets.generate(rng(), pq=offer_pq)
    reply, joiner = join(secrets.public, rng(b"joiner"), pq=accept_pq)
    inviter = secrets.accept(reply)
    assert joiner.shared_secret == inviter.shared_secret
    assert joiner.pq == inviter.pq == (offer_pq and accept_pq)
    assert joiner.associated_data == inviter.associated_data
    assert (joiner.local_identity_key, joiner.remote_identity_key) == (
        inviter.remote_identity_key,
        inviter.local_identity_key,
    )
    assert joiner.is_initiator and not inviter.is_initiator


@pytest.mark.parametrize("pq", [True, False])
def test_agreement_starts_working_ratchets(pq: bool) -> None:
    secrets = InvitationSecrets.generate(rng(), pq=pq)
    reply, joiner = join(secrets.public, rng(b"joiner"), pq=pq)
    inviter = secrets.accept(reply)
    alice, bob = joiner.ratchet(rng(b"a")), inviter.ratchet(rng(b"b"))
    assert alice.config.pq == bob.config.pq == pq
    ad = joiner.associated_data
    assert bob.decrypt(alice.encrypt(b"hi", ad), ad) == b"hi"
    assert alice.decrypt(bob.encrypt(b"hello", ad), ad) == b"hello"


def test_a_substituted_reply_key_changes_the_secret() -> None:
    secrets = InvitationSecrets.generate(rng(), pq=True)
    reply, joiner = join(secrets.public, rng(b"joiner"))
    _, mallory = join(secrets.public, rng(b"mallory"))
    forged = ReplyKeys(reply.versions, mallory.local_identity_key, reply.ephemeral_key, None)
    assert secrets.accept(forged).shared_secret != joiner.shared_secret


def test_version_ranges_are_bound_into_the_secret() -> None:
    secrets = InvitationSecrets.generate(rng(), pq=False)
    reply, joiner = join(secrets.public, rng(b"joiner"), pq=False)
    widened = ReplyKeys(VersionRange(1, 7), reply.identity_key, reply.ephemeral_key, None)
    assert secrets.accept(widened).shared_secret != joiner.shared_secret


def test_no_common_version_is_refused() -> None:
    secrets = InvitationSecrets.generate(rng(), pq=False, versions=VersionRange(3, 4))
    with pytest.raises(UnsupportedRatchetVersion):
        join(secrets.public, rng())


def test_kem_ciphertext_without_an_offer_is_malformed() -> None:
    offered = InvitationSecrets.generate(rng(), pq=True)
    plain = InvitationSecrets.generate(rng(b"plain"), pq=False)
    reply, _ = join(offered.public, rng())
    with pytest.raises(MalformedHandshake):
        plain.accept(reply)


def test_low_order_identity_key_is_refused() -> None:
    keys = InvitationSecrets.generate(rng(), pq=False).public
    hostile = InvitationKeys(keys.versions, bytes(32), keys.ratchet_key, None)
    with pytest.raises(InvalidPeerKey):
        join(hostile, rng())


@pytest.mark.parametrize("pq", [True, False])
def test_codecs_round_trip_and_reject_trailing_or_missing_bytes(pq: bool) -> None:
    secrets = InvitationSecrets.generate(rng(), pq=pq)
    reply, _ = join(secrets.public, rng())
    for message, codec in ((secrets.public, InvitationKeys), (reply, ReplyKeys)):
        encoded = message.encode()
        assert codec.decode(encoded) == message
        for bad in (encoded + b"\x00", encoded[:-1], encoded[:68] + b"\x02" + encoded[69:]):
            with pytest.raises(MalformedHandshake):
                codec.decode(bad)


def test_encoded_sizes() -> None:
    secrets = InvitationSecrets.generate(rng(), pq=True)
    reply, _ = join(secrets.public, rng())
    assert len(secrets.public.encode()) == 4 + 32 + 32 + 1 + 1184
    assert len(reply.encode()) == 4 + 32 + 32 + 1 + 1088


@settings(max_examples=200, derandomize=True)
@given(data=st.binary(max_size=1300))
def test_handshake_parsers_fuzz(data: bytes) -> None:
    for codec in (InvitationKeys, ReplyKeys):
        with contextlib.suppress(MalformedHandshake):
            codec.decode(data)


@pytest.mark.parametrize("pq", [True, False])
def test_invitation_secrets_persist(pq: bool) -> None:
    secrets = InvitationSecrets.generate(rng(), pq=pq)
    restored = InvitationSecrets.from_bytes(secrets.to_bytes())
    assert restored.public == secrets.public
    assert restored.to_bytes() == secrets.to_bytes()
    for bad in (secrets.to_bytes()[:-1], secrets.to_bytes() + b"\x00", b"\x02" + bytes(70)):
        with pytest.raises(CorruptRatchetState):
            InvitationSecrets.from_bytes(bad)


def test_an_inviter_requiring_pq_refuses_a_reply_without_kem() -> None:
    """F5 (ratchet side): the agent passes ``require_pq=True`` on the first handshake."""
    secrets = InvitationSecrets.generate(rng(), pq=True)
    classical, _ = join(secrets.public, rng(b"joiner"), pq=False)
    with pytest.raises(PostQuantumDropped):
        secrets.accept(classical, require_pq=True)
    hybrid, joiner = join(secrets.public, rng(b"joiner"))
    assert secrets.accept(hybrid, require_pq=True).shared_secret == joiner.shared_secret
    plain_secrets = InvitationSecrets.generate(rng(b"plain"), pq=False)
    plain_reply, _ = join(plain_secrets.public, rng(b"joiner"))
    assert not plain_secrets.accept(plain_reply, require_pq=True).pq


@pytest.mark.parametrize(
    ("inviter", "joiner", "agreed"),
    [((1, 2), (1, 2), 2), ((1, 1), (1, 2), 1), ((1, 2), (1, 1), 1), ((1, 9), (1, 9), 9)],
)
def test_versions_agreed_and_the_tops_both_sides_learn(
    inviter: tuple[int, int], joiner: tuple[int, int], agreed: int
) -> None:
    secrets = InvitationSecrets.generate(rng(), pq=False, versions=VersionRange(*inviter))
    reply, joiner_side = join(secrets.public, rng(b"joiner"), versions=VersionRange(*joiner))
    inviter_side = secrets.accept(reply)
    assert joiner_side.version == inviter_side.version == agreed
    assert (joiner_side.max_version, joiner_side.peer_max_version) == (joiner[1], inviter[1])
    assert (inviter_side.max_version, inviter_side.peer_max_version) == (inviter[1], joiner[1])
