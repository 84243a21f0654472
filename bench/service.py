"""Benchmark: the client service (``veil serve``) against the library it wraps.

One ``veil-relay`` subprocess and two profiles, Alice and Bob, connected once; in
the same run:

* ``library_msgs_per_s``: Bob's ``Messenger.send_texts`` in this process to Alice's
  commit in a second process (``bench/chat.py``'s stream: batches of 25, at most
  100 ahead of the receiver).
* ``service_msgs_per_s``: the same stream through two ``veil serve`` processes —
  Bob's ``send`` API call to the ``event`` notification on Alice's API connection.
* ``round_trip_ms``: p50/p99 of one local API call (``contacts``) on Alice's Unix
  socket, one call at a time.

Targets (issue #12): round trip p50 < 2 ms; service throughput >= 90% of the
library's. Usage: ``python bench/service.py [--messages N] [--calls N]``; prints
one JSON object on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from chat import PASSPHRASE, library_throughput, log, make_pair, stream
from helpers.veil_cli import VeilUser
from helpers.veil_service import ServiceProcess
from relay_support.proc import RelayProcess, rss_kib
from veil.service.api_types import EventShape
from veil.service.client import ServiceClient

ROUND_TRIP_METHOD = "contacts"
TARGETS = {"round_trip_p50_ms": 2.0, "service_vs_library": 0.9}


async def round_trips(client: ServiceClient, calls: int) -> dict[str, float]:
    """p50/p99 in ms of ``calls`` sequential calls of :data:`ROUND_TRIP_METHOD`."""
    log(f"round trip: {calls} `{ROUND_TRIP_METHOD}` calls")
    for _ in range(50):  # warm up the connection and the store's caches
        await client.call(ROUND_TRIP_METHOD)
    delays = []
    for _ in range(calls):
        started = time.perf_counter()
        await client.call(ROUND_TRIP_METHOD)
        delays.append((time.perf_counter() - started) * 1000)
    delays.sort()
    return {
        "p50": round(statistics.median(delays), 3),
        "p99": round(delays[int(len(delays) * 0.99) - 1], 3),
    }


class Arrivals:
    """Counts the message events on one API connection."""

    def __init__(self) -> None:
        self.count = 0

    async def count_from(self, events: Any) -> None:
        event: EventShape
        async for event in events:
            if event["kind"] == "message":
                self.count += 1


async def service_throughput(alice: ServiceClient, bob: ServiceClient, total: int) -> float:
    """Messages/s from Bob's ``send`` call to the events on Alice's connection."""
    log(f"service throughput: {total} messages")
    contacts = (await bob.call("contacts"))["contacts"]
    to_alice = contacts[0]["alias"]
    arrivals = Arrivals()
    since = alice.hello["last_event"] if alice.hello else 0
    counting = asyncio.create_task(arrivals.count_from(alice.events(since)))
    await asyncio.sleep(0.5)  # the subscription is in place
    try:
        return await stream(
            total,
            lambda texts: bob.call("send", {"contact": to_alice, "texts": texts}),
            lambda: arrivals.count,
        )
    finally:
        counting.cancel()


async def run(messages: int, calls: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="veil-bench-service-"))
    relay = RelayProcess.init(root / "relay")
    await relay.start()
    try:
        bob, contact_id = await make_pair(root, str(relay.address))
        receipts = asyncio.create_task(bob.receive(idle=3600.0, on_incoming=lambda _: None))
        library = await library_throughput(root, bob, contact_id, messages)
        receipts.cancel()
        await bob.close()
        figures = await _through_services(root, messages, calls)
    finally:
        await relay.stop()
    ratio = figures["service_msgs_per_s"] / library
    return {
        "benchmark": "service",
        "messages": messages,
        "library_msgs_per_s": round(library, 1),
        **figures,
        "service_vs_library": round(ratio, 3),
        "targets": TARGETS,
        "met": {
            "round_trip_p50_ms": figures["round_trip_ms"]["p50"] < TARGETS["round_trip_p50_ms"],
            "service_vs_library": ratio >= TARGETS["service_vs_library"],
        },
        "setup": "relay subprocess + two veil serve subprocesses (Unix socket API), TLS "
        "loopback, PQ on; library figure: sender in-process, receiver in a second process",
    }


async def _through_services(root: Path, messages: int, calls: int) -> dict[str, Any]:
    services = []
    for name in ("alice", "bob"):
        user = VeilUser(root / name, name)
        user.env["VEIL_PASSPHRASE"] = PASSPHRASE
        services.append(ServiceProcess(user))
    try:
        for service in services:
            await service.start()
        alice, bob = [await ServiceClient.connect(service.home) for service in services]
        round_trip = await round_trips(alice, calls)
        rate = await service_throughput(alice, bob, messages)
        rss = {
            service.user.name: rss_kib(service.process.pid)
            for service in services
            if service.process
        }
        await alice.close()
        await bob.close()
    finally:
        for service in services:
            with contextlib.suppress(Exception):
                await service.stop()
    return {
        "service_msgs_per_s": round(rate, 1),
        "round_trip_ms": round_trip,
        "round_trip_method": ROUND_TRIP_METHOD,
        "service_rss_kib": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=2000)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments.messages, arguments.calls))))


if __name__ == "__main__":
    main()
