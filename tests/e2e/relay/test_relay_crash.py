"""``kill -9`` during a send burst: nothing acknowledged is lost, nothing is delivered twice."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import MessageReceived, RecipientQueue, SenderQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.errors import ConnectionLost

pytestmark = pytest.mark.slow

QUEUES = 16
ACKED_BEFORE_KILL = 400


async def make_queues(client: RelayClient) -> list[tuple[RecipientQueue, SenderQueue]]:
    pairs = []
    for _ in range(QUEUES):
        queue = await client.create_queue()
        sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
        await client.secure_queue(queue, sender.auth.public)
        pairs.append((queue, sender))
    return pairs


async def send_burst(
    client: RelayClient, senders: list[SenderQueue], acknowledged: set[bytes], enough: asyncio.Event
) -> None:
    """Keep one send in flight per queue until the connection dies."""

    async def one_queue(index: int, sender: SenderQueue) -> None:
        for number in range(10_000):
            body = f"queue {index} message {number}".encode()
            await client.send(sender, body)
            acknowledged.add(body)
            if len(acknowledged) >= ACKED_BEFORE_KILL:
                enough.set()

    with contextlib.suppress(ConnectionLost):
        await asyncio.gather(*(one_queue(i, s) for i, s in enumerate(senders)))


async def drain(client: RelayClient, queues: list[RecipientQueue]) -> list[MessageReceived]:
    """Subscribe to every queue and acknowledge messages until none arrive for a while."""
    assert await client.subscribe_all(queues) == []
    received: list[MessageReceived] = []
    events = client.events()
    while True:
        try:
            event = await asyncio.wait_for(anext(events), 2.0)
        except TimeoutError:
            return received
        assert isinstance(event, MessageReceived)
        received.append(event)
        await client.acknowledge(event)


async def test_kill_during_send_burst_loses_nothing_acknowledged(tmp_path: Path) -> None:
    relay = RelayProcess.init(tmp_path / "relay")
    await relay.start()
    try:
        async with await RelayClient.connect(relay.address, reconnect=None) as setup:
            pairs = await make_queues(setup)
        acknowledged: set[bytes] = set()
        enough = asyncio.Event()
        sender = await RelayClient.connect(relay.address, reconnect=None)
        senders = [sender_queue for _, sender_queue in pairs]
        async with asyncio.TaskGroup() as group:
            group.create_task(send_burst(sender, senders, acknowledged, enough))
            await asyncio.wait_for(enough.wait(), 60)
            await relay.kill()
        await sender.close()
        acknowledged_at_kill = set(acknowledged)

        await relay.start()
        queues = [q for q, _ in pairs]
        async with await RelayClient.connect(relay.address, reconnect=None) as recipient:
            received = await drain(recipient, queues)
        bodies = [message.body for message in received]
        assert acknowledged_at_kill <= set(bodies), "an acknowledged message was lost"
        assert len(bodies) == len(set(bodies)), "a message was delivered twice"

        await relay.kill()  # acknowledgements must be durable too
        await relay.start()
        async with await RelayClient.connect(relay.address, reconnect=None) as recipient:
            assert await drain(recipient, queues) == []
    finally:
        await relay.stop()
