"""Two clients of different ratchet versions, and v1 connections upgrading in place."""

from __future__ import annotations

import pytest

from helpers.ratchet_pairs import agreed_pair, pinned_v1_sessions
from veil.crypto import DeterministicRandom
from veil.ratchet import InvitationSecrets, Ratchet, join
from veil.ratchet.versions import mark_capable
from veil.wire import VersionRange, Writer

V1_ONLY, V1_V2 = VersionRange(1, 1), VersionRange(1, 2)


def converse(alice: Ratchet, bob: Ratchet, ad: bytes, turns: int) -> list[int]:
    """Alternate directions (a DH turn each time); return every message's version byte
    and check each side's sending versions never go down."""
    versions, last = [], {id(alice): 0, id(bob): 0}
    for turn in range(turns):
        sender, receiver = (alice, bob) if turn % 2 == 0 else (bob, alice)
        for index in range(2):
            plaintext = b"turn %d message %d" % (turn, index)
            message = sender.encrypt(plaintext, ad)
            assert message[0] >= last[id(sender)]
            last[id(sender)] = message[0]
            versions.append(message[0])
            assert receiver.decrypt(message, ad) == plaintext
    return versions


@pytest.mark.parametrize(("joiner", "inviter"), [(V1_ONLY, V1_V2), (V1_V2, V1_ONLY)])
@pytest.mark.parametrize("pq", [False, True])
def test_a_v2_client_talks_v1_with_a_v1_only_client(
    joiner: VersionRange, inviter: VersionRange, pq: bool
) -> None:
    alice, bob, ad = agreed_pair(b"mixed %d" % pq, pq=pq, versions=inviter, joiner_versions=joiner)
    assert set(converse(alice, bob, ad, turns=6)) == {1}
    v2_side = alice if joiner == V1_V2 else bob
    assert (v2_side.version, v2_side.max_version, v2_side.peer_max_version) == (1, 2, 1)


def test_two_v2_clients_agree_v2_from_the_start() -> None:
    alice, bob, ad = agreed_pair(b"both v2", pq=True)
    assert set(converse(alice, bob, ad, turns=4)) == {2}


@pytest.mark.parametrize("pq", [False, True])
def test_a_v1_connection_upgrades_in_place_at_its_next_dh_turns(pq: bool) -> None:
    joiner, inviter, ad = pinned_v1_sessions(pq)
    assert (joiner.version, joiner.max_version, joiner.peer_max_version) == (1, 2, 1)
    versions = converse(inviter, joiner, ad, turns=6)
    assert versions[:2] == [1, 1]  # nobody sends v2 before learning its peer speaks it
    assert versions[-4:] == [2, 2, 2, 2]
    for side in (joiner, inviter):
        assert (side.version, side.peer_max_version) == (2, 2)
        reloaded = Ratchet.from_bytes(side.to_bytes(), DeterministicRandom(b"reload"))
        assert reloaded.version == 2


@pytest.mark.parametrize("pq", [False, True])
def test_a_v1_only_peer_upgrading_later_brings_the_connection_to_v2(pq: bool) -> None:
    """A v2 client joins a v1-only inviter; the inviter's software is then updated (its
    stored state is format 1, migrated on load, holding the joiner's ratchet key with
    the capability bit as old Veil stored it): the connection moves to v2."""
    rng = DeterministicRandom(b"late upgrade %d" % pq)
    secrets = InvitationSecrets.generate(rng, pq=pq, versions=V1_ONLY)
    reply, joiner_agreement = join(secrets.public, rng, pq=pq, versions=V1_V2)
    joiner = joiner_agreement.ratchet(rng)
    inviter = secrets.accept(reply).ratchet(rng)
    ad = joiner_agreement.associated_data
    assert set(converse(joiner, inviter, ad, turns=3)) == {1}
    inviter = Ratchet.from_bytes(as_format_1(inviter), rng)
    versions = converse(inviter, joiner, ad, turns=6)
    assert versions[-4:] == [2, 2, 2, 2]


def as_format_1(ratchet: Ratchet) -> bytes:
    """What Veil before ratchet v2 stored for the same session (format 1: format 2
    without its trailer, and the peer's ratchet key as received, so with the
    capability bit of a v2-capable peer). Reads and edits the ratchet's private
    state: only a test needs to write the old format."""
    assert ratchet._state.dh_remote is not None
    ratchet._state.dh_remote = mark_capable(ratchet._state.dh_remote)
    flags = int(ratchet.config.header_encryption) | int(ratchet.config.pq) << 1
    writer = Writer().u8(1).u16(ratchet.version).u8(flags).u8(ratchet.config.cipher.cipher_id)
    ratchet._state.encode(writer)
    ratchet._skipped.encode(writer)
    return writer.build()
