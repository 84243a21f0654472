"""One load generator for every system: saturation throughput and paced latency.

A system under test is a :class:`PeerSession`: producers that publish a payload and
return once the broker has acknowledged it, and consumers that hand each delivered
payload to a callback and acknowledge it. Producers stay at most ``window``
messages ahead of the consumers, so every system is measured on a sustained
stream rather than on a backlog it is allowed to build.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from relay_support.proc import CpuMeter

_STAMP = struct.Struct("!d")


class PeerSession(Protocol):
    """Connected producers and consumers of one system under test."""

    producers: int

    async def publish(self, producer: int, payload: bytes) -> None:
        """Send one payload; return when the broker has acknowledged it."""

    def start_consuming(self, on_payload: Callable[[bytes], None]) -> None:
        """Deliver every payload to ``on_payload``, acknowledging each."""

    async def close(self) -> None:
        """Stop consuming and disconnect."""


class _Flow:
    """Counts deliveries and holds producers back when they run too far ahead."""

    def __init__(self, window: int) -> None:
        self.window, self.sent, self.delivered = window, 0, 0
        self._room = asyncio.Event()
        self._room.set()

    async def reserve(self) -> None:
        while self.sent - self.delivered >= self.window:
            self._room.clear()
            await self._room.wait()
        self.sent += 1

    def open_up(self) -> None:
        self.window = sys.maxsize
        self._room.set()

    def delivered_one(self) -> None:
        self.delivered += 1
        if self.sent - self.delivered < self.window:
            self._room.set()


class _Producers:
    """Producer tasks that stop at the end of their current publish.

    They are not cancelled: some clients (nats-py) swallow a cancellation inside a
    request, so a cancelled loop would never end.
    """

    def __init__(self) -> None:
        self.running = True
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, count: int, produce: Callable[[int], Awaitable[None]]) -> None:
        async def loop(producer: int) -> None:
            while self.running:
                await produce(producer)

        self._tasks = [asyncio.create_task(loop(index)) for index in range(count)]

    async def stop(self) -> None:
        self.running = False
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def measure_saturation(
    session: PeerSession, meter: CpuMeter, seconds: float, payload_size: int, window: int
) -> dict[str, float]:
    """Delivered messages per second with every producer flat out, and broker CPU."""
    flow = _Flow(window)
    session.start_consuming(lambda _payload: flow.delivered_one())
    payload = bytes(payload_size)

    async def produce(producer: int) -> None:
        await flow.reserve()
        await session.publish(producer, payload)

    producers = _Producers()
    producers.start(session.producers, produce)
    await asyncio.sleep(1.0)  # warm up: connections, caches, the broker's first fsyncs
    first = flow.delivered
    meter.start()
    await asyncio.sleep(seconds)
    meter.stop()
    rate = (flow.delivered - first) / meter.wall_seconds
    producers.running = False
    flow.open_up()  # producers waiting for room publish once more, then stop
    await producers.stop()
    return {
        "msgs_per_s": round(rate),
        "broker_cpu_us_per_msg": round(1e6 * meter.relay_seconds / (rate * meter.wall_seconds)),
        "broker_cpu_percent": meter.utilisation()["relay_cpu_percent"],
        "load_cpu_percent": meter.utilisation()["load_cpu_percent"],
    }


async def measure_latency(
    session: PeerSession, rate: float, seconds: float, payload_size: int
) -> dict[str, float]:
    """p50/p99 milliseconds from publish to delivery at ``rate`` messages/s in total."""
    samples: list[float] = []
    recording = False

    def record(payload: bytes) -> None:
        if recording:
            (sent,) = _STAMP.unpack_from(payload)
            samples.append(time.perf_counter() - sent)

    session.start_consuming(record)
    padding = bytes(payload_size - _STAMP.size)
    interval = session.producers / rate

    now = time.perf_counter()
    next_sends = [now + interval * index / session.producers for index in range(session.producers)]

    async def produce(producer: int) -> None:
        delay = next_sends[producer] - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        next_sends[producer] += interval
        await session.publish(producer, _STAMP.pack(time.perf_counter()) + padding)

    producers = _Producers()
    producers.start(session.producers, produce)
    await asyncio.sleep(1.0)
    recording = True
    await asyncio.sleep(seconds)
    recording = False
    await producers.stop()
    quantiles = statistics.quantiles(samples, n=100)
    return {
        "p50_ms": round(1000 * quantiles[49], 2),
        "p99_ms": round(1000 * quantiles[98], 2),
        "samples": len(samples),
    }
