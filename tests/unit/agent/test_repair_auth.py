"""Repair frames are authenticated and encrypted with the agreement's repair key.

A relay hosts a queue, so it can put any frame on it: these tests play that relay
(forged, replayed and re-labelled repair frames) and check that the connection
rejects them and stays exactly as it was.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.peers import Peer, invite_peer, join_peer
from veil.agent.connection import Connection, Phase
from veil.agent.effects import Effects, SendFrame
from veil.agent.errors import ConnectionStateCorrupt, RepairRejected, RepairUnavailable
from veil.agent.events import ConnectionRepaired, RepairRequested
from veil.agent.frames import FrameKind, encode_frame
from veil.agent.payloads import RepairAccept, RepairOffer
from veil.agent.queues import QUEUE_STATE_VERSION, Identities, QueueState, ReceiveQueue
from veil.agent.repair import RepairAuth
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, SystemRandom
from veil.ratchet.agreement import InvitationKeys, InvitationSecrets
from veil.ratchet.agreement import join as join_agreement
from veil.wire import Reader, Writer

RELAY = "veil://" + "A" * 43 + "@relay.example"
ALICE, BOB = Profile("Alice").to_handshake_bytes(), Profile("Bob").to_handshake_bytes()
RNG = SystemRandom()

#: A CONNECTED joiner's queue state written by the version-3 encoder (commit
#: 656d17c, before repair keys): receive queue ids 01../65.., keys 11/12/13, send
#: queue 02.. with sender key 21.., identities 31../32.. (joiner), and two committed
#: marks (a 24-byte relay id of 41s and a 32-byte frame digest of 42s).
QUEUE_STATE_V3 = bytes.fromhex(
    "0300407665696c3a2f2f4141414141414141414141414141414141414141414141414141414141414141"
    "41414141414141414141414072656c61792e6578616d706c650101010101010101010101010101010101"
    "010101010101016565656565656565656565656565656565656565656565651111111111111111111111"
    "111111111111111111111111111111111111111111121212121212121212121212121212121212121212"
    "121212121212121212121213131313131313131313131313131313131313131313131313131313131313"
    "130100407665696c3a2f2f41414141414141414141414141414141414141414141414141414141414141"
    "4141414141414141414141414072656c61792e6578616d706c6502020202020202020202020202020202"
    "020202020202020221212121212121212121212121212121212121212121212121212121212121210000"
    "013131313131313131313131313131313131313131313131313131313131313131323232323232323232"
    "323232323232323232323232323232323232323232323201000218414141414141414141414141414141"
    "414141414141414141204242424242424242424242424242424242424242424242424242424242424242"
)


def _queue(seed: int) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 100]) * 24, *[bytes(32)] * 3)


def _frames(step: Effects) -> list[bytes]:
    return [action.frame for action in step.actions if isinstance(action, SendFrame)]


def _connected(*, pq: bool) -> tuple[Peer, Peer]:
    rng = DeterministicRandom(b"repair auth %d" % pq)
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=pq)
    joiner, joined = join_peer(invitation, _queue(2), BOB, rng)
    confirmed = inviter.receive(_frames(joined)[0], rng)
    joiner.receive(_frames(confirmed)[0], rng)
    return inviter, joiner


def _snapshot(connection: Peer) -> tuple[Phase, bytes, bytes]:
    assert connection.ratchet is not None
    return connection.phase, connection.queues.to_bytes(), connection.ratchet.to_bytes()


def _auth(connection: Peer) -> RepairAuth:
    assert connection.queues.repair_auth is not None
    return connection.queues.repair_auth


def _sealed(auth: RepairAuth, kind: FrameKind, payload: bytes, to: Peer | None = None) -> bytes:
    """Sealed with the agreement's key, as at agent version 1; with ``to``, in a frame
    sealed to its queue (a relay that also knows the queue key, from the link)."""
    body = auth.seal(kind, payload, RNG)[1]
    return encode_frame(kind, body) if to is None else to.frame_to_me(kind, body)


def _sealed_by(sender: Peer, kind: FrameKind, payload: bytes, to: Peer) -> bytes:
    """Sealed as ``sender`` seals from agent version 2: its newest ratchet repair key."""
    assert sender.ratchet is not None
    body = _auth(sender).seal(kind, payload, RNG, sender.ratchet.repair_key())[1]
    return to.frame_to_me(kind, body)


def _forged_auth(of: Peer) -> RepairAuth:
    """What a relay can build: the right role and format, but its own key."""
    return RepairAuth(RNG.random_bytes(32), _auth(of).is_joiner, pq=True)


def test_both_sides_derive_one_repair_key_per_agreement_and_each_repair_renews_it() -> None:
    inviter, joiner = _connected(pq=True)
    first = _auth(inviter)
    assert first.key == _auth(joiner).key and first.pq
    assert (first.is_joiner, _auth(joiner).is_joiner) == (False, True)
    (offer,) = _frames(joiner.offer_repair(RNG))
    assert inviter.receive(offer, RNG).events == (RepairRequested(),)
    accepted = inviter.accept_repair(RNG)
    assert joiner.receive(_frames(accepted)[0], RNG).events == (ConnectionRepaired(),)
    assert _auth(inviter).key == _auth(joiner).key != first.key
    assert (_auth(inviter).sent, _auth(joiner).received) == (0, 0)  # counters restart
    assert str(inviter.security_code()) == str(joiner.security_code())


def test_a_relay_injected_repair_offer_is_rejected_and_changes_nothing() -> None:
    inviter, _ = _connected(pq=True)
    keys = InvitationSecrets.generate(RNG).public.encode()
    payload = RepairOffer(1, keys).to_bytes()
    before = _snapshot(inviter)
    for forged in (
        inviter.frame_to_me(FrameKind.REPAIR_OFFER, payload),  # the unauthenticated v1 layout
        _sealed(_forged_auth(inviter), FrameKind.REPAIR_OFFER, payload, inviter),
    ):
        with pytest.raises(RepairRejected):
            inviter.receive(forged, RNG)
        assert _snapshot(inviter) == before


def test_a_relay_can_neither_read_an_offer_nor_answer_it() -> None:
    inviter, joiner = _connected(pq=True)
    (offer,) = _frames(joiner.offer_repair(RNG))
    assert joiner.queues.invitation_secret is not None
    offered = InvitationSecrets.from_bytes(joiner.queues.invitation_secret).public
    for public_key in (offered.identity_key, offered.ratchet_key, offered.kem_public):
        assert public_key is not None and public_key not in offer
    # The relay answers with keys of its own, in both the old and the sealed layout.
    reply, agreement = join_agreement(InvitationSecrets.generate(RNG).public, RNG)
    answer = RepairAccept(reply.encode(), agreement.ratchet(RNG).encrypt(b"x", b"")).to_bytes()
    before = _snapshot(joiner)
    for forged in (
        joiner.frame_to_me(FrameKind.REPAIR_ACCEPT, answer),
        _sealed(_forged_auth(joiner), FrameKind.REPAIR_ACCEPT, answer, joiner),
    ):
        with pytest.raises(RepairRejected):
            joiner.receive(forged, RNG)
        assert _snapshot(joiner) == before
    assert inviter.receive(offer, RNG).events == (RepairRequested(),)  # the real one works


def test_replayed_or_relabelled_repair_frames_are_rejected() -> None:
    inviter, joiner = _connected(pq=False)
    inviter.offer_repair(RNG)  # crossing offers: the inviter will also await an answer
    (first,) = _frames(joiner.offer_repair(RNG))
    (second,) = _frames(joiner.offer_repair(RNG))
    inviter.receive(first, RNG)
    before = _snapshot(inviter)
    with pytest.raises(RepairRejected, match="already used"):
        inviter.receive(first, RNG)
    assert _snapshot(inviter) == before
    inviter.receive(second, RNG)
    with pytest.raises(RepairRejected, match="already used"):
        inviter.receive(first, RNG)
    # An offer's body delivered as an answer: the frame kind is authenticated too.
    relabelled = inviter.frame_to_me(FrameKind.REPAIR_ACCEPT, inviter.open_mine(second).body)
    with pytest.raises(RepairRejected, match="did not authenticate"):
        inviter.receive(relabelled, RNG)


def test_a_repair_that_drops_post_quantum_keys_is_rejected() -> None:
    inviter, joiner = _connected(pq=True)
    classic = InvitationSecrets.generate(RNG, pq=False).public.encode()
    offer_bytes = RepairOffer(2, classic).to_bytes()
    downgrade = _sealed_by(joiner, FrameKind.REPAIR_OFFER, offer_bytes, inviter)
    before = _snapshot(inviter)
    with pytest.raises(RepairRejected, match="post-quantum"):
        inviter.receive(downgrade, RNG)
    assert _snapshot(inviter) == before
    (offer,) = _frames(inviter.offer_repair(RNG))
    joiner.receive(offer, RNG)
    assert joiner.queues.repair_offer is not None
    keys = InvitationKeys.decode(joiner.queues.repair_offer)
    reply, _ = join_agreement(keys, RNG, pq=False)
    answer = RepairAccept(reply.encode(), b"first message").to_bytes()
    with pytest.raises(RepairRejected, match="post-quantum"):
        inviter.receive(_sealed_by(joiner, FrameKind.REPAIR_ACCEPT, answer, inviter), RNG)
    assert inviter.phase is Phase.REPAIR_OFFERED


def test_pinned_version_3_state_migrates_and_refuses_repair() -> None:
    state = QueueState.from_bytes(QUEUE_STATE_V3)
    assert state.repair_auth is None
    assert state.identities == Identities(b"\x31" * 32, b"\x32" * 32, True)
    assert state.send is not None and state.send.sender_auth_key == b"\x21" * 32
    assert state.delivered.holds(b"\x41" * 24, b"another frame")
    rewritten = state.to_bytes()
    assert rewritten[0] == QUEUE_STATE_VERSION
    assert QueueState.from_bytes(rewritten) == state
    legacy = Connection(Phase.CONNECTED, state, BOB)
    with pytest.raises(RepairUnavailable, match="new invitation"):
        legacy.offer_repair(RNG)
    payload = RepairOffer(1, InvitationSecrets.generate(RNG).public.encode()).to_bytes()
    offer = _sealed(RepairAuth(bytes(32), False, True), FrameKind.REPAIR_OFFER, payload)
    with pytest.raises(RepairRejected, match="no repair key"):
        legacy.receive(offer, RNG)
    assert legacy.queues == state


def test_repair_key_state_round_trips_and_rejects_bad_flags() -> None:
    auth = RepairAuth(bytes(range(32)), True, False, sent=3, received=2**64 - 1)
    state = QueueState(_queue(3), repair_auth=auth)
    assert QueueState.from_bytes(state.to_bytes()) == state
    good = Writer()
    auth.encode(good)
    for flag_at in (32, 33):
        damaged = bytearray(good.build())
        damaged[flag_at] = 2
        with pytest.raises(ConnectionStateCorrupt):
            RepairAuth.decode(Reader(bytes(damaged)))


@given(st.binary(max_size=120))
def test_random_repair_bodies_only_raise_repair_rejected(body: bytes) -> None:
    with contextlib.suppress(RepairRejected):
        RepairAuth(bytes(32), False, True).open(FrameKind.REPAIR_OFFER, body)
        pytest.fail("a random body authenticated")
