"""Repair keys that heal (F2) and the automatic repair after a restore.

A thief who copied a connection's state loses the power to forge repairs once the
ratchet moved past the repair window; a side restored from a backup within the
window re-keys with its peer without either user doing anything.
"""

from __future__ import annotations

import dataclasses

import pytest

from helpers.peers import Peer, invite_peer, join_peer
from veil.agent import repair_flow
from veil.agent.effects import Effects, Phase, SendFrame
from veil.agent.errors import RepairRejected
from veil.agent.events import ChatEventReceived, ConnectionRepaired, RepairRequested
from veil.agent.queues import ReceiveQueue
from veil.agent.repair import RESTORE_COUNTER_JUMP
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, SystemRandom
from veil.ratchet.errors import RekeyRequired
from veil.wire import VersionRange

RELAY = "veil://" + "A" * 43 + "@relay.example"
ALICE, BOB = Profile("Alice").to_handshake_bytes(), Profile("Bob").to_handshake_bytes()
RNG = SystemRandom()


def _queue(seed: int) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 100]) * 24, *[bytes(32)] * 3)


def _frame(step: Effects) -> bytes:
    (frame,) = [action.frame for action in step.actions if isinstance(action, SendFrame)]
    return frame


def _connected(*, agent_versions: VersionRange | None = None) -> tuple[Peer, Peer]:
    rng = DeterministicRandom(b"restore")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng, pq=False)
    if agent_versions is not None:  # an inviter running an older agent
        invitation = dataclasses.replace(invitation, agent_versions=agent_versions)
    joiner, joined = join_peer(invitation, _queue(2), BOB, rng)
    joiner.receive(_frame(inviter.receive(_frame(joined), rng)), rng)
    return inviter, joiner


def _round_trips(a: Peer, b: Peer, count: int) -> None:
    """``count`` round trips, each turning the DH ratchet both ways."""
    for turn in range(count):
        for sender, receiver in ((a, b), (b, a)):
            (event,) = receiver.receive(sender.send_chat(b"m%d" % turn).frame, RNG).events
            assert isinstance(event, ChatEventReceived)


def _backup(peer: Peer) -> Peer:
    return Peer(peer.connection.copy(RNG), RNG)


def test_a_stolen_state_cannot_forge_a_repair_after_20_round_trips() -> None:
    inviter, joiner = _connected()
    thief = _backup(joiner)
    _round_trips(inviter, joiner, 20)
    forged = _frame(thief.offer_repair(RNG))
    with pytest.raises(RepairRejected, match="no longer keeps"):
        inviter.receive(forged, RNG)
    assert inviter.phase is Phase.CONNECTED


def test_a_restored_side_re_keys_with_its_peer_automatically() -> None:
    inviter, joiner = _connected()
    backup = _backup(joiner)
    _round_trips(inviter, joiner, 3)  # within the window: 6 root steps of 16
    restored_state, effects = repair_flow.restore(backup.connection, RNG)
    restored = Peer(restored_state, RNG)
    assert restored.ratchet is not None and restored.ratchet.needs_rekey
    assert restored.phase is Phase.REPAIR_OFFERED
    answered = inviter.receive(_frame(effects), RNG)
    # The offer says how far the backup had received (the inviter's hello, envelope
    # 1): the inviter's three later messages are to be sent again.
    assert answered.events == (ConnectionRepaired(automatic=True, resend_after=1),)
    assert inviter.phase is Phase.CONNECTED
    assert restored.receive(_frame(answered), RNG).events == (ConnectionRepaired(),)
    assert restored.security_code() == inviter.security_code()
    _round_trips(restored, inviter, 2)


def test_a_restored_state_never_sends_with_its_old_chain() -> None:
    _, joiner = _connected(agent_versions=VersionRange(1, 1))
    restored, effects = repair_flow.restore(_backup(joiner).connection, RNG)
    assert effects == Effects()  # an agent v1 peer cannot take a restore offer
    with pytest.raises(RekeyRequired):
        restored.send_chats([b"would reuse a message key"], RNG)
    assert restored.queues.repair_auth is not None
    assert restored.queues.repair_auth.sent >= RESTORE_COUNTER_JUMP


def test_a_backup_older_than_the_window_cannot_repair_automatically() -> None:
    inviter, joiner = _connected()
    backup = _backup(joiner)
    _round_trips(inviter, joiner, 10)  # 20 root steps: past the window of 16
    _, effects = repair_flow.restore(backup.connection, RNG)
    with pytest.raises(RepairRejected, match="no longer keeps"):
        inviter.receive(_frame(effects), RNG)


def test_agent_version_1_connections_keep_the_agreement_repair_key() -> None:
    inviter, joiner = _connected(agent_versions=VersionRange(1, 1))
    assert inviter.agent_version == joiner.agent_version == 1
    _round_trips(inviter, joiner, 2)
    assert inviter.receive(_frame(joiner.offer_repair(RNG)), RNG).events == (RepairRequested(),)
    accepted = inviter.accept_repair(RNG)
    assert joiner.receive(_frame(accepted), RNG).events == (ConnectionRepaired(),)
    _round_trips(inviter, joiner, 1)
