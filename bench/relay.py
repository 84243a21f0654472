"""Relay benchmark: throughput, latency, memory and restart time, against the TLS ceiling.

The relay runs as a real ``veil-relay start`` process (``--store``: the journal, or
SQLite; durable acknowledgements either way) with full-size 15,360-byte bodies
(``--body 256`` gives the old small-body figure, labelled by ``setup.body_bytes``);
this process is the load generator. In the same run a bare asyncio TLS forwarder of
16 KiB blocks, in its own process, gives the ceiling that Python and TLS allow on
this machine. Prints one JSON object on stdout.

    python bench/relay.py [--lanes N] [--queues-per-lane Q] [--seconds S] [--quick]

Figures (targets in brackets):

- ``throughput_msgs_per_s``: send -> deliver -> ack, durable, with ``lanes`` senders
  and ``lanes`` subscribers, one send in flight per queue [>= 10,000]; with the CPU
  each process used, the relay's CPU per message and what one busy relay core
  would carry (``projected_msgs_per_s_per_relay_core``).
- ``latency_at_2000_msgs_per_s``: p50/p99 from ``send`` to delivery [p99 < 20 ms].
- ``rss_kib_per_idle_connection``: relay RSS growth per connected, idle client
  [<= 64 KiB]; ``rss_bytes_per_stored_queue`` likewise per queue in the store.
- ``restart_seconds_until_listening`` with ``stored_queues`` queues [< 5 s for 100k].
- ``ceiling_blocks_per_s``: the bare forwarder; ``throughput_ratio_of_ceiling`` is
  our msgs/s over its blocks/s [>= 0.3], ``per_core_ratio_of_ceiling`` the same per
  fully busy server core (independent of how fast the load generator is).

The machine is shared, so ``loadavg_1min_at_end`` is reported with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from relay_support.ceiling import measure_ceiling, serve_forwarder
from relay_support.load import (
    close_all,
    measure_latency,
    measure_throughput,
    open_idle_connections,
    open_lanes,
)
from relay_support.proc import (
    CpuMeter,
    RelayProcess,
    free_port,
    init_relay,
    rss_kib,
    spawn_ceiling_forwarder,
    stop_process,
)
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.protocol.address import RelayAddress
from veil.relay.server.store.base import PutQueue, QueueRecord, coarse_time
from veil.relayd.runner import queue_store

LATENCY_RATE = 2_000.0
FRAME_BYTES = 15_360  # the agent's real frame: the headline figures use it
STORE_LABELS = {
    "journal": "append-only journal, CRC per record, group fdatasync",
    "sqlite": "sqlite WAL synchronous=FULL, group commit",
}
BENCH_QUOTA = 10_000
ENTITY_ID_SIZE = 24


def progress(message: str) -> None:
    print(f"[bench/relay] {message}", file=sys.stderr, flush=True)


async def idle_connection_cost(relay: RelayProcess, address: RelayAddress, count: int) -> float:
    before = rss_kib(relay.pid)
    clients = await open_idle_connections(address, count)
    await asyncio.sleep(1.0)
    after = rss_kib(relay.pid)
    await close_all(clients)
    return round((after - before) / count, 1)


async def load_figures(
    relay: RelayProcess, address: RelayAddress, options: argparse.Namespace
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    progress(f"idle connections x{options.idle}")
    figures["rss_kib_per_idle_connection"] = await idle_connection_cost(
        relay, address, options.idle
    )
    progress(f"latency at {LATENCY_RATE:.0f} msgs/s")
    lanes = await open_lanes(address, options.lanes, options.queues_per_lane)
    figures["latency_at_2000_msgs_per_s"] = await measure_latency(
        lanes, LATENCY_RATE, options.seconds, 1.0, options.body
    )
    for lane in lanes:
        await lane.close()
    progress(f"throughput: {options.lanes} senders + {options.lanes} subscribers")
    lanes = await open_lanes(address, options.lanes, options.queues_per_lane)
    meter = CpuMeter(relay.pid)
    rate = await measure_throughput(lanes, options.seconds, 1.0, options.body, meter)
    figures["throughput_msgs_per_s"] = round(rate)
    figures["throughput_cpu"] = meter.utilisation()
    # What one fully busy relay core would carry at this cost per message.
    figures["relay_cpu_us_per_msg"] = round(1e6 * meter.relay_seconds / (rate * meter.wall_seconds))
    figures["projected_msgs_per_s_per_relay_core"] = round(
        rate * meter.wall_seconds / meter.relay_seconds
    )
    for lane in lanes:
        await lane.close()
    return figures


async def fill_store(data_dir: Path, engine: str, total: int) -> int:
    """Add queues straight into the store until it holds ``total``; return how many."""
    store = queue_store(data_dir, engine)
    existing = len(await store.open())
    rng, now = SystemRandom(), coarse_time(time.time())
    records = [
        PutQueue(
            QueueRecord(
                recipient_id=rng.random_bytes(ENTITY_ID_SIZE),
                sender_id=rng.random_bytes(ENTITY_ID_SIZE),
                recipient_auth_key=X25519KeyPair.generate(rng).public,
                delivery_key=rng.random_bytes(32),
                sender_auth_key=X25519KeyPair.generate(rng).public,
                created=now,
            )
        )
        for _ in range(max(0, total - existing))
    ]
    await store.apply(records)
    await store.close()
    return max(total, existing)


async def restart_figures(
    relay: RelayProcess, baseline_rss: int, options: argparse.Namespace
) -> dict[str, Any]:
    progress(f"restart with {options.stored} stored queues")
    queues = await fill_store(relay.data_dir, options.store, options.stored)
    await relay.start()
    rss = rss_kib(relay.pid)
    return {
        "stored_queues": queues,
        "restart_seconds_until_listening": round(relay.start_seconds, 2),
        "restart_seconds_loading_store": relay.loaded_seconds(),
        "rss_bytes_per_stored_queue": round((rss - baseline_rss) * 1024 / queues),
    }


async def ceiling_figures(data_dir: Path, seconds: float) -> dict[str, Any]:
    """The bare forwarder's blocks/s, measured and per fully busy forwarder core."""
    port = free_port()
    forwarder = await spawn_ceiling_forwarder(data_dir, port)
    try:
        meter = CpuMeter(forwarder.pid)
        meter.start()
        rate = await measure_ceiling(port, pairs=8, seconds=seconds)
        meter.stop()
    finally:
        await stop_process(forwarder)
    return {
        "ceiling_blocks_per_s": round(rate),
        "ceiling_cpu": {
            "forwarder_cpu_percent": meter.utilisation()["relay_cpu_percent"],
            "load_cpu_percent": meter.utilisation()["load_cpu_percent"],
        },
        "ceiling_projected_blocks_per_s_per_core": round(
            rate * meter.wall_seconds / meter.relay_seconds
        ),
    }


