"""The sans-I/O connection: handshake table, messages, redelivery, persistence, MITM."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers.peers import Peer, invite_peer, join_peer
from veil.agent.connection import Connection, Phase
from veil.agent.effects import Effects, Invitation, SecurePeerQueue, SendFrame
from veil.agent.envelope import EnvelopeTracker
from veil.agent.errors import (
    ConfirmationRejected,
    ConnectionNotReady,
    FrameNotOpened,
    UnexpectedFrame,
)
from veil.agent.events import (
    ChatEventReceived,
    ConnectionEstablished,
    ConnectionRepaired,
    DuplicateDropped,
    PeerConfirmed,
    RepairRequested,
)
from veil.agent.frames import FRAME_SIZE, FrameKind, encode_frame
from veil.agent.queues import QueueState, ReceiveQueue
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, SystemRandom
from veil.errors import ProtocolError
from veil.ratchet.double_ratchet import Ratchet
from veil.relay.protocol.queue_commands import MAX_MESSAGE_BODY
from veil.wire import VersionRange

RELAY = "veil://" + "A" * 43 + "@relay.example"
ALICE, BOB = (
    Profile("Alice").to_handshake_bytes(),
    Profile("Bob", bio="builder").to_handshake_bytes(),
)


def _queue(seed: int) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 100]) * 24, *[bytes(32)] * 3)


def _frames(step: Effects) -> list[bytes]:
    return [action.frame for action in step.actions if isinstance(action, SendFrame)]


def _handshake(pq: bool = False) -> tuple[Peer, Peer, Effects, Effects]:
    rng = DeterministicRandom(b"handshake")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=pq)
    joiner, joined = join_peer(invitation, _queue(2), BOB, rng)
    confirmed = inviter.receive(_frames(joined)[0], rng)
    established = joiner.receive(_frames(confirmed)[0], rng)
    return inviter, joiner, confirmed, established


def test_handshake_reaches_connected_on_both_sides_with_the_right_actions() -> None:
    inviter, joiner, confirmed, established = _handshake()
    assert inviter.phase is joiner.phase is Phase.CONNECTED
    # The joiner secured the inviter's queue before sending to it, and vice versa.
    assert [type(a) for a in confirmed.actions] == [SecurePeerQueue, SendFrame]
    assert confirmed.events == (PeerConfirmed(BOB), ConnectionEstablished(BOB))
    assert established.events == (ConnectionEstablished(ALICE),)
    assert inviter.queues.send is not None and joiner.queues.send is not None
    assert inviter.queues.send.address == _queue(2).address
    assert joiner.queues.send.address == _queue(1).address
    # Handshake secrets are spent once the agreement is done.
    assert inviter.queues.link_key is None and inviter.queues.invitation_secret is None


def test_messages_flow_both_ways_in_fixed_size_frames() -> None:
    inviter, joiner, _, _ = _handshake()
    rng = SystemRandom()
    for text in (b"hi", b"x" * 5000):
        frame = joiner.send_chat(text).frame
        assert len(frame) == FRAME_SIZE <= MAX_MESSAGE_BODY
        (event,) = inviter.receive(frame, rng).events
        assert isinstance(event, ChatEventReceived)
        assert (event.event, event.integrity) == (text, "ok")
    reply = inviter.send_chat(b"back").frame
    (event,) = joiner.receive(reply, rng).events
    assert isinstance(event, ChatEventReceived) and event.event == b"back"
    assert event.sequence == 2  # the hello was the inviter's first envelope


def test_post_quantum_handshake_works_and_codes_match() -> None:
    inviter, joiner, _, _ = _handshake(pq=True)
    assert inviter.ratchet is not None and inviter.ratchet.config.pq
    assert str(inviter.security_code()) == str(joiner.security_code())
    (event,) = inviter.receive(joiner.send_chat(b"pq").frame, SystemRandom()).events
    assert isinstance(event, ChatEventReceived) and event.event == b"pq"


def test_redelivered_frames_are_dropped_not_errors() -> None:
    inviter, joiner, _, _ = _handshake()
    rng = SystemRandom()
    frame = joiner.send_chat(b"once").frame
    inviter.receive(frame, rng)
    assert inviter.receive(frame, rng).events == (DuplicateDropped("message already decrypted"),)


def test_late_confirmation_after_connecting_is_dropped() -> None:
    rng = DeterministicRandom(b"late")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=False)
    _, joined = join_peer(invitation, _queue(2), BOB, rng)
    inviter.receive(_frames(joined)[0], rng)
    (event,) = inviter.receive(_frames(joined)[0], rng).events
    assert isinstance(event, DuplicateDropped)


def test_frames_outside_the_table_are_rejected() -> None:
    rng = DeterministicRandom(b"table")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=False)
    with pytest.raises(UnexpectedFrame, match="RATCHET_MESSAGE frame in phase inviter"):
        inviter.receive(encode_frame(FrameKind.RATCHET_MESSAGE, b"x"), rng)
    with pytest.raises(UnexpectedFrame, match="CONTACT_REQUEST"):
        inviter.receive(encode_frame(FrameKind.CONTACT_REQUEST, b"x"), rng)
    joiner, _ = join_peer(invitation, _queue(2), BOB, rng)
    with pytest.raises(UnexpectedFrame):
        joiner.receive(joiner.frame_to_me(FrameKind.CONFIRMATION, b"x"), rng)
    with pytest.raises(FrameNotOpened):  # agent version 3: a frame in the clear
        joiner.receive(encode_frame(FrameKind.CONFIRMATION, b"x"), rng)
    with pytest.raises(ConnectionNotReady):
        joiner.send_chat(b"too early")


def test_confirmation_sealed_to_another_key_is_rejected() -> None:
    rng = DeterministicRandom(b"wrong key")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=False)
    _, other = invite_peer(_queue(3), ALICE, rng, pq=False)
    for versions, error in ((VersionRange(1, 2), ConfirmationRejected), (None, FrameNotOpened)):
        forged = Invitation(invitation.queue, other.link_key, invitation.ratchet_invitation)
        forged = forged if versions is None else replace(forged, agent_versions=versions)
        _, joined = join_peer(forged, _queue(2), BOB, rng)
        with pytest.raises(error):  # at agent version 3 the frame key differs already
            inviter.receive(_frames(joined)[0], rng)
        assert inviter.phase is Phase.INVITER_AWAITS_CONFIRMATION


def test_substituted_link_keys_give_different_security_codes() -> None:
    """A man in the middle replaces the inviter's link with his own and relays both ways."""
    rng = DeterministicRandom(b"mitm")
    alice, alice_invitation = invite_peer(_queue(1), ALICE, rng, pq=False)
    mallory_to_alice, joined = join_peer(
        alice_invitation, _queue(5), Profile("Bob").to_handshake_bytes(), rng
    )
    alice.receive(_frames(joined)[0], rng)
    mallory_to_bob, mallory_invitation = invite_peer(_queue(6), ALICE, rng, pq=False)
    bob, joined = join_peer(mallory_invitation, _queue(2), BOB, rng)
    mallory_to_bob.receive(_frames(joined)[0], rng)
    assert str(alice.security_code()) == str(mallory_to_alice.security_code())
    assert str(alice.security_code()) != str(bob.security_code())


