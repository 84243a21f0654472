"""Group-log benchmark: fan-out of one post to many readers, and sustained posting.

The relay runs as a real ``veil-relay start`` process (SQLite log store, durable
answers); this process is the load generator: writers and readers are real
``RelayClient`` connections over TLS, readers decrypt every entry and acknowledge
it. Entries are full size: 15,360-byte bodies (the padded class of a large MLS
message). Prints one JSON object on stdout.

    python bench/group_log.py [--readers 1000] [--connections 50] [--posts 20]
                              [--sustained-readers 100] [--seconds 10] [--quick]

Figures (targets from issue #10's table, relay part):

- ``fanout``: one post delivered to ``readers`` readers spread over ``connections``
  connections: p50/p99 over ``posts`` posts of the time from the post to the last
  reader receiving it [p50 < 1 s for 1,000 readers].
- ``sustained``: ``sustained_readers`` readers, writers keeping posts in flight for
  ``seconds``: entries delivered to every reader per second, and deliveries per
  second [>= 200 posts/s, 20,000 deliveries/s for 100 readers]; with the relay's CPU
  per delivery and the deliveries one relay core would carry at that cost.

With each: the CPU the relay and this load generator used (one core is 100 %), and
the machine's load average, since the machine is shared. The load generator is one
process, and taking every reader's deliveries (TLS, then AES-GCM, per reader) costs
it more CPU than the relay spends sending them; when ``load_cpu_percent`` exceeds
``relay_cpu_percent``, the sustained rate is this process's limit, and the relay's
own figure is ``relay_cpu_us_per_delivery`` (and the projection from it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from relay_support.proc import CpuMeter, RelayProcess
from veil.crypto import SystemRandom
from veil.relay.client.log_events import LogAdmin, LogEntryReceived, LogReader, LogWriter
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress

ENTRY_SIZE = 15_360
WINDOW = 64
ACK_EVERY = 16
"""Readers acknowledge every 16th entry (acknowledgements are cumulative), as a client
that commits entries in batches would; the window (64) never fills."""


class Readers:
    """Reader connections that acknowledge every entry and note when each arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.clients: list[RelayClient] = []

    async def open(self, address: RelayAddress, readers: list[LogReader], connections: int) -> None:
        self.clients = [
            await RelayClient.connect(address, delivery_window=WINDOW) for _ in range(connections)
        ]
        groups: list[list[LogReader]] = [readers[i::connections] for i in range(connections)]
        for client, group in zip(self.clients, groups, strict=True):
            await asyncio.gather(*(client.logs.subscribe(reader) for reader in group))
            self._tasks.append(asyncio.create_task(self._consume(client)))

    async def _consume(self, client: RelayClient) -> None:
        pending: list[asyncio.Task[None]] = []
        async for event in client.logs.events():
            if isinstance(event, LogEntryReceived):
                self.arrivals[event.seq].append(time.perf_counter())
                self.changed.set()
                if event.seq % ACK_EVERY == ACK_EVERY - 1:
                    acknowledge = client.logs.acknowledge(event.reader, event.seq)
                    pending.append(asyncio.create_task(acknowledge))
                if len(pending) > 4 * WINDOW:
                    await asyncio.gather(*pending)
                    pending.clear()

    async def wait_for(self, seq: int, count: int) -> float:
        """When the ``count``-th reader received entry ``seq``."""
        while len(self.arrivals[seq]) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 60)
        return self.arrivals[seq][count - 1]

    async def close(self) -> None:
        await asyncio.sleep(0.5)  # let the last acknowledgements be answered
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(client.close() for client in self.clients))


