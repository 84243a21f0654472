"""Scale benchmark: a relay holding many queues with a backlog, and many idle connections.

Figures (targets from issue 15 in brackets), each a real ``veil-relay start`` process
on the journal store:

- ``stored_queues``: ``--queues`` queues (default 1,000,000) and ``--backlog``
  pending messages of ``--backlog-body`` bytes, written straight into the relay's
  journal, then the relay is started: ``restart_seconds_until_listening`` [< 10 s]
  and ``rss_mib`` [< 1 GB]. The relay keeps pending bodies in memory after its
  verified load, so the backlog's body size counts in RSS: it is printed with the figures.
- ``idle_connections``: ``--connections`` TLS clients (default 10,000) connect and
  stay idle: relay RSS growth per connection [<= 32 KiB].
- ``resubscription``: ``--resubscribe`` queues (default 300,000), each with its own
  recipient auth key, are in the journal; the relay starts on them and one client
  subscribes them all again over ``--resubscribe-connections`` connections:
  ``seconds`` from the first connect to the last ``OK`` [< 60 s].

    python bench/scale.py [--only stored_queues idle_connections] [--queues N] ...

Prints one JSON object on stdout; the machine is shared, so the 1-minute load
average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from relay_support.load import close_all, open_idle_connections
from relay_support.proc import RelayProcess, rss_kib
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import RecipientQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import QueueKeys
from veil.relay.protocol.address import RelayAddress
from veil.relay.server.config import JOURNAL_DIR
from veil.relay.server.store.base import (
    PutMessage,
    PutQueue,
    QueueRecord,
    StoreChange,
    StoredMessage,
    coarse_time,
)
from veil.relay.server.store.journal import JournalStore

ENTITY_ID_SIZE = 24
KEY_SIZE = 32
SEAL_OVERHEAD = 40  # nonce, coarse date and tag around a sealed body
FILL_BATCH = 20_000
SCENARIOS = ("stored_queues", "idle_connections", "resubscription")
SUBSCRIBE_CHUNK = 2_000


def progress(message: str) -> None:
    print(f"[bench/scale] {message}", file=sys.stderr, flush=True)


def _record() -> QueueRecord:
    # Random bytes stand in for keys: the store and the load never check them.
    return QueueRecord(
        recipient_id=os.urandom(ENTITY_ID_SIZE),
        sender_id=os.urandom(ENTITY_ID_SIZE),
        recipient_auth_key=os.urandom(KEY_SIZE),
        delivery_key=os.urandom(KEY_SIZE),
        sender_auth_key=os.urandom(KEY_SIZE),
        created=coarse_time(time.time()),
    )


async def fill_journal(folder: Path, queues: int, backlog: int, body: int) -> None:
    """Write ``queues`` queues and ``backlog`` messages (spread over them) into a journal."""
    store = JournalStore(folder)
    await store.open()
    stored = coarse_time(time.time())
    every = max(1, queues // max(1, backlog))
    pending: list[StoreChange] = []
    messages = 0
    for number in range(queues):
        record = _record()
        pending.append(PutQueue(record))
        if number % every == 0 and messages < backlog:
            sealed = os.urandom(body + SEAL_OVERHEAD)
            message = StoredMessage(os.urandom(ENTITY_ID_SIZE), stored, sealed)
            pending.append(PutMessage(record.recipient_id, message))
            messages += 1
        if len(pending) >= FILL_BATCH:
            await store.apply(pending)
            pending = []
    await store.apply(pending)
    await store.close()


def _folder_mib(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


async def stored_queues(data: Path, options: argparse.Namespace) -> dict[str, Any]:
    relay = RelayProcess.init(data / "relay", "--store", "journal")
    progress(f"writing {options.queues} queues and {options.backlog} pending messages")
    started = time.perf_counter()
    await fill_journal(
        data / "relay" / JOURNAL_DIR, options.queues, options.backlog, options.backlog_body
    )
    fill_seconds = time.perf_counter() - started
    progress("starting the relay on them")
    await relay.start()
    try:
        rss = rss_kib(relay.pid)
    finally:
        await relay.stop()
    return {
        "queues": options.queues,
        "backlog_messages": options.backlog,
        "backlog_body_bytes": options.backlog_body,
        "journal_mib": _folder_mib(data / "relay" / JOURNAL_DIR),
        "fill_seconds": round(fill_seconds, 1),
        "restart_seconds_until_listening": round(relay.start_seconds, 2),
        "restart_seconds_loading_store": relay.loaded_seconds(),
        "rss_mib": round(rss / 1024, 1),
        "target_met": relay.start_seconds < 10 and rss < 1024 * 1024,
    }


async def idle_connections(data: Path, options: argparse.Namespace) -> dict[str, Any]:
    relay = RelayProcess.init(data / "idle")
    config = relay.data_dir / "config.toml"
    limit = options.connections + 100
    config.write_text(config.read_text().replace("max = 10000", f"max = {limit}"))
    await relay.start()
    try:
        address = RelayAddress.parse(relay.ready["address"])
        await close_all(await open_idle_connections(address, 50))  # warm up
        before = rss_kib(relay.pid)
        progress(f"opening {options.connections} idle connections")
        clients = await open_idle_connections(address, options.connections)
        await asyncio.sleep(2.0)
        after = rss_kib(relay.pid)
        await close_all(clients)
    finally:
        await relay.stop()
    per_connection = (after - before) / options.connections
    return {
        "connections": options.connections,
        "rss_kib_per_idle_connection": round(per_connection, 1),
        "relay_rss_mib": round(after / 1024, 1),
        "target_met": per_connection <= 32,
    }


def _owned_queues(count: int) -> list[RecipientQueue]:
    """Queues as their recipient keeps them: a fresh auth key each (one shared DH key:
    ``SUB`` never uses it)."""
    rng, dh = SystemRandom(), X25519KeyPair.generate(SystemRandom())
    return [
        RecipientQueue(
            os.urandom(ENTITY_ID_SIZE),
            os.urandom(ENTITY_ID_SIZE),
            QueueKeys(X25519KeyPair.generate(rng), dh),
            os.urandom(KEY_SIZE),
        )
        for _ in range(count)
    ]


async def _store_owned(folder: Path, queues: list[RecipientQueue]) -> None:
    store = JournalStore(folder)
    await store.open()
    created = coarse_time(time.time())
    for start in range(0, len(queues), FILL_BATCH):
        await store.apply(
            [
                PutQueue(
                    QueueRecord(
                        q.recipient_id,
                        q.sender_id,
                        q.keys.auth.public,
                        q.delivery_key,
                        os.urandom(KEY_SIZE),
                        created=created,
                    )
                )
                for q in queues[start : start + FILL_BATCH]
            ]
        )
    await store.close()


async def _subscribe_share(address: RelayAddress, queues: list[RecipientQueue]) -> int:
    refused = 0
    async with await RelayClient.connect(address, reconnect=None) as client:
        for start in range(0, len(queues), SUBSCRIBE_CHUNK):
            refused += len(await client.subscribe_all(queues[start : start + SUBSCRIBE_CHUNK]))
    return refused


async def resubscription(data: Path, options: argparse.Namespace) -> dict[str, Any]:
    relay = RelayProcess.init(data / "resubscribe", "--store", "journal")
    progress(f"making {options.resubscribe} queues with their own keys")
    queues = _owned_queues(options.resubscribe)
    await _store_owned(relay.data_dir / JOURNAL_DIR, queues)
    await relay.start()
    try:
        address = RelayAddress.parse(relay.ready["address"])
        shares = options.resubscribe_connections
        progress(f"subscribing them again over {shares} connections")
        started = time.perf_counter()
        refused = await asyncio.gather(
            *(_subscribe_share(address, queues[n::shares]) for n in range(shares))
        )
        seconds = time.perf_counter() - started
    finally:
        await relay.stop()
    return {
        "queues": options.resubscribe,
        "connections": shares,
        "refused": sum(refused),
        "seconds": round(seconds, 1),
        "restart_seconds_until_listening": round(relay.start_seconds, 2),
        "target_met": seconds < 60 and not sum(refused),
    }


async def run(options: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    runs = {
        "stored_queues": stored_queues,
        "idle_connections": idle_connections,
        "resubscription": resubscription,
    }
    with tempfile.TemporaryDirectory(prefix="veil-scale-") as scratch:
        for name in options.only or SCENARIOS:
            progress(f"{name} ...")
            report[name] = await runs[name](Path(scratch), options)
            progress(f"{name}: {json.dumps(report[name])}")
    return report


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=SCENARIOS)
    parser.add_argument("--queues", type=int, default=1_000_000)
    parser.add_argument("--backlog", type=int, default=100_000, help="pending messages")
    parser.add_argument("--backlog-body", type=int, default=256, help="bytes per message")
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--resubscribe", type=int, default=300_000, help="queues to subscribe")
    parser.add_argument("--resubscribe-connections", type=int, default=4)
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per client
    started = datetime.datetime.now(datetime.UTC)
    report = asyncio.run(run(options))
    report["started"] = started.isoformat(timespec="seconds")
    report["loadavg_1min_at_end"] = float(Path("/proc/loadavg").read_text().split()[0])
    print(json.dumps(report))


if __name__ == "__main__":
    main()