def test_state_survives_persistence_between_every_message() -> None:
    inviter, joiner, _, _ = _handshake()
    rng = SystemRandom()
    for number in range(3):
        frame = joiner.send_chat(b"%d" % number).frame
        assert inviter.ratchet is not None
        restored = Connection(
            Phase(inviter.phase.value),
            QueueState.from_bytes(inviter.queues.to_bytes()),
            ALICE,
            inviter.agent_version,
            Ratchet.from_bytes(inviter.ratchet.to_bytes(), rng),
            EnvelopeTracker.from_bytes(inviter.tracker.to_bytes()),
        )
        inviter = Peer(restored, rng)
        (event,) = inviter.receive(frame, rng).events
        assert isinstance(event, ChatEventReceived) and event.integrity == "ok"


def _repair(offerer: Peer, accepter: Peer) -> None:
    rng = SystemRandom()
    (offer,) = _frames(offerer.offer_repair(rng))
    assert offerer.phase is Phase.REPAIR_OFFERED
    assert [type(e) for e in accepter.receive(offer, rng).events] == [RepairRequested]
    assert accepter.phase is Phase.REPAIR_REQUESTED
    accepted = accepter.accept_repair(rng)
    assert accepted.events == (ConnectionRepaired(),)
    assert offerer.receive(_frames(accepted)[0], rng).events == (ConnectionRepaired(),)
    assert (offerer.phase, accepter.phase) == (Phase.CONNECTED, Phase.CONNECTED)


