"""Private-routing benchmark: proxied against direct sends, in the same run.

Two ``veil-relay start`` processes on loopback (SQLite stores, durable answers):
the destination holding the queues, and a proxy. This process sends ``SEND``s
to the destination, first directly, then through the proxy (``PFWD`` -> ``RFWD``,
sealed per command), each with ``--in-flight`` sends outstanding over ``--queues``
queues. Prints one JSON object on stdout:

- per body size (``body_1000``: short messages, which share blocks when sent
  directly; ``body_15000``: one block each either way): ``direct`` and
  ``proxied`` with ``throughput_msgs_per_s`` (send answered = stored durably at
  the destination) and ``latency_ms`` p50/p99 of single sends with nothing else
  in flight, and ``proxied_throughput_ratio`` = proxied / direct [target >= 0.5].
  A forward is always padded to one full block (so a forwarded ``SKEY`` and
  ``SEND`` look alike), so short messages cost a block each when proxied.

    python bench/routing.py [--messages N] [--in-flight K] [--queues Q]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from relay_support.proc import init_relay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import SenderQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress
from veil.routing.proxied_path import ProxiedPath

BODY_SIZES = (1_000, 15_000)
"""A short message (many share one block when direct) and one that fills a block."""
LATENCY_SAMPLES = 200

Send = Callable[[SenderQueue, bytes], Awaitable[None]]


async def make_senders(client: RelayClient, count: int) -> list[SenderQueue]:
    senders = []
    for _ in range(count):
        queue = await client.create_queue()
        sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
        await client.secure_queue(queue, sender.auth.public)
        senders.append(sender)
    return senders


async def throughput(
    send: Send, senders: list[SenderQueue], messages: int, in_flight: int, body: bytes
) -> float:
    remaining = messages

    async def lane(index: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send(senders[index % len(senders)], body)

    started = time.perf_counter()
    await asyncio.gather(*(lane(i) for i in range(in_flight)))
    return messages / (time.perf_counter() - started)


async def latency(send: Send, sender: SenderQueue, body: bytes) -> dict[str, float]:
    samples = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        await send(sender, body)
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": round(cuts[49], 2), "p99": round(cuts[98], 2)}


async def measure(
    send: Send, senders: list[SenderQueue], args: argparse.Namespace, body: bytes
) -> dict[str, object]:
    await throughput(send, senders, args.in_flight * 4, args.in_flight, body)  # warm-up
    rate = await throughput(send, senders, args.messages, args.in_flight, body)
    return {
        "throughput_msgs_per_s": round(rate),
        "latency_ms": await latency(send, senders[0], body),
    }


async def compare(
    direct: RelayClient, path: ProxiedPath, senders: list[SenderQueue], args: argparse.Namespace
) -> dict[str, object]:
    """Direct, then proxied, for each body size; with the throughput ratio."""
    figures: dict[str, object] = {}
    for size in BODY_SIZES:
        body = b"x" * size
        print(f"{size}-byte bodies: direct, then proxied...", file=sys.stderr)
        direct_figures = await measure(direct.send, senders, args, body)
        proxied_figures = await measure(
            lambda sender, data: path.send(sender.sender_id, sender.auth, data), senders, args, body
        )
        direct_rate = float(direct_figures["throughput_msgs_per_s"])  # type: ignore[arg-type]
        proxied_rate = float(proxied_figures["throughput_msgs_per_s"])  # type: ignore[arg-type]
        figures[f"body_{size}"] = {
            "direct": direct_figures,
            "proxied": proxied_figures,
            "proxied_throughput_ratio": round(proxied_rate / direct_rate, 3),
        }
    return figures


async def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    relays = []
    for name in ("destination", "proxy"):
        (work / name).mkdir()
        relays.append(init_relay(work / name / "data", quota=args.messages * 2))
    await asyncio.gather(*(relay.start() for relay in relays))
    destination, proxy = (RelayAddress.parse(relay.ready["address"]) for relay in relays)
    try:
        async with (
            await RelayClient.connect(destination) as direct,
            await RelayClient.connect(proxy) as via_proxy,
        ):
            senders = await make_senders(direct, args.queues)
            path = ProxiedPath(via_proxy, destination, SystemRandom())
            figures = await compare(direct, path, senders, args)
    finally:
        await asyncio.gather(*(relay.stop() for relay in relays))
    return {
        "messages": args.messages,
        "in_flight": args.in_flight,
        **figures,
        "loadavg_1min_at_end": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--queues", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps(asyncio.run(run(args, Path(work)))))


if __name__ == "__main__":
    main()
