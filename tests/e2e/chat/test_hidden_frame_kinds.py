"""A relay cannot tell a handshake or a repair from a message (agent version 3).

Two ``veil`` CLI users talk through a relay on a real TLS socket, which records every
frame at the point where it takes a ``SEND`` (the body it seals for the recipient):
the handshake, messages and a repair. Those bodies share no prefix a relay could
sort them by, while frames in the clear (agent version 2) share four bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, start_test_relay
from helpers.veil_cli import VeilUser, receive_until
from veil.agent.frames import FRAME_SIZE, MAX_FRAME_BODY, FrameKind, encode_frame
from veil.relay.protocol.queue_crypto import seal_message
from veil.relay.server import core

pytestmark = pytest.mark.slow

#: Two random byte strings share three leading bytes with probability 2^-24.
DISTINGUISHING_PREFIX = 3


class Recorder:
    """What the relay was handed to carry, labelled with the step that sent it."""

    def __init__(self) -> None:
        self.step = "setup"
        self.frames: list[tuple[str, bytes]] = []

    def seal(self, key: bytes, message_id: bytes, timestamp: int, flags: int, body: bytes) -> bytes:
        self.frames.append((self.step, body))
        return seal_message(key, message_id, timestamp, flags, body)

    def of(self, step: str) -> list[bytes]:
        return [body for label, body in self.frames if label == step]


def longest_shared_prefix(frames: Iterable[bytes]) -> int:
    """The most leading bytes any two of ``frames`` have in common."""
    longest = 0
    for first, second in itertools.combinations(frames, 2):
        pairs = enumerate(zip(first, second, strict=True))
        shared = next((i for i, (a, b) in pairs if a != b), len(first))
        longest = max(longest, shared)
    return longest


@pytest.fixture
async def recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningTestRelay, Recorder]]:
    recorder = Recorder()
    monkeypatch.setattr(core, "seal_message", recorder.seal)
    (tmp_path / "relay").mkdir()
    relay = await start_test_relay(tmp_path / "relay")
    yield relay, recorder
    await relay.stop()


async def test_handshake_repair_and_message_frames_share_no_prefix(
    recorded: tuple[RunningTestRelay, Recorder], users: dict[str, VeilUser]
) -> None:
    relay, recorder = recorded
    alice, bob = users["Alice"], users["Bob"]
    for user in (alice, bob):
        await user.run("init", "--name", user.name, "--relay", str(relay.address), "--fast-kdf")
    recorder.step = "confirmation"
    await bob.run("connect", (await alice.run("invite"))["link"])
    recorder.step = "hello"
    await receive_until(alice, 1)
    await receive_until(bob, 1)
    recorder.step = "message"
    await bob.run("send", "Alice", "hi", "a longer message " * 40)
    await receive_until(alice, 2)
    await alice.run("send", "Bob", "hello")
    await receive_until(bob, 1)
    recorder.step = "repair offer"
    assert (await bob.run("repair", "Alice"))["repaired"] is False
    await receive_until(alice, 1)
    recorder.step = "repair accept"
    assert (await alice.run("repair", "Bob"))["repaired"] is True
    assert [e["kind"] for e in await receive_until(bob, 1)] == ["repaired"]

    for step in ("confirmation", "hello", "message", "repair offer", "repair accept"):
        assert recorder.of(step), f"the relay carried no {step} frame"
    bodies = [body for _, body in recorder.frames]
    assert {len(body) for body in bodies} == {FRAME_SIZE}
    assert longest_shared_prefix(bodies) < DISTINGUISHING_PREFIX
    # The same measure on frames in the clear (agent version 2) finds their layout.
    clear = [encode_frame(kind, bytes(MAX_FRAME_BODY)) for kind in FrameKind]
    assert longest_shared_prefix(clear) >= DISTINGUISHING_PREFIX
