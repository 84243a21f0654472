"""The agent's file transfers against in-process file relays on real TLS sockets."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, make_identity, start_test_relay
from veil.agent.errors import FileTransferStalled
from veil.agent.file_staging import TransferFolder
from veil.agent.file_transfers import ChunkDone, FileTransfers
from veil.agent.relay_pool import RelayPool
from veil.agent.routing_port import RoutedRelays
from veil.chat.files import follow, upload_redirect
from veil.crypto import SystemRandom
from veil.files.description import (
    ChunkLocation,
    EncryptedBlob,
    FileDescription,
    decode_description,
    encode_description,
    fits_inline,
)
from veil.files.layout import plan_layout
from veil.files.stream import FileSecret
from veil.relay.client.relay_client import RelayClient
from veil.relay.server.file_settings import FileStoreSettings
from veil.routing.policy import RelayEntry, RoutingMode, RoutingPolicy

RNG = SystemRandom()
MIB = 1024 * 1024


class Clients:
    def __init__(self) -> None:
        self.clients: dict[str, RelayClient] = {}

    async def client(self, address: str) -> RelayClient:
        if address not in self.clients:
            self.clients[address] = await RelayClient.connect(address, connect_timeout=2.0)
        return self.clients[address]


@pytest.fixture
async def relays(tmp_path: Path) -> AsyncIterator[list[RunningTestRelay]]:
    running = []
    for n in range(2):
        (tmp_path / f"relay{n}").mkdir()
        running.append(await start_test_relay(tmp_path / f"relay{n}", files=FileStoreSettings()))
    yield running
    for relay in running:
        await relay.stop()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    opened = Clients()
    yield opened
    for client in opened.clients.values():
        await client.close()


@pytest.fixture
def transfers(clients: Clients) -> FileTransfers:
    return FileTransfers(clients.client, RNG, retry_delay=0.01, attempts=2)


async def test_with_one_relay_down_every_chunk_goes_to_the_other(
    relays: list[RunningTestRelay], transfers: FileTransfers, tmp_path: Path
) -> None:
    source = tmp_path / "notes.bin"
    source.write_bytes(os.urandom(3 * MIB))
    addresses = [str(relay.address) for relay in relays]
    await relays[1].stop()
    events: list[ChunkDone] = []
    upload = await transfers.upload(
        source, TransferFolder(tmp_path / "out"), addresses, on_progress=events.append
    )
    (description,) = upload.descriptions("notes.bin", "application/octet-stream")
    assert description.blob.relays == (addresses[0],)
    assert sorted(e.index for e in events) == list(range(plan_layout(3 * MIB).chunk_count))
    output = tmp_path / "notes-received.bin"
    await transfers.download(description.blob, TransferFolder(tmp_path / "in"), output)
    assert output.read_bytes() == source.read_bytes()


def large_description() -> bytes:
    """A description with too many chunks for a message (nothing is uploaded for it)."""
    size = 400 * MIB
    count = plan_layout(size).chunk_count
    chunks = tuple(
        ChunkLocation(0, RNG.random_bytes(24), RNG.random_bytes(32), RNG.random_bytes(32))
        for _ in range(count)
    )
    blob = EncryptedBlob(size, FileSecret.generate(RNG), ("veil://x@relay.example",), chunks)
    return encode_description(FileDescription("film.mkv", "video/x-matroska", blob))


async def test_a_description_too_big_for_a_message_goes_as_a_redirect(
    relays: list[RunningTestRelay], transfers: FileTransfers, tmp_path: Path
) -> None:
    encoded = large_description()
    assert not fits_inline(encoded)
    addresses = [str(relays[0].address)]
    redirect = await upload_redirect(transfers, addresses, encoded, TransferFolder(tmp_path / "o"))
    assert fits_inline(redirect)
    followed = await follow(transfers, decode_description(redirect), TransferFolder(tmp_path / "i"))
    assert encode_description(followed) == encoded


async def test_a_relay_lost_mid_upload_hands_its_chunks_to_the_other(
    relays: list[RunningTestRelay], clients: Clients, tmp_path: Path
) -> None:
    transfers = FileTransfers(clients.client, RNG, retry_delay=0.01, attempts=2)
    source = tmp_path / "clip.bin"
    source.write_bytes(os.urandom(6 * MIB))
    addresses = [str(relay.address) for relay in relays]
    stopping: list[asyncio.Task[None]] = []

    def stop_second_relay(event: ChunkDone) -> None:
        if not stopping:
            stopping.append(asyncio.create_task(relays[1].stop()))

    upload = await transfers.upload(
        source, TransferFolder(tmp_path / "out"), addresses, on_progress=stop_second_relay
    )
    (description,) = upload.descriptions("clip.bin", "application/octet-stream")
    blob = description.blob
    on_second = [c for c in blob.chunks if blob.relays[c.relay_index] == addresses[1]]
    assert len(on_second) < len(description.blob.chunks) // 2  # most went elsewhere
    # What the lost relay acknowledged is still there once it is back.
    back = await start_test_relay(
        relays[1].data_dir, files=FileStoreSettings(), port=relays[1].port
    )
    relays[1] = back
    output = tmp_path / "clip-received.bin"
    # Patient enough for the client to reconnect to the relay that came back.
    patient = FileTransfers(clients.client, RNG, retry_delay=0.5, attempts=20)
    await patient.download(description.blob, TransferFolder(tmp_path / "in"), output)
    assert output.read_bytes() == source.read_bytes()


async def test_uploads_take_the_private_route_when_the_policy_says_so(tmp_path: Path) -> None:
    for name in ("proxy", "files"):
        (tmp_path / name).mkdir()
        make_identity(tmp_path / name, seed=name.encode())
    proxy = await start_test_relay(tmp_path / "proxy")
    destination = await start_test_relay(tmp_path / "files", files=FileStoreSettings())
    policy = RoutingPolicy(
        (
            RelayEntry(proxy.address, "proxy operator", own=False, receive=False),
            RelayEntry(destination.address, "file operator"),
        ),
        mode=RoutingMode.ALWAYS,
    )
    pool = RelayPool(RNG)
    routed = RoutedRelays(pool, policy, RNG)
    transfers = FileTransfers(pool.client, RNG, upload_port_for=routed.upload_port)
    source = tmp_path / "diary.bin"
    source.write_bytes(os.urandom(MIB + 12345))
    try:
        upload = await transfers.upload(
            source, TransferFolder(tmp_path / "out"), [str(destination.address)]
        )
        # Every upload command came through the proxy's one connection; none direct.
        assert destination.server.metrics.connections_accepted == 1
        assert destination.service.metrics.forwards_received > len(upload.record().chunks)
        (description,) = upload.descriptions("diary.bin", "application/octet-stream")
        output = tmp_path / "diary-received.bin"
        await transfers.download(description.blob, TransferFolder(tmp_path / "in"), output)
        assert output.read_bytes() == source.read_bytes()
    finally:
        await pool.close()
        await proxy.stop()
        await destination.stop()


async def test_relays_that_store_no_files_are_a_clear_error(
    tmp_path: Path, transfers: FileTransfers
) -> None:
    (tmp_path / "plain").mkdir()
    plain = await start_test_relay(tmp_path / "plain")  # no [files]
    source = tmp_path / "a.bin"
    source.write_bytes(b"a" * 1000)
    try:
        with pytest.raises(FileTransferStalled, match="stores files"):
            await transfers.upload(source, TransferFolder(tmp_path / "o"), [str(plain.address)])
    finally:
        await plain.stop()
