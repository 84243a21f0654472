"""The fault scenarios: relay kill -9 cycles, a full disk, a torn store, a soak.

Each returns a JSON-ready dict whose ``lost``, ``duplicates_after_ack`` and
``garbage`` must all be 0; ``bench/faults.py`` runs them and prints the report.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any

from fault_support.ledger import Ledger, numbered_body
from fault_support.relay_load import Queues, Sender, Subscriber, make_queues, stop
from helpers.relay_process import RelayProcess
from relay_support.proc import rss_kib
from veil.relay.client.relay_client import RelayClient

QUEUES = 16
LOAD_BETWEEN_KILLS_S = (0.2, 0.8)


class LoadRun:
    """A sender and a subscriber running against one relay until drained or abandoned."""

    def __init__(self, relay: RelayProcess, queues: Queues, ledger: Ledger) -> None:
        self.sender = Sender(relay.address, queues, ledger)
        self.subscriber = Subscriber(relay.address, queues, ledger)
        self._sending = asyncio.create_task(self.sender.run())
        self._receiving = asyncio.create_task(self.subscriber.run())

    async def drain(self) -> None:
        """Stop sending, receive until nothing more arrives, stop receiving."""
        self.sender.running = False
        await asyncio.wait_for(self._sending, 60)
        await self.subscriber.until_quiet()
        await stop(self._receiving)

    async def abandon(self) -> None:
        """Stop both at once (the relay is gone)."""
        self.sender.running = False
        await stop(self._sending)
        await stop(self._receiving)


async def relay_kill_cycles(data: Path, cycles: int, seed: int) -> dict[str, Any]:
    """``cycles`` times: load for a moment, ``kill -9`` the relay, start it again."""
    rng = random.Random(seed)
    relay = RelayProcess.init(data / "relay")
    await relay.start()
    queues = await make_queues(relay.address, QUEUES)
    ledger = Ledger()
    load = LoadRun(relay, queues, ledger)
    restarts: list[float] = []
    try:
        for _ in range(cycles):
            await asyncio.sleep(rng.uniform(*LOAD_BETWEEN_KILLS_S))
            await relay.kill()
            await relay.start()
            restarts.append(relay.start_seconds)
        await load.drain()
    finally:
        await relay.stop()
    restarts.sort()
    return {
        "cycles": cycles,
        **ledger.summary(),
        "restart_seconds_p50": round(restarts[len(restarts) // 2], 2) if restarts else None,
    }


def _mount_tmpfs(folder: Path, size_mib: int) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return mounted.returncode == 0


async def full_disk(data: Path, size_mib: int) -> dict[str, Any]:
    """The relay's disk fills: senders get explicit errors; freeing space recovers it."""
    disk = data / "small-disk"
    if not _mount_tmpfs(disk, size_mib):
        return {"skipped": "mounting a tmpfs needs root (mount -t tmpfs)"}
    try:
        return await _fill_and_free(disk)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


async def _fill_and_free(disk: Path) -> dict[str, Any]:
    relay = RelayProcess.init(disk / "relay")
    filler = disk / "filler"
    await relay.start()
    queues = await make_queues(relay.address, QUEUES)
    ledger = Ledger()
    # Take most of the disk so the relay's store meets the wall quickly.
    free = _free_bytes(disk)
    with filler.open("wb") as handle:
        handle.write(bytes(max(0, free - 4 * 1024 * 1024)))
    sender = Sender(relay.address, queues, ledger)
    sending = asyncio.create_task(sender.run())
    deadline = time.monotonic() + 60
    while not ledger.refused_sends and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    refused_when_full = dict(ledger.refused_sends)
    filler.unlink()  # space frees: the relay must accept sends again
    accepted_before = len(ledger.acknowledged_sends)
    await asyncio.sleep(2.0)
    recovered = len(ledger.acknowledged_sends) > accepted_before
    sender.running = False
    await asyncio.wait_for(sending, 60)
    subscriber = Subscriber(relay.address, queues, ledger)
    receiving = asyncio.create_task(subscriber.run())
    await subscriber.until_quiet()
    await stop(receiving)
    await relay.stop()
    return {
        **ledger.summary(),
        "explicit_errors_when_full": refused_when_full,
        "recovered_after_space_freed": recovered,
    }


