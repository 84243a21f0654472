"""A relay learns nothing from the size of what it carries: every frame an agent
emits, of every kind and whatever it holds, has the same length, and from agent
version 3 the whole frame is encrypted to its queue (veil.agent.queue_frames), with
every body inside filled to one length before its own encryption."""

from __future__ import annotations

import pytest

from helpers.peers import Peer, invite_peer, join_peer
from veil.agent.effects import Effects, SendFrame
from veil.agent.frames import FRAME_SIZE, MAX_FRAME_BODY, seal
from veil.agent.queues import ReceiveQueue
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, X25519KeyPair

RELAY = "veil://" + "A" * 43 + "@relay.example"


def _queue(seed: int) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 100]) * 24, *[bytes(32)] * 3)


def _frames(step: Effects) -> list[bytes]:
    return [action.frame for action in step.actions if isinstance(action, SendFrame)]


@pytest.mark.parametrize("pq", [False, True])
def test_every_frame_kind_and_size_has_the_same_body_length(pq: bool) -> None:
    rng = DeterministicRandom(b"sizes")
    inviter, invitation = invite_peer(_queue(1), Profile("A").to_handshake_bytes(), rng, pq=pq)
    joiner, joined = join_peer(
        invitation, _queue(2), Profile("B", bio="x" * 500).to_handshake_bytes(), rng
    )
    sent: list[tuple[bytes, Peer]] = [(f, inviter) for f in _frames(joined)]  # confirmation
    confirmed = inviter.receive(sent[0][0], rng)
    sent += [(f, joiner) for f in _frames(confirmed)]  # the hello
    joiner.receive(sent[-1][0], rng)
    sent += [(joiner.send_chat(b"").frame, inviter), (joiner.send_chat(b"x" * 9000).frame, inviter)]
    sent += [(inviter.send_chat(b"hi").frame, joiner)]
    sent += [(f, joiner) for f in _frames(inviter.offer_repair(rng))]
    joiner.receive(sent[-1][0], rng)
    sent += [(f, inviter) for f in _frames(joiner.accept_repair(rng))]
    assert {len(frame) for frame, _ in sent} == {FRAME_SIZE}
    # Inside the queue frame layer (agent version 3) every body has the same length too.
    opened = [to.open_mine(frame) for frame, to in sent]
    assert {len(frame.body) for frame in opened} == {MAX_FRAME_BODY}
    assert len({frame.kind for frame in opened}) == 4  # confirmation, message, repair x2
    request = seal(X25519KeyPair.generate(rng).public, b"a contact request", rng)
    assert len(request) == MAX_FRAME_BODY  # a sealed body alone already fills a frame
