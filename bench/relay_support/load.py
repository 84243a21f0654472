"""Load for the relay benchmark: lanes of sender and subscriber clients.

A lane is one sender connection and one subscriber connection sharing a set of
queues. Producers keep one send in flight per queue; subscribers acknowledge every
message as it arrives (without waiting for one ack before handling the next
message), so each connection carries many commands per block.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from relay_support.proc import CpuMeter
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import MessageReceived, RecipientQueue, SenderQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import QuotaExceeded

RNG = SystemRandom()
_STAMP = struct.Struct("!d")


@dataclass
class Lane:
    """One sender client, one subscriber client and the queues between them."""

    sender: RelayClient
    recipient: RelayClient
    queues: list[tuple[RecipientQueue, SenderQueue]]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sender.close()
        await self.recipient.close()


async def _new_queue(client: RelayClient) -> tuple[RecipientQueue, SenderQueue]:
    queue = await client.create_queue()
    sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(RNG))
    await client.secure_queue(queue, sender.auth.public)
    return queue, sender


async def open_lanes(address: RelayAddress, lanes: int, queues_per_lane: int) -> list[Lane]:
    """Connect ``lanes`` pairs of clients and give each pair subscribed, secured queues."""
    opened = []
    for _ in range(lanes):
        recipient = await RelayClient.connect(address, reconnect=None)
        sender = await RelayClient.connect(address, reconnect=None)
        pairs = await asyncio.gather(*(_new_queue(recipient) for _ in range(queues_per_lane)))
        await recipient.subscribe_all([queue for queue, _ in pairs])
        opened.append(Lane(sender, recipient, list(pairs)))
    return opened


def _ack_done(ack: asyncio.Task[None]) -> None:
    # Acks cut short when the bench closes its clients are expected; nothing to report.
    if not ack.cancelled():
        ack.exception()


async def consume(client: RelayClient, on_message: Callable[[MessageReceived], None]) -> None:
    """Hand every delivered message to ``on_message`` and acknowledge it without waiting."""
    acks: set[asyncio.Task[None]] = set()
    async for event in client.events():
        if isinstance(event, MessageReceived):
            on_message(event)
            ack = asyncio.create_task(client.acknowledge(event))
            acks.add(ack)
            ack.add_done_callback(acks.discard)
            ack.add_done_callback(_ack_done)


async def _send_or_wait(client: RelayClient, sender: SenderQueue, body: bytes) -> None:
    try:
        await client.send(sender, body)
    except QuotaExceeded:
        await asyncio.sleep(0.002)  # the subscriber is behind; let it drain


async def _produce_flat_out(client: RelayClient, sender: SenderQueue, body: bytes) -> None:
    while True:
        await _send_or_wait(client, sender, body)


async def measure_throughput(
    lanes: list[Lane], seconds: float, warmup: float, body_size: int, meter: CpuMeter
) -> float:
    """Messages per second sent, delivered and acknowledged, all lanes together."""
    delivered = 0

    def count(_: MessageReceived) -> None:
        nonlocal delivered
        delivered += 1

    body = bytes(body_size)
    for lane in lanes:
        lane.tasks.append(asyncio.create_task(consume(lane.recipient, count)))
        lane.tasks.extend(
            asyncio.create_task(_produce_flat_out(lane.sender, sender, body))
            for _, sender in lane.queues
        )
    await asyncio.sleep(warmup)
    start_count = delivered
    meter.start()
    await asyncio.sleep(seconds)
    meter.stop()
    return (delivered - start_count) / meter.wall_seconds


async def _produce_paced(
    client: RelayClient, sender: SenderQueue, rate: float, body_size: int, offset: float
) -> None:
    interval = 1.0 / rate
    next_send = time.perf_counter() + offset
    padding = bytes(body_size - _STAMP.size)
    while True:
        delay = next_send - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        next_send += interval
        await _send_or_wait(client, sender, _STAMP.pack(time.perf_counter()) + padding)


async def measure_latency(
    lanes: list[Lane], rate: float, seconds: float, warmup: float, body_size: int
) -> dict[str, float]:
    """p50/p99 milliseconds from ``send`` to delivery, at ``rate`` messages/s in total."""
    samples: list[float] = []
    recording = False

    def record(message: MessageReceived) -> None:
        if recording:
            (sent,) = _STAMP.unpack_from(message.body)
            samples.append(time.perf_counter() - sent)

    queue_count = sum(len(lane.queues) for lane in lanes)
    started = 0  # queues started so far, over all lanes
    for lane in lanes:
        lane.tasks.append(asyncio.create_task(consume(lane.recipient, record)))
        for _, sender in lane.queues:
            # Queue n sends at n/rate into every period: an even stream, not bursts.
            offset = started / rate
            started += 1
            task = _produce_paced(lane.sender, sender, rate / queue_count, body_size, offset)
            lane.tasks.append(asyncio.create_task(task))
    await asyncio.sleep(warmup)
    recording = True
    await asyncio.sleep(seconds)
    recording = False
    quantiles = statistics.quantiles(samples, n=100)
    return {
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "achieved_msgs_per_s": round(len(samples) / seconds),
    }


async def open_idle_connections(address: RelayAddress, count: int) -> list[RelayClient]:
    """Connect ``count`` clients that then do nothing."""
    clients: list[RelayClient] = []
    batch = 50
    for start in range(0, count, batch):
        size = min(batch, count - start)
        clients.extend(
            await asyncio.gather(
                *(RelayClient.connect(address, reconnect=None) for _ in range(size))
            )
        )
    return clients


async def close_all(clients: list[RelayClient]) -> None:
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()
