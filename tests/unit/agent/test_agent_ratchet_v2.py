"""The agent on ratchet v2: new connections negotiate v2 and get v2 security codes,
an old (v1-only) peer still connects, and a reply that drops ML-KEM is refused (F5)."""

from __future__ import annotations

import functools

import pytest

from helpers.peers import Peer, invite_peer, join_peer
from veil.agent import connection as connection_module
from veil.agent.effects import Effects, SendFrame
from veil.agent.errors import ConfirmationRejected
from veil.agent.events import ChatEventReceived
from veil.agent.frames import open_sealed
from veil.agent.queues import Identities, QueueState, ReceiveQueue
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.ratchet.agreement import join
from veil.ratchet.errors import PostQuantumDropped
from veil.ratchet.versions import RATCHET_V1, RATCHET_V2
from veil.wire import VersionRange

RELAY = "veil://" + "A" * 43 + "@relay.example"
ALICE, BOB = Profile("Alice").to_handshake_bytes(), Profile("Bob").to_handshake_bytes()


def _queue(seed: int) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 100]) * 24, *[bytes(32)] * 3)


def _frame(step: Effects) -> bytes:
    return next(action.frame for action in step.actions if isinstance(action, SendFrame))


def _connect(*, pq: bool = True) -> tuple[Peer, Peer]:
    rng = DeterministicRandom(b"agent v2")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=pq)
    joiner, joined = join_peer(invitation, _queue(2), BOB, rng)
    joiner.receive(_frame(inviter.receive(_frame(joined), rng)), rng)
    return inviter, joiner


def _talk(sender: Peer, receiver: Peer, text: bytes) -> None:
    (event,) = receiver.receive(sender.send_chat(text).frame, DeterministicRandom(text)).events
    assert isinstance(event, ChatEventReceived) and event.event == text


def test_new_connections_run_ratchet_v2_with_v2_security_codes() -> None:
    inviter, joiner = _connect()
    assert inviter.ratchet is not None and joiner.ratchet is not None
    assert inviter.ratchet.version == joiner.ratchet.version == RATCHET_V2
    code = inviter.security_code()
    assert code == joiner.security_code()
    assert code.qr_payload[0] == RATCHET_V2  # covers the transcript, so the ML-KEM half
    assert inviter.queues.identities is not None
    assert len(inviter.queues.identities.transcript_hash) == 32
    _talk(joiner, inviter, b"hello over v2")


def test_a_v1_only_peer_still_connects_and_keeps_a_v1_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_join = functools.partial(join, versions=VersionRange(1, 1))
    monkeypatch.setattr(connection_module, "join_agreement", old_join)
    inviter, joiner = _connect()
    assert inviter.ratchet is not None and inviter.ratchet.version == RATCHET_V1
    assert inviter.security_code() == joiner.security_code()
    assert inviter.security_code().qr_payload[0] == RATCHET_V1
    for turn in range(3):
        _talk(joiner, inviter, b"from the old client %d" % turn)
        _talk(inviter, joiner, b"from the new client %d" % turn)
    assert inviter.ratchet.version == RATCHET_V1  # never sends v2 to a v1-only peer


def test_a_reply_that_drops_ml_kem_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = DeterministicRandom(b"f5")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=True)
    monkeypatch.setattr(connection_module, "join_agreement", functools.partial(join, pq=False))
    _, joined = join_peer(invitation, _queue(2), BOB, rng)
    with pytest.raises(PostQuantumDropped):
        inviter.receive(_frame(joined), rng)
    assert inviter.queues.invitation_secret is not None  # nothing changed


def test_a_confirmation_is_sealed_to_the_invitations_ml_kem_key_too() -> None:
    rng = DeterministicRandom(b"f6")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=True)
    _, joined = join_peer(invitation, _queue(2), BOB, rng)
    assert inviter.queues.link_key is not None
    with pytest.raises(ConfirmationRejected):  # X25519 alone does not open it (F6)
        open_sealed(X25519KeyPair(inviter.queues.link_key), inviter.open_mine(_frame(joined)).body)
    inviter.receive(_frame(joined), rng)  # with the invitation's ML-KEM key it does
    assert inviter.ratchet is not None


def test_identities_round_trip_and_version_4_state_reads_without_a_transcript() -> None:
    inviter, _ = _connect()
    state = inviter.queues
    assert QueueState.from_bytes(state.to_bytes()) == state
    assert state.identities is not None
    v4 = Identities(state.identities.local, state.identities.remote, False)
    old = QueueState(_queue(1), identities=v4)
    data = bytearray(old.to_bytes())
    data[0] = 4
    transcript_length_at = data.index(v4.local + v4.remote) + 65
    del data[transcript_length_at]  # version 4 had no transcript length byte
    del data[-2:]  # nor the count of undecryptable frames, nor the frame secret
    assert QueueState.from_bytes(bytes(data)).identities == v4
