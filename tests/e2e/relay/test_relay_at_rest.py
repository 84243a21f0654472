"""Nothing leaks at rest: no plaintext in the data directory or the logs, and no
sender-id/recipient-id link anywhere but the queue's own row."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import RecipientQueue, SenderQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.server.config import JOURNAL_DIR, STORE_FILE
from veil.relay.server.store.journal_format import Kind, decode_queue
from veil.relay.server.store.journal_replay import scan, segment_files

pytestmark = pytest.mark.slow

MARKER = b"VEIL-AT-REST-MARKER-" + os.urandom(8).hex().encode()


def spellings(value: bytes) -> list[bytes]:
    """The ways a binary id could show up in a file or a log line."""
    return [
        value,
        value.hex().encode(),
        base64.b64encode(value).rstrip(b"="),
        base64.urlsafe_b64encode(value).rstrip(b"="),
    ]


def files_containing(directory: Path, needle: bytes) -> list[str]:
    return [p.name for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def exchange_traffic(relay: RelayProcess) -> list[RecipientQueue]:
    """Queues with marked messages: some delivered and acknowledged, some left pending."""
    queues = []
    async with await RelayClient.connect(relay.address, reconnect=None) as client:
        for number in range(4):
            queue = await client.create_queue()
            sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
            await client.secure_queue(queue, sender.auth.public)
            for message in range(3):
                await client.send(sender, MARKER + f" {number}/{message}".encode())
            delivered = await client.get(queue)
            assert delivered is not None and delivered.body.startswith(MARKER)
            await client.acknowledge(delivered)
            queues.append(queue)
    return queues


def assert_no_link_outside_queue_rows(store: Path, queues: list[RecipientQueue]) -> None:
    """Sender ids appear only in ``queues.sender_id``, next to their own recipient id."""
    database = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        tables = [
            row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        assert sorted(tables) == ["messages", "queues"]
        sender_ids = {queue.sender_id for queue in queues}
        for table in tables:
            cursor = database.execute(f"SELECT * FROM {table}")
            columns = [description[0] for description in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if value in sender_ids:
                        assert (table, column) == ("queues", "sender_id")
        pairs = set(database.execute("SELECT recipient_id, sender_id FROM queues"))
        assert pairs == {(queue.recipient_id, queue.sender_id) for queue in queues}
    finally:
        database.close()


def assert_no_link_outside_queue_records(journal: Path, queues: list[RecipientQueue]) -> None:
    """Sender ids appear only in ``QUEUE`` records, next to their own recipient id."""
    sender_ids = {queue.sender_id for queue in queues}
    pairs = set()
    for _, path in segment_files(journal):
        records, damage = scan(path.read_bytes())
        assert damage is None
        for _, kind, payload, _ in records:
            if kind == Kind.QUEUE:
                record = decode_queue(payload)
                pairs.add((record.recipient_id, record.sender_id))
                continue
            for sender_id in sender_ids:
                assert sender_id not in bytes(payload), kind
    assert pairs == {(queue.recipient_id, queue.sender_id) for queue in queues}


@pytest.mark.parametrize("store", ["journal", "sqlite"])
async def test_no_plaintext_or_links_at_rest(tmp_path: Path, store: str) -> None:
    relay = RelayProcess.init(tmp_path / "relay", "--store", store)
    await relay.start()
    try:
        queues = await exchange_traffic(relay)
        assert files_containing(relay.data_dir, MARKER) == []  # WAL included, while running
    finally:
        assert await relay.stop() == 0
    assert files_containing(relay.data_dir, MARKER) == []
    if store == "sqlite":
        assert_no_link_outside_queue_rows(relay.data_dir / STORE_FILE, queues)
    else:
        assert_no_link_outside_queue_records(relay.data_dir / JOURNAL_DIR, queues)
    logs = relay.logs().encode()
    assert logs  # the relay did log something
    assert MARKER not in logs
    assert b"127.0.0.1" not in logs  # no client (or any) IP address
    for queue in queues:
        for secret in (queue.recipient_id, queue.sender_id, queue.keys.auth.public):
            for spelling in spellings(secret):
                assert spelling not in logs
