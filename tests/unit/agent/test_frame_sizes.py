"""A relay learns nothing from the size of what it carries: every frame an agent
emits, of every kind and whatever it holds, has the same content length, because the
padding that fills it sits inside the encryption."""

from __future__ import annotations

import pytest

from helpers.peers import invite_peer, join_peer
from veil.agent.effects import Effects, SendFrame
from veil.agent.frames import FRAME_SIZE, MAX_FRAME_BODY, decode_frame, seal
from veil.agent.queues import ReceiveQueue
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, X25519KeyPair

RELAY = "veil://" + "A" * 43 + "@relay.example"


def _queue(seed: int) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 100]) * 24, *[bytes(32)] * 3)


def _frames(step: Effects) -> list[bytes]:
    return [action.frame for action in step.actions if isinstance(action, SendFrame)]


def _content_length(frame: bytes) -> int:
    assert len(frame) == FRAME_SIZE
    return int.from_bytes(frame[:2], "big")  # the frame padding's length prefix, in clear


@pytest.mark.parametrize("pq", [False, True])
def test_every_frame_kind_and_size_has_the_same_content_length(pq: bool) -> None:
    rng = DeterministicRandom(b"sizes")
    inviter, invitation = invite_peer(_queue(1), Profile("A").to_handshake_bytes(), rng, pq=pq)
    joiner, joined = join_peer(
        invitation, _queue(2), Profile("B", bio="x" * 500).to_handshake_bytes(), rng
    )
    frames = _frames(joined)  # the confirmation
    confirmed = inviter.receive(frames[0], rng)
    frames += _frames(confirmed)  # the hello
    joiner.receive(frames[-1], rng)
    frames += [joiner.send_chat(b"").frame, joiner.send_chat(b"x" * 9000).frame]
    frames += [inviter.send_chat(b"hi").frame]
    frames += _frames(inviter.offer_repair(rng))
    joiner.receive(frames[-1], rng)
    frames += _frames(joiner.accept_repair(rng))
    frames += [seal(X25519KeyPair.generate(rng).public, b"a contact request", rng)]
    lengths = {_content_length(f) for f in frames[:-1]}
    assert lengths == {2 + MAX_FRAME_BODY}
    assert len(frames[-1]) == MAX_FRAME_BODY  # a sealed body alone already fills a frame
    kinds = {decode_frame(f).kind for f in frames[:-1]}
    assert len(kinds) == 4  # confirmation, ratchet message, repair offer, repair accept
