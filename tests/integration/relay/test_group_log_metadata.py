"""What group-log traffic shows: only full blocks on the wire, and readers' downloads
that share nothing with each other or with what the writer posted.

The block-level check reads the blocks each reader's client actually received (the
plaintext inside TLS, real recorded traffic of real connections); TLS itself would
make any two byte streams look unrelated, so comparing ciphertext proves nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from helpers.forwarder import BLOCK_RECORD_LENGTH, RecordingForwarder, records_after_handshake
from helpers.relay import RunningTestRelay
from veil.crypto import SystemRandom
from veil.relay.client.log_events import LogEntryReceived
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import ClientSession, Reply
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.log_commands import LogTag
from veil.relay.protocol.transmission import decode_transmission
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
