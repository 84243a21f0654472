"""Benchmark: two Veil clients talking through one relay, end to end.

Runs a real ``veil-relay`` (SQLite) subprocess, a receiving client in a second
process and a sending client in this one. Every message goes the whole way:
chat event -> envelope -> double ratchet (PQ on) -> padded frame -> SEND (durable
at the relay) -> MSG -> ratchet decrypt -> chat event applied -> ONE store
commit (SQLCipher, synchronous=FULL) -> ACK. The receiver also sends delivery
receipts back, as a real client does.

Figures:

* ``throughput_msgs_per_s``: a sustained stream (the sender keeps at most one
  relay quota's worth of messages ahead of the receiver).
* ``latency_ms``: p50/p99 from the sender's call to the receiver's commit+ACK,
  one message at a time at a moderate rate.

Usage: ``python bench/chat.py [--messages N] [--data-dir DIR]``; prints one JSON
object on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from relay_support.proc import RelayProcess
from veil.chat.app import Messenger
from veil.chat.conversation import Incoming
from veil.chat.store import KdfParams

PASSPHRASE = "bench"
FAST_KDF = KdfParams(iterations=1, lanes=1, memory_kib=1024)
WINDOW = 100  # messages ahead of the receiver: below the relay's default quota of 128
BATCH = 25
LATENCY_SAMPLES = 200
LATENCY_GAP_S = 0.01


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def receiver_main(home: str, total: int, counter: Any, stamps_path: str) -> None:
    asyncio.run(_receive(Path(home), total, counter, Path(stamps_path)))


async def _receive(home: Path, total: int, counter: Any, stamps_path: Path) -> None:
    messenger = Messenger(Messenger.open_store(home, PASSPHRASE))
    stamps: list[tuple[str, float]] = []
    done = asyncio.Event()

    def arrived(incoming: Incoming) -> None:
        # Called once the batch is committed and acknowledged.
        if incoming.kind != "message":
            return
        stamps.append((incoming.text, time.monotonic()))
        with counter.get_lock():
            counter.value += 1
        if len(stamps) >= total:
            done.set()

    receiving = asyncio.create_task(messenger.receive(idle=3600.0, on_incoming=arrived))
    await done.wait()
    receiving.cancel()
    await messenger.conversation.flush_receipts(force=True)
    stamps_path.write_text(json.dumps(stamps))
    await messenger.close()


async def connect_pair(alice: Messenger, bob: Messenger) -> int:
    link = await alice.invite()
    contact = await bob.connect(link)
    await alice.receive(idle=0.5, on_incoming=lambda _: None)
    await bob.receive(idle=0.5, on_incoming=lambda _: None)
    return contact.contact_id


async def make_pair(root: Path, relay_address: str) -> tuple[Messenger, int]:
    """Profiles ``root/alice`` and ``root/bob`` on the relay, connected; Bob open (the
    sender) with his contact id for Alice, Alice closed (her receiver runs apart)."""
    for name in ("alice", "bob"):
        Messenger.create(root / name, PASSPHRASE, name, [relay_address], kdf=FAST_KDF).close()
    alice = Messenger(Messenger.open_store(root / "alice", PASSPHRASE))
    bob = Messenger(Messenger.open_store(root / "bob", PASSPHRASE))
    contact_id = await connect_pair(alice, bob)
    await alice.close()
    return bob, contact_id


async def run(messages: int, data_dir: str | None) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="veil-bench-chat-", dir=data_dir))
    relay = RelayProcess.init(root / "relay")
    await relay.start()
    try:
        bob, contact_id = await make_pair(root, str(relay.address))
        # The sender also runs its receive loop, as a real client does: it takes in
        # the receiver's delivery receipts (and keeps its own queue drained).
        receipts = asyncio.create_task(bob.receive(idle=3600.0, on_incoming=lambda _: None))
        throughput = await library_throughput(root, bob, contact_id, messages)
        latency = await _latency(root, bob, contact_id)
        receipts.cancel()
        await bob.close()
    finally:
        await relay.stop()
    return {
        "benchmark": "chat",
        "messages": messages,
        "throughput_msgs_per_s": round(throughput, 1),
        "latency_ms": latency,
        "targets": {"throughput_msgs_per_s": 1000, "latency_p50_ms": 20},
        "setup": "relay subprocess (SQLite) + receiver process + sender, TLS loopback, PQ on",
        "storage": str(root.parent),
    }


def _spawn_receiver(root: Path, total: int, name: str) -> tuple[Any, Any, Path]:
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    stamps = root / f"{name}.json"
    process = context.Process(
        target=receiver_main, args=(str(root / "alice"), total, counter, str(stamps))
    )
    process.start()
    return process, counter, stamps


async def library_throughput(root: Path, bob: Messenger, contact_id: int, total: int) -> float:
    """Messages/s from Bob's ``send_texts`` to Alice's commit, Alice in another process."""
    log(f"throughput: {total} messages")
    process, counter, _ = _spawn_receiver(root, total, "throughput")
    await asyncio.sleep(1.5)  # let the receiver start and subscribe
    rate = await stream(
        total,
        lambda texts: bob.conversation.send_texts(contact_id, texts),
        lambda: int(counter.value),
    )
    await asyncio.to_thread(process.join)
    return rate


async def stream(
    total: int, send: Callable[[list[str]], Awaitable[object]], received: Callable[[], int]
) -> float:
    """Send ``total`` texts in batches of :data:`BATCH`, never more than :data:`WINDOW`
    ahead of ``received()``; return messages/s until the last one was received."""
    started = time.monotonic()
    sent = 0
    while sent < total:
        batch = min(BATCH, total - sent)
        if sent + batch - received() > WINDOW:
            await asyncio.sleep(0.002)
            continue
        await send([f"t{sent + i}" for i in range(batch)])
        sent += batch
    while received() < total:
        await asyncio.sleep(0.002)
    return total / (time.monotonic() - started)


async def _latency(root: Path, bob: Messenger, contact_id: int) -> dict[str, float]:
    log(f"latency: {LATENCY_SAMPLES} messages, one every {LATENCY_GAP_S * 1000:.0f} ms")
    process, _, stamps_path = _spawn_receiver(root, LATENCY_SAMPLES, "latency")
    await asyncio.sleep(1.5)
    for _ in range(LATENCY_SAMPLES):
        await bob.conversation.send_texts(contact_id, [f"{time.monotonic():.6f}"])
        await asyncio.sleep(LATENCY_GAP_S)
    await asyncio.to_thread(process.join)
    delays = sorted(
        (received - float(text)) * 1000 for text, received in json.loads(stamps_path.read_text())
    )
    return {
        "p50": round(statistics.median(delays), 2),
        "p99": round(delays[int(len(delays) * 0.99) - 1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--data-dir",
        help="where the relay and the two profiles keep their files (default: the temp "
        "dir); e.g. /dev/shm to see what fsync costs",
    )
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(run(arguments.messages, arguments.data_dir))))


if __name__ == "__main__":
    main()