async def run(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as scratch:
        data_dir = Path(scratch) / "relay"
        relay = init_relay(data_dir, BENCH_QUOTA, options.store)
        await relay.start()
        baseline_rss = rss_kib(relay.pid)
        address = RelayAddress.parse(relay.ready["address"])
        try:
            figures = await load_figures(relay, address, options)
        finally:
            await relay.stop()
        try:
            figures.update(await restart_figures(relay, baseline_rss, options))
        finally:
            await relay.stop()
        progress("ceiling: bare asyncio TLS forwarder, 8 pairs")
        figures.update(await ceiling_figures(data_dir, options.seconds))
    figures["throughput_ratio_of_ceiling"] = round(
        figures["throughput_msgs_per_s"] / figures["ceiling_blocks_per_s"], 3
    )
    # The same comparison per fully busy server core, free of load-generator limits.
    figures["per_core_ratio_of_ceiling"] = round(
        figures["projected_msgs_per_s_per_relay_core"]
        / figures["ceiling_projected_blocks_per_s_per_core"],
        3,
    )
    figures["loadavg_1min_at_end"] = float(Path("/proc/loadavg").read_text().split()[0])
    figures["setup"] = {
        "lanes": options.lanes,
        "queues_per_lane": options.queues_per_lane,
        "body_bytes": options.body,
        "seconds": options.seconds,
        "idle_connections": options.idle,
        "store": STORE_LABELS[options.store],
    }
    return figures


def serve_ceiling(data_dir: Path, port: int) -> None:
    """Child-process mode: run the bare forwarder until killed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(data_dir / "identity.crt", data_dir / "identity.key")

    async def main() -> None:
        await serve_forwarder(context, port)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, default=4, help="sender/subscriber client pairs")
    parser.add_argument("--queues-per-lane", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measurement")
    parser.add_argument(
        "--body",
        type=int,
        default=FRAME_BYTES,
        help="message body size in bytes (default: a full frame; 256 = the small-body figure)",
    )
    parser.add_argument("--store", choices=sorted(STORE_LABELS), default="journal")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections to open")
    parser.add_argument("--stored", type=int, default=100_000, help="queues for the restart")
    parser.add_argument("--quick", action="store_true", help="short run, smaller numbers")
    parser.add_argument(
        "--serve-ceiling", nargs=2, metavar=("DATA", "PORT"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    if options.quick:
        options.seconds, options.idle, options.stored = 2.0, 200, 10_000
    return options


def main() -> None:
    options = parse_options()
    if options.serve_ceiling:
        serve_ceiling(Path(options.serve_ceiling[0]), int(options.serve_ceiling[1]))
        return
    started = datetime.datetime.now(datetime.UTC)
    figures = asyncio.run(run(options))
    figures["started"] = started.isoformat(timespec="seconds")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
