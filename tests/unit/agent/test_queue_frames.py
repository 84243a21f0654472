"""The queue frame layer (agent version 3): every frame sealed to its queue, and
connections with older peers still in the clear."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.peers import Peer, invite_peer, join_peer
from veil.agent.effects import Effects, Invitation, SendFrame
from veil.agent.errors import FrameNotOpened, MalformedFrame
from veil.agent.events import ChatEventReceived, ConnectionRepaired, RepairRequested
from veil.agent.frames import FRAME_SIZE, Frame, FrameKind, decode_frame, encode_frame
from veil.agent.queue_frames import (
    QUEUE_FRAMES_FROM,
    frame_secret,
    open_queue_frame,
    queue_key,
    seal_queue_frame,
)
from veil.agent.queues import ReceiveQueue
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom
from veil.wire import VersionRange

RELAY = "veil://" + "A" * 43 + "@relay.example"
ALICE, BOB = Profile("Alice").to_handshake_bytes(), Profile("Bob").to_handshake_bytes()
V2_ONLY = VersionRange(1, 2)


def _queue(seed: int) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 100]) * 24, *[bytes(32)] * 3)


def _frame(step: Effects) -> bytes:
    return next(action.frame for action in step.actions if isinstance(action, SendFrame))


def _texts(step: Effects) -> list[bytes]:
    return [event.event for event in step.events if isinstance(event, ChatEventReceived)]


def _connect(invitation_versions: VersionRange | None = None) -> tuple[Peer, Peer]:
    """Connect; ``invitation_versions`` stands for a joiner that speaks no further."""
    rng = DeterministicRandom(b"queue frames")
    inviter, invitation = invite_peer(_queue(1), ALICE, rng)
    seen: Invitation = invitation
    if invitation_versions is not None:
        seen = replace(invitation, agent_versions=invitation_versions)
    joiner, joined = join_peer(seen, _queue(2), BOB, rng)
    joiner.receive(_frame(inviter.receive(_frame(joined), rng)), rng)
    return inviter, joiner


def test_a_sealed_frame_opens_only_under_its_queue_key() -> None:
    rng = DeterministicRandom(b"seal")
    secret = frame_secret(b"\x01" * 32, b"invitation")
    key, other = queue_key(secret, b"\x02" * 24), queue_key(secret, b"\x03" * 24)
    first = seal_queue_frame(key, FrameKind.REPAIR_OFFER, b"body", rng)
    second = seal_queue_frame(key, FrameKind.REPAIR_OFFER, b"body", rng)
    assert len(first) == len(second) == FRAME_SIZE and first != second  # a fresh nonce
    assert open_queue_frame(key, first) == Frame(FrameKind.REPAIR_OFFER, b"body")
    tampered = first[:100] + bytes([first[100] ^ 1]) + first[101:]
    for wrong_key, data in ((other, first), (key, tampered)):
        with pytest.raises(FrameNotOpened):
            open_queue_frame(wrong_key, data)
    with pytest.raises(MalformedFrame):
        open_queue_frame(key, first[:-1])


def test_at_version_3_every_frame_is_sealed_and_a_clear_one_is_refused() -> None:
    inviter, joiner = _connect()
    assert inviter.agent_version == joiner.agent_version == QUEUE_FRAMES_FROM
    frame = joiner.send_chat(b"hi").frame
    with pytest.raises(MalformedFrame):
        decode_frame(frame)  # nothing of the clear layout is left
    (received,) = inviter.receive(frame, DeterministicRandom(b"r")).events
    assert isinstance(received, ChatEventReceived) and received.event == b"hi"
    clear = encode_frame(FrameKind.RATCHET_MESSAGE, inviter.open_mine(frame).body)
    with pytest.raises(FrameNotOpened):  # the same body in the clear: not from the peer
        inviter.receive(clear, DeterministicRandom(b"r"))


def test_a_version_3_inviter_and_a_version_2_joiner_talk_in_clear_frames() -> None:
    rng = DeterministicRandom(b"mixed")
    inviter, joiner = _connect(V2_ONLY)
    assert inviter.agent_version == joiner.agent_version == 2
    assert inviter.queues.frame_secret == b""  # dropped once the joiner's version is known
    frames = [joiner.send_chat(b"from v2").frame, inviter.send_chat(b"from v3").frame]
    assert [decode_frame(f).kind for f in frames] == [FrameKind.RATCHET_MESSAGE] * 2
    assert _texts(inviter.receive(frames[0], rng)) == [b"from v2"]
    assert _texts(joiner.receive(frames[1], rng)) == [b"from v3"]
    offer = _frame(inviter.offer_repair(rng))
    assert decode_frame(offer).kind is FrameKind.REPAIR_OFFER
    assert joiner.receive(offer, rng).events == (RepairRequested(),)
    assert inviter.receive(_frame(joiner.accept_repair(rng)), rng).events == (ConnectionRepaired(),)


@given(st.binary(max_size=64))
def test_random_frames_never_open(start: bytes) -> None:
    with pytest.raises(FrameNotOpened):
        open_queue_frame(bytes(32), start.ljust(FRAME_SIZE, b"\x00"))