def test_repair_re_agrees_keys_over_the_same_queues() -> None:
    inviter, joiner, _, _ = _handshake()
    queues_before = (inviter.queues.receive, inviter.queues.send)
    code_before = str(inviter.security_code())
    _repair(joiner, inviter)
    assert (inviter.queues.receive, inviter.queues.send) == queues_before
    assert str(inviter.security_code()) == str(joiner.security_code()) != code_before
    rng = SystemRandom()
    for sender, receiver in ((joiner, inviter), (inviter, joiner)):
        (event,) = receiver.receive(sender.send_chat(b"after").frame, rng).events
        assert isinstance(event, ChatEventReceived)
        assert (event.event, event.integrity) == (b"after", "ok")


def test_crossing_repair_offers_complete_when_one_side_consents() -> None:
    inviter, joiner, _, _ = _handshake()
    rng = SystemRandom()
    (inviter_offer,) = _frames(inviter.offer_repair(rng))
    (joiner_offer,) = _frames(joiner.offer_repair(rng))
    inviter.receive(joiner_offer, rng)
    joiner.receive(inviter_offer, rng)
    accepted = inviter.accept_repair(rng)
    assert joiner.receive(_frames(accepted)[0], rng).events == (ConnectionRepaired(),)
    assert str(inviter.security_code()) == str(joiner.security_code())


def test_repair_needs_an_offer_and_an_established_connection() -> None:
    rng = DeterministicRandom(b"repair misuse")
    inviter, _ = invite_peer(_queue(1), ALICE, rng, pq=False)
    with pytest.raises(ConnectionNotReady):
        inviter.offer_repair(rng)
    established, peer, _, _ = _handshake()
    with pytest.raises(ConnectionNotReady):
        established.accept_repair(rng)
    with pytest.raises(ProtocolError):
        established.receive(established.frame_to_me(FrameKind.REPAIR_OFFER, b"\x00\x01x"), rng)
    (offer,) = _frames(peer.offer_repair(rng))
    established.receive(offer, rng)
    with pytest.raises(UnexpectedFrame, match="without an offer"):
        established.receive(established.frame_to_me(FrameKind.REPAIR_ACCEPT, b"\x00\x00"), rng)


def _state(connection: Connection) -> tuple[str, bytes, bytes, bytes]:
    assert connection.ratchet is not None
    return (
        connection.phase.value,
        connection.queues.to_bytes(),
        connection.ratchet.to_bytes(),
        connection.tracker.to_bytes(),
    )


def test_every_input_returns_a_new_state_and_leaves_the_old_one_as_it_was() -> None:
    inviter, joiner, _, _ = _handshake()
    rng = SystemRandom()
    before_send, before_receive = _state(joiner.connection), _state(inviter.connection)
    sender, ((sequence, frame),) = joiner.connection.send_chats([b"hello"], rng)
    assert _state(joiner.connection) == before_send and sequence == 2
    receiver, effects = inviter.connection.receive(frame.frame, rng)
    assert _state(inviter.connection) == before_receive
    assert [type(e) for e in effects.events] == [ChatEventReceived]
    assert _state(receiver) != before_receive and _state(sender) != before_send
    # The old state still decrypts the same frame: nothing of the first receive leaked.
    _, again = inviter.connection.receive(frame.frame, rng)
    assert again.events == effects.events


def test_a_frame_that_fails_half_way_changes_nothing() -> None:
    inviter, joiner, _, _ = _handshake()
    rng = SystemRandom()
    before = _state(inviter.connection)
    frame = bytearray(joiner.send_chat(b"tampered").frame)
    frame[-1] ^= 1  # the ratchet rejects it after decoding the frame and the header
    with pytest.raises(ProtocolError):
        inviter.connection.receive(bytes(frame), rng)
    assert _state(inviter.connection) == before
