"""Crashes mid-stream lose nothing and duplicate nothing: relay and client ``kill -9``."""

from __future__ import annotations

import asyncio

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, kill

# Below the relay's default per-queue quota, so each stream fits the queue at once.
STREAM = 120
BATCH = 10


def _texts(start: int, count: int) -> list[str]:
    return [f"m{n}" for n in range(start, start + count)]


async def _received(user: VeilUser, peer: str) -> list[str]:
    return [m["text"] for m in await user.history(peer) if m["direction"] == "received"]


async def test_relay_killed_and_restarted_mid_stream(
    relay: RelayProcess, pair: tuple[VeilUser, VeilUser]
) -> None:
    alice, bob = pair
    listener = asyncio.create_task(bob.run("receive", "--wait", "4"))
    for start in range(0, STREAM // 2, BATCH):
        await alice.run("send", "Bob", *_texts(start, BATCH))
    await relay.kill()
    # With the relay down, messages stay in Alice's encrypted outbox.
    result = await alice.run("send", "Bob", *_texts(STREAM // 2, BATCH))
    assert result["pending"] >= BATCH
    await relay.start()
    for start in range(STREAM // 2 + BATCH, STREAM, BATCH):
        await alice.run("send", "Bob", *_texts(start, BATCH))
    await listener
    await bob.receive()
    assert await _received(bob, "Alice") == _texts(0, STREAM)


async def test_client_killed_mid_receive(pair: tuple[VeilUser, VeilUser]) -> None:
    alice, bob = pair
    await alice.run("send", "Bob", *_texts(0, STREAM))
    for delay in (0.6, 0.8):
        receiver = await bob.start("receive", "--wait", "5")
        await asyncio.sleep(delay)
        kill(receiver)
        await receiver.wait()
    await bob.receive()
    assert await _received(bob, "Alice") == _texts(0, STREAM)
