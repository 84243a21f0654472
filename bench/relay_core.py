"""Relay core benchmark: the relay without sockets or TLS.

Measures, on a real SQLite file with ``synchronous=FULL``:

* ``durable_writes_per_s``: concurrent single-message commits (group commit at work);
* ``protocol_msgs_per_s``: send -> deliver -> ack through :class:`RelayService`, with
  N sender/recipient pairs each keeping a window of messages in flight, blocks
  batched as a real client would; ``process_cpu_us_per_msg`` is the process CPU time
  per message (client codec included, so it overstates the relay's share);
* ``restart_s`` and ``rss_bytes_per_queue``: loading N stored queues into a service.

Run: ``python bench/relay_core.py [--queues 100000] [--messages 20000]``; prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from veil.crypto import DeterministicRandom, Ed25519KeyPair, SystemRandom, X25519KeyPair
from veil.relay.client.session import ClientSession, QueueKeys, recipient_delivery_key
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.server.service import RelayService
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import PutMessage, PutQueue, QueueRecord, StoredMessage
from veil.relay.server.store.sqlite import SqliteStore
from veil.relayd.assembly import relay_service
from veil.wire.blocks import BlockBatcher

IDENTITY = Ed25519KeyPair(bytes(range(32)))


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def durable_writes(directory: Path, writers: int, per_writer: int) -> dict[str, float]:
    store = SqliteStore(directory / "writes.db")
    await store.open()
    record = QueueRecord(bytes(24), b"\x01" * 24, bytes(32), bytes(32))
    await store.apply([PutQueue(record)])
    counter = iter(range(writers * per_writer))

    async def writer() -> None:
        for _ in range(per_writer):
            message = StoredMessage(next(counter).to_bytes(24, "big"), 0, b"x" * 300)
            await store.apply([PutMessage(record.recipient_id, message)])

    commits = store.commits
    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - started
    batches = store.commits - commits
    await store.close()
    total = writers * per_writer
    return {"durable_writes_per_s": total / elapsed, "writes_per_commit": total / batches}


class Endpoint:
    """An in-process connection: client codec on one side, relay session on the other."""

    def __init__(self, service: RelayService, seed: bytes) -> None:
        self.inbox: list[bytes] = []
        self.arrived = asyncio.Event()
        self.session = service.open_session(self._push)
        rng = DeterministicRandom(seed)
        self.client = ClientSession.accept_hello(self.session.hello, IDENTITY.public, rng)
        self.rng = rng

    def _push(self, block: bytes) -> None:
        self.inbox.append(block)
        self.arrived.set()

    async def roundtrip(self, transmissions: list[bytes]) -> list[rsp.Response]:
        batcher = BlockBatcher()
        for transmission in transmissions:
            batcher.add(transmission)
        for block in batcher.drain():
            await self.session.handle_block(block)
        return self.drain()

    def drain(self) -> list[rsp.Response]:
        self.arrived.clear()
        blocks, self.inbox[:] = list(self.inbox), []
        return [reply.response for block in blocks for reply in self.client.parse_block(block)]


@dataclass
class Pair:
    """One queue with its recipient and sender connections."""

    recipient: Endpoint
    sender: Endpoint
    recipient_id: bytes
    sender_id: bytes
    keys: QueueKeys
    sender_auth: X25519KeyPair
    delivery_key: bytes


async def make_pair(service: RelayService, index: int) -> Pair:
    recipient = Endpoint(service, b"r%d" % index)
    sender = Endpoint(service, b"s%d" % index)
    await recipient.session.handle_block(recipient.client.client_hello)
    await sender.session.handle_block(sender.client.client_hello)
    keys = QueueKeys.generate(recipient.rng)
    await recipient.roundtrip([recipient.client.create_queue(keys)[1]])
    await service.settle()
    [ids] = recipient.drain()
    assert isinstance(ids, rsp.QueueIds)
    sender_auth = X25519KeyPair.generate(sender.rng)
    secure = recipient.client.secure(ids.recipient_id, keys, sender_auth.public)
    subscribe = recipient.client.recipient_command(cmd.Subscribe(), ids.recipient_id, keys)
    await recipient.roundtrip([secure[1], subscribe[1]])
    await service.settle()
    recipient.drain()
    delivery_key = recipient_delivery_key(keys, ids.relay_dh_key)
    return Pair(recipient, sender, ids.recipient_id, ids.sender_id, keys, sender_auth, delivery_key)


async def pump(service: RelayService, pair: Pair, messages: int, window: int) -> int:
    """Keep up to ``window`` messages unacknowledged, ack every delivery; return the count.

    A queue delivers one message per acknowledgement, so throughput comes from many
    queues in parallel, as on a real relay.
    """
    body, sent, received = b"m" * 256, 0, 0
    while received < messages:
        burst = min(window - (sent - received), messages - sent)
        sends = [
            pair.sender.client.send(pair.sender_id, pair.sender_auth, body) for _ in range(burst)
        ]
        await pair.sender.roundtrip([transmission for _, transmission in sends])
        sent += burst
        await asyncio.sleep(0)
        acks = []
        for response in pair.recipient.drain():
            if isinstance(response, rsp.Message):
                received += 1
                ack = cmd.Acknowledge(response.message_id)
                acks.append(
                    pair.recipient.client.recipient_command(ack, pair.recipient_id, pair.keys)[1]
                )
        if acks:
            await pair.recipient.roundtrip(acks)
        pair.sender.drain()
        if not acks:
            await pair.recipient.arrived.wait()
    return received


async def protocol_throughput(directory: Path, pairs: int, messages: int) -> dict[str, float]:
    # The quota bounds the window of unacknowledged messages per queue.
    service = relay_service(
        SqliteStore(directory / "proto.db"),
        RelaySettings(queue_quota=128),
        IDENTITY,
        clock=time.time,
        rng=SystemRandom(),
    )
    await service.start()
    setups = [await make_pair(service, index) for index in range(pairs)]
    per_pair = messages // pairs
    cpu, wall = time.process_time(), time.perf_counter()
    done = await asyncio.gather(*(pump(service, pair, per_pair, 32) for pair in setups))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await service.close()
    total = sum(done)
    return {
        "protocol_msgs_per_s": total / wall,
        "process_cpu_us_per_msg": cpu / total * 1e6,
        "protocol_pairs": pairs,
    }


async def restart(directory: Path, queues: int) -> dict[str, float]:
    path = directory / "restart.db"
    store = SqliteStore(path)
    await store.open()
    for start in range(0, queues, 10_000):
        await store.apply(
            [
                PutQueue(
                    QueueRecord(
                        i.to_bytes(24, "big"),
                        (i + queues).to_bytes(24, "big"),
                        b"\x01" * 32,
                        b"\x02" * 32,
                        b"\x03" * 32,
                    )
                )
                for i in range(start, min(start + 10_000, queues))
            ]
        )
    await store.close()
    before = rss_bytes()
    started = time.perf_counter()
    service = relay_service(
        SqliteStore(path), RelaySettings(), IDENTITY, clock=time.time, rng=SystemRandom()
    )
    await service.start()
    elapsed = time.perf_counter() - started
    grown = rss_bytes() - before
    assert service.metrics.queues == queues
    await service.close()
    return {"restart_s": elapsed, "restart_queues": queues, "rss_bytes_per_queue": grown / queues}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queues", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=64)
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as raw:
        directory = Path(raw)
        log("durable writes...")
        results.update(await durable_writes(directory, writers=64, per_writer=100))
        log("protocol throughput...")
        results.update(await protocol_throughput(directory, args.pairs, args.messages))
        log("restart...")
        results.update(await restart(directory, args.queues))
    print(json.dumps({name: round(value, 3) for name, value in results.items()}))


if __name__ == "__main__":
    asyncio.run(main())