def _free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


async def torn_store(data: Path, seed: int) -> dict[str, Any]:
    """Crash under load, then tear or flip the journal's tail: detected, never garbage.

    ``detected`` says the relay named the damage in its log (``store.corrupted``,
    ``store.torn_tail`` or ``store.uncommitted_tail``) or refused to start. A flipped
    byte inside an acknowledged record destroys that record: it may count as ``lost``,
    but it is cut out with an error line and never served.
    """
    rng = random.Random(seed)
    outcomes = {}
    for damage in ("truncate_journal_tail", "flip_journal_tail"):
        outcomes[damage] = await _one_torn_store(data / damage, damage, rng)
    return outcomes


async def _one_torn_store(data: Path, damage: str, rng: random.Random) -> dict[str, Any]:
    relay = RelayProcess.init(data / "relay")
    await relay.start()
    queues = await make_queues(relay.address, QUEUES)
    ledger = Ledger()
    load = LoadRun(relay, queues, ledger)
    await asyncio.sleep(1.5)
    await relay.kill()
    await load.abandon()
    _damage(data / "relay", damage, rng)
    try:
        await relay.start()
    except RuntimeError:
        log_tail = relay.logs().strip().splitlines()[-1:]
        return {"started": False, "detected": True, "log": log_tail, "garbage": 0}
    subscriber = Subscriber(relay.address, queues, ledger)
    receiving = asyncio.create_task(subscriber.run())
    await subscriber.until_quiet()
    await stop(receiving)
    await relay.stop()
    summary = ledger.summary()
    logged = [event for event in _DAMAGE_EVENTS if f'"{event}"' in relay.logs()]
    return {
        "started": True,
        "detected": bool(logged),
        "log_events": logged,
        "garbage": summary["garbage"],
        "lost": summary["lost"],
    }


_DAMAGE_EVENTS = ("store.corrupted", "store.torn_tail", "store.uncommitted_tail")


def _damage(relay_dir: Path, damage: str, rng: random.Random) -> None:
    segments = sorted((relay_dir / "relay.journal").glob("*.seg"))
    if not segments or segments[-1].stat().st_size == 0:
        return
    target = segments[-1]
    size = target.stat().st_size
    with target.open("r+b") as handle:
        if damage == "truncate_journal_tail":
            handle.truncate(max(0, size - rng.randint(1, 8192)))
            return
        position = size - rng.randint(1, min(size, 8192))
        handle.seek(position)
        byte = handle.read(1)
        handle.seek(position)
        handle.write(bytes([byte[0] ^ 0xFF]))


async def soak(data: Path, seconds: float, rate: float) -> dict[str, Any]:
    """A steady rate for ``seconds``; the relay's RSS sampled every second."""
    relay = RelayProcess.init(data / "relay")
    await relay.start()
    queues = await make_queues(relay.address, QUEUES)
    ledger = Ledger()
    subscriber = Subscriber(relay.address, queues, ledger)
    receiving = asyncio.create_task(subscriber.run())
    samples: list[int] = []
    sending = asyncio.create_task(_paced_sends(relay, queues, ledger, rate))
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        await asyncio.sleep(1.0)
        samples.append(rss_kib(relay.pid))
    await stop(sending)
    await subscriber.until_quiet()
    await stop(receiving)
    await relay.stop()
    quarter = max(1, len(samples) // 4)
    first, last = samples[:quarter], samples[-quarter:]
    return {
        "seconds": seconds,
        "rate_msgs_per_s": rate,
        **ledger.summary(),
        "rss_kib_first_quarter_mean": round(sum(first) / len(first)),
        "rss_kib_last_quarter_mean": round(sum(last) / len(last)),
        "rss_kib_max": max(samples),
    }


async def _paced_sends(relay: RelayProcess, queues: Queues, ledger: Ledger, rate: float) -> None:
    async with await RelayClient.connect(relay.address, reconnect=None) as client:
        interval, number = 1.0 / rate, 0
        next_send = time.monotonic()
        while True:
            next_send += interval
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))
            index = number % len(queues.senders)
            body = numbered_body(index, number)
            ledger.attempted.add(body)
            await client.send(queues.senders[index], body)
            ledger.acknowledged_sends.add(body)
            number += 1
