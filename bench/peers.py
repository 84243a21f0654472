"""Peers benchmark: Veil's relay beside NATS JetStream and Mosquitto, one load generator.

Each system runs as its own process pinned to core 0; this process is the load
generator, pinned to core 1. All three are driven the same way over TLS 1.3 on
loopback: ``lanes`` publisher connections and ``lanes`` subscriber connections,
``producers`` publishers each waiting for the broker's acknowledgement before its
next message, consumers acknowledging every delivery, and the producers held at
most ``window`` messages ahead of the consumers. Every payload has the size of
Veil's real frames (15,360 bytes; on Veil's wire that is one 16 KiB block).

Figures per system: saturated ``msgs_per_s`` with ``broker_cpu_us_per_msg``, and
``p50_ms``/``p99_ms`` at a fixed 2,000 msgs/s. What "acknowledged" means differs,
and is printed with the figures: Veil fsyncs before OK; JetStream's file store
acknowledges before it syncs; Mosquitto acknowledges from memory. Mosquitto's
figure is bound by the Python MQTT client (aiomqtt over paho), as ``load_cpu_percent``
shows: read it as a lower bound on the broker.

The benchmark installs the peers itself (Debian's nats-server and mosquitto, the
Python clients nats-py and aiomqtt) and says so on stderr. It is not part of CI.

    python bench/peers.py [--seconds S] [--lanes N] [--producers P] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from peer_support.install import ensure_peers

ensure_peers()  # before importing the clients it installs

from peer_support.brokers import BROKER_CORE, LOAD_CORE, Broker, pin_all_threads  # noqa: E402
from peer_support.certs import write_loopback_certificate  # noqa: E402
from peer_support.measure import PeerSession, measure_latency, measure_saturation  # noqa: E402
from peer_support.mqtt_peer import MqttSession, mosquitto_broker  # noqa: E402
from peer_support.nats_peer import NatsSession, nats_broker  # noqa: E402
from peer_support.veil_peer import VeilSession  # noqa: E402
from relay_support.proc import CpuMeter, init_relay  # noqa: E402
from veil.relay.protocol.address import RelayAddress  # noqa: E402

FRAME_BYTES = 15_360
LATENCY_RATE = 2_000.0
BENCH_QUOTA = 10_000
ACKNOWLEDGED_MEANS = {
    "veil": "fsync before OK (survives kill -9); journal store",
    "veil_sqlite": "fsync before OK (survives kill -9); SQLite store (older relays)",
    "nats_jetstream": "file store, PubAck before sync",
    "mosquitto": "QoS 1 PUBACK from memory",
}

SessionFactory = Callable[[], Awaitable[PeerSession]]


def progress(message: str) -> None:
    print(f"[bench/peers] {message}", file=sys.stderr, flush=True)


async def measure_system(
    pid: int, new_session: SessionFactory, options: argparse.Namespace
) -> dict[str, Any]:
    """Saturation then paced latency, each on fresh connections."""
    pin_all_threads(pid, BROKER_CORE)
    session = await new_session()
    try:
        figures = await measure_saturation(
            session, CpuMeter(pid), options.seconds, FRAME_BYTES, options.window
        )
    finally:
        await session.close()
    session = await new_session()
    try:
        figures["latency_at_2000_msgs_per_s"] = await measure_latency(
            session, LATENCY_RATE, options.seconds, FRAME_BYTES
        )
    finally:
        await session.close()
    return figures


async def run_veil(folder: Path, options: argparse.Namespace, store: str) -> dict[str, Any]:
    relay = init_relay(folder / f"veil-{store}", BENCH_QUOTA, store)
    await relay.start()
    address = RelayAddress.parse(relay.ready["address"])

    async def new_session() -> PeerSession:
        session = VeilSession(address, options.lanes, options.producers)
        await session.open()
        return session

    try:
        return await measure_system(relay.pid, new_session, options)
    finally:
        await relay.stop()


async def run_broker(
    broker: Broker, session_type: type[NatsSession] | type[MqttSession], cert: Path, options: Any
) -> dict[str, Any]:
    await broker.start()

    async def new_session() -> PeerSession:
        session = session_type(broker.port, cert, options.lanes, options.producers)
        await session.open()
        return session

    try:
        return await measure_system(broker.pid, new_session, options)
    finally:
        broker.stop()


async def run(options: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="veil-peers-") as scratch:
        folder = Path(scratch)
        cert, key = write_loopback_certificate(folder)
        runs: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "veil": lambda: run_veil(folder, options, "journal"),
            "veil_sqlite": lambda: run_veil(folder, options, "sqlite"),
            "nats_jetstream": lambda: run_broker(
                nats_broker(folder, cert, key), NatsSession, cert, options
            ),
            "mosquitto": lambda: run_broker(
                mosquitto_broker(folder, cert, key), MqttSession, cert, options
            ),
        }
        for name, measure in runs.items():
            if options.only and name not in options.only:
                continue
            progress(f"{name}: saturation, then {LATENCY_RATE:.0f} msgs/s")
            results[name] = {**await measure(), "acknowledged_means": ACKNOWLEDGED_MEANS[name]}
    if "veil" in results and "nats_jetstream" in results:
        results["veil_over_jetstream_throughput"] = round(
            results["veil"]["msgs_per_s"] / results["nats_jetstream"]["msgs_per_s"], 2
        )
    return results


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each figure")
    parser.add_argument("--lanes", type=int, default=4, help="publisher/subscriber pairs")
    parser.add_argument("--producers", type=int, default=256, help="publishers in all")
    parser.add_argument("--window", type=int, default=4096, help="max messages in flight")
    parser.add_argument("--only", nargs="*", choices=sorted(ACKNOWLEDGED_MEANS))
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    os.sched_setaffinity(0, {LOAD_CORE})
    started = datetime.datetime.now(datetime.UTC)
    figures = asyncio.run(run(options))
    figures["setup"] = {
        "payload_bytes": FRAME_BYTES,
        "lanes": options.lanes,
        "producers": options.producers,
        "window": options.window,
        "seconds": options.seconds,
        "tls": "1.3, loopback",
        "broker_core": BROKER_CORE,
        "load_core": LOAD_CORE,
    }
    figures["started"] = started.isoformat(timespec="seconds")
    figures["loadavg_1min_at_end"] = float(Path("/proc/loadavg").read_text().split()[0])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