async def make_log(admin_client: RelayClient, readers: int) -> tuple[LogWriter, list[LogReader]]:
    admin: LogAdmin = await admin_client.logs.create_log()
    writer = await admin_client.logs.add_writer(admin)
    made: list[LogReader] = []
    while len(made) < readers:  # many per block, one group commit each batch
        batch = min(200, readers - len(made))
        made += await asyncio.gather(*(admin_client.logs.add_reader(admin) for _ in range(batch)))
    return writer, made


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def fanout(relay: RelayProcess, options: argparse.Namespace) -> dict[str, Any]:
    rng = SystemRandom()
    async with await RelayClient.connect(relay.address) as admin_client:
        writer, readers = await make_log(admin_client, options.readers)
        audience = Readers()
        await audience.open(relay.address, readers, options.connections)
        meter = CpuMeter(relay.pid)
        meter.start()
        latencies = []
        for _ in range(options.posts):
            started = time.perf_counter()
            seq = await admin_client.logs.post(writer, rng.random_bytes(ENTRY_SIZE))
            latencies.append(await audience.wait_for(seq, options.readers) - started)
        meter.stop()
        await audience.close()
    return {
        "readers": options.readers,
        "connections": options.connections,
        "posts": options.posts,
        "p50_s_to_last_reader": round(percentile(latencies, 0.5), 4),
        "p99_s_to_last_reader": round(percentile(latencies, 0.99), 4),
        "max_s_to_last_reader": round(max(latencies), 4),
        **meter.utilisation(),
    }


async def sustained(relay: RelayProcess, options: argparse.Namespace) -> dict[str, Any]:
    rng = SystemRandom()
    body = rng.random_bytes(ENTRY_SIZE)
    readers_count = options.sustained_readers
    async with await RelayClient.connect(relay.address) as admin_client:
        writer, readers = await make_log(admin_client, readers_count)
        audience = Readers()
        await audience.open(relay.address, readers, max(1, readers_count // 10))
        posters = [await RelayClient.connect(relay.address) for _ in range(4)]
        deadline = time.perf_counter() + options.seconds
        posted: list[int] = []

        async def keep_posting(client: RelayClient) -> None:
            while time.perf_counter() < deadline:
                posted.append(await client.logs.post(writer, body))

        meter = CpuMeter(relay.pid)
        meter.start()
        started = time.perf_counter()
        await asyncio.gather(*(keep_posting(c) for p in posters for c in (p,) * 8))
        last = max(posted)
        await audience.wait_for(last, readers_count)
        elapsed = time.perf_counter() - started
        meter.stop()
        everyone = [s for s in posted if len(audience.arrivals[s]) >= readers_count]
        await audience.close()
        await asyncio.gather(*(client.close() for client in posters))
    return {
        "readers": readers_count,
        "entry_bytes": ENTRY_SIZE,
        "posts": len(posted),
        "posts_delivered_to_all_per_s": round(len(everyone) / elapsed, 1),
        "deliveries_per_s": round(len(everyone) * readers_count / elapsed),
        **meter.utilisation(),
        **per_core(meter.relay_seconds, len(everyone) * readers_count),
    }


def per_core(relay_seconds: float, deliveries: int) -> dict[str, float]:
    """The relay's CPU per delivery (posts, acknowledgements and TLS included), and what
    one relay core busy with nothing else would carry: the shared machine hides it."""
    cost = relay_seconds / max(1, deliveries)
    return {
        "relay_cpu_us_per_delivery": round(cost * 1e6, 1),
        "projected_deliveries_per_s_per_relay_core": round(1 / cost) if cost else 0,
    }


async def main(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        relay = RelayProcess.init(Path(directory) / "relay")
        await relay.start()
        try:
            result: dict[str, Any] = {
                "fanout": await fanout(relay, options),
                "sustained": await sustained(relay, options),
            }
        finally:
            await relay.stop()
    return {**result, "loadavg_1min_at_end": os.getloadavg()[0], "cpu_count": os.cpu_count()}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--sustained-readers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    options = parser.parse_args(argv)
    if options.quick:
        options.readers, options.connections, options.posts = 50, 5, 3
        options.sustained_readers, options.seconds = 10, 2.0
    return options


if __name__ == "__main__":
    figures = asyncio.run(main(parse(sys.argv[1:])))
    print(json.dumps(figures, indent=2))
