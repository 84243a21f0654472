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
SCENARIOS = ("stored_queues", "idle_connections")


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


async def run(options: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    runs = {"stored_queues": stored_queues, "idle_connections": idle_connections}
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
