"""What group-log traffic shows: only full blocks on the wire, and readers' downloads
that share nothing with each other or with what the writer posted; for a real group
(MLS entries through the relay adapter), the same, and relay files (SQLite store and
logs) with no group name, member name or plaintext.

The block-level check reads the blocks each reader's client actually received (the
plaintext inside TLS, real recorded traffic of real connections); TLS itself would
make any two byte streams look unrelated, so comparing ciphertext proves nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.forwarder import BLOCK_RECORD_LENGTH, RecordingForwarder, records_after_handshake
from helpers.group_log import MemoryGroupStore
from helpers.groups import Client, admit_all, sync_all
from helpers.relay import RunningTestRelay, start_test_relay
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.relay_log import RelayGroupLog
from veil.crypto import SystemRandom
from veil.relay.client.log_events import LogEntryReceived
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import ClientSession, Reply
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.log_commands import LogTag
from veil.relay.protocol.transmission import decode_transmission
from veil.relay.server.log_sqlite import SqliteLogStore
from veil.relay.server.store.sqlite import SqliteStore
from veil.wire.blocks import BLOCK_SIZE, decode_block

WINDOW = 32
ENTRIES = 12
ENTRY_SIZE = 15_360


def windows(data: bytes) -> Iterator[bytes]:
    return (data[i : i + WINDOW] for i in range(len(data) - WINDOW + 1))


async def test_readers_downloads_share_no_32_byte_window(
    relay: RunningTestRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    received_blocks: dict[bytes, list[bytes]] = {}
    parse_block = ClientSession.parse_block

    def recording(session: ClientSession, block: bytes) -> list[Reply]:
        received_blocks.setdefault(session.session_id, []).append(block)
        return parse_block(session, block)

    monkeypatch.setattr(ClientSession, "parse_block", recording)
    forwarder = RecordingForwarder("127.0.0.1", relay.port)
    port = await forwarder.start()
    address = RelayAddress(relay.identity.fingerprint, ("127.0.0.1",), port)
    rng = SystemRandom()
    bodies = [rng.random_bytes(ENTRY_SIZE) for _ in range(ENTRIES)]
    try:
        async with await RelayClient.connect(relay.address) as admin_client:
            admin = await admin_client.logs.create_log()
            writer = await admin_client.logs.add_writer(admin)
            readers = [await admin_client.logs.add_reader(admin) for _ in range(2)]
            clients = [await RelayClient.connect(address, delivery_window=4) for _ in readers]
            for client, reader in zip(clients, readers, strict=True):
                await client.logs.subscribe(reader)
            for body in bodies:
                await admin_client.logs.post(writer, body)
            for client, reader in zip(clients, readers, strict=True):
                events = client.logs.events()
                for body in bodies:
                    event = await asyncio.wait_for(anext(events), 10)
                    assert isinstance(event, LogEntryReceived) and event.body == body
                    await client.logs.acknowledge(reader, event.seq)
            sessions = [client.session for client in clients]
            for client in clients:
                await client.close()
    finally:
        await forwarder.close()

    for stream in (*forwarder.client_to_relay, *forwarder.relay_to_client):
        assert set(records_after_handshake(stream)) == {BLOCK_RECORD_LENGTH}
    downloads = []
    for session in sessions:
        assert session is not None
        blocks = received_blocks[session.session_id]
        assert {len(block) for block in blocks} == {BLOCK_SIZE}
        # The entries as each reader downloaded them: whole LENT transmissions (header,
        # reader id, sequence number, nonce, sealed entry). Not the zero fill of blocks
        # nor fixed framing such as LPOS 0 0 next to a push's all-zero correlation id.
        transmissions = [t for block in blocks for t in decode_block(block)]
        entries = [t for t in transmissions if decode_transmission(t).body[0] == LogTag.LENT]
        assert len(entries) == ENTRIES
        downloads.append(b"".join(entries))
    assert min(len(d) for d in downloads) > ENTRIES * ENTRY_SIZE
    first = set(windows(downloads[0]))
    assert first.isdisjoint(windows(downloads[1])), "two readers received identical bytes"
    posted = {w for body in bodies for w in windows(body)}
    for download in downloads:
        assert posted.isdisjoint(windows(download)), "a reader received the writer's bytes"


GROUP_NAME = "Quillfeather Reading Circle 8842"
MEMBERS = ("Zanzibar Ann", "Octavian Bob", "Persimmon Cy")
MARKER = b"zebra-quartz-7431 nobody may store this in clear"


async def test_a_real_groups_traffic_and_the_relays_files_show_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received_blocks: dict[bytes, list[bytes]] = {}
    parse_block = ClientSession.parse_block

    def recording(session: ClientSession, block: bytes) -> list[Reply]:
        received_blocks.setdefault(session.session_id, []).append(block)
        return parse_block(session, block)

    monkeypatch.setattr(ClientSession, "parse_block", recording)
    relay = await start_test_relay(
        tmp_path,
        store=SqliteStore(tmp_path / "relay.db"),
        log_store=SqliteLogStore(tmp_path / "logs.db"),
    )
    forwarder = RecordingForwarder("127.0.0.1", relay.port)
    address = str(RelayAddress(relay.identity.fingerprint, ("127.0.0.1",), await forwarder.start()))
    rng = SystemRandom()

    async def connect(where: str) -> RelayClient:
        return await RelayClient.connect(where, delivery_window=64)

    logs = [RelayGroupLog(connect, address, rng) for _ in MEMBERS]
    clients = []
    for name, log in zip(MEMBERS, logs, strict=True):
        store = MemoryGroupStore()
        clients.append(Client(name, GroupEngine(store, log, rng=rng, clock=lambda: 1.8e9), store))
    try:
        group_id = await clients[0].engine.create(GROUP_NAME, MEMBERS[0])
        await admit_all(clients[0], group_id, clients[1:])
        await sync_all(clients, group_id, together=True)
        await clients[1].engine.post(group_id, MARKER)
        await clients[2].engine.post(group_id, MARKER * 700)  # three relay posts
        await clients[0].engine.update_keys(group_id)
        await sync_all(clients, group_id, together=True)
        assert all(MARKER in [text for _, text in c.history()] for c in clients)
    finally:
        for log in logs:
            await log.close()
        await forwarder.close()
        await relay.stop()

    for stream in (*forwarder.client_to_relay, *forwarder.relay_to_client):
        assert set(records_after_handshake(stream)) == {BLOCK_RECORD_LENGTH}
    downloads = []
    for blocks in received_blocks.values():
        assert {len(block) for block in blocks} == {BLOCK_SIZE}
        transmissions = [t for block in blocks for t in decode_block(block)]
        entries = [t for t in transmissions if decode_transmission(t).body[0] == LogTag.LENT]
        downloads.append(b"".join(entries))
    assert len(downloads) == len(MEMBERS) and min(len(d) for d in downloads) > 40_000
    for index, download in enumerate(downloads):
        seen = set(windows(download))
        for other in downloads[index + 1 :]:
            assert seen.isdisjoint(windows(other)), "two readers received identical bytes"
    needles = [GROUP_NAME.encode(), MARKER, *(name.encode() for name in MEMBERS)]
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.name.startswith("logs.db") for path in files)
    found = [(path.name, n) for path in files for n in needles if n in path.read_bytes()]
    assert found == []
