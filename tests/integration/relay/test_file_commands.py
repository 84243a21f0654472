"""File commands served by a relay on a real TLS socket (files.md section 8)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, start_test_relay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.files.commands import MAX_PIECE_SIZE
from veil.relay.client.file_client import FileRelayClient
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import ClientSession
from veil.relay.protocol.errors import (
    AuthFailed,
    NoChunk,
    QuotaExceeded,
    UnknownCommand,
)
from veil.relay.server.file_settings import FileStoreSettings
from veil.wire import VersionRange

RNG = SystemRandom()
SIZE = 256 * 1024


@pytest.fixture
async def file_relay(tmp_path: Path) -> AsyncIterator[RunningTestRelay]:
    running = await start_test_relay(tmp_path, files=FileStoreSettings(quota_bytes=3 * SIZE))
    yield running
    await running.stop()


@pytest.fixture
async def files(file_relay: RunningTestRelay) -> AsyncIterator[FileRelayClient]:
    client = await RelayClient.connect(file_relay.address)
    yield FileRelayClient(client, RNG)
    await client.close()


def keys(count: int) -> list[X25519KeyPair]:
    return [X25519KeyPair.generate(RNG) for _ in range(count)]


async def upload(
    files: FileRelayClient, body: bytes, readers: int = 1
) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    sender, *recipients = keys(1 + readers)
    ids = await files.register(
        len(body),
        hashlib.sha256(body).digest(),
        sender.private,
        tuple(r.public for r in recipients),
    )
    await files.put(ids.sender_id, sender.private, body)
    pairs = [(rid, r.private) for rid, r in zip(ids.recipient_ids, recipients, strict=True)]
    return ids.sender_id, sender.private, pairs


async def test_a_chunk_goes_up_and_comes_down_for_each_recipient(files: FileRelayClient) -> None:
    body = RNG.random_bytes(SIZE)
    _, _, readers = await upload(files, body, readers=20)  # FNEW then one FADD
    assert len(readers) == 20
    for recipient_id, key in (readers[0], readers[-1]):
        assert await files.get(recipient_id, key, SIZE) == body


async def test_a_repeated_upload_is_answered_at_once_and_acks_forget_ids(
    files: FileRelayClient,
) -> None:
    body = RNG.random_bytes(SIZE)
    sender_id, sender_key, [(recipient_id, key)] = await upload(files, body)
    await files.put(sender_id, sender_key, body)  # stored already: OK, pieces dropped
    await files.acknowledge(recipient_id, key)
    with pytest.raises(AuthFailed):
        await files.get(recipient_id, key, SIZE)
    await files.delete(sender_id, sender_key)
    with pytest.raises(AuthFailed):
        await files.delete(sender_id, sender_key)


async def test_wrong_keys_and_missing_bodies_are_refused(files: FileRelayClient) -> None:
    sender, reader = keys(2)
    body = RNG.random_bytes(SIZE)
    ids = await files.register(
        SIZE, hashlib.sha256(body).digest(), sender.private, (reader.public,)
    )
    with pytest.raises(NoChunk):
        await files.get(ids.recipient_ids[0], reader.private, SIZE)
    with pytest.raises(AuthFailed):
        await files.put(ids.sender_id, reader.private, body)
    # The refused upload does not block the real one on the same connection.
    await files.put(ids.sender_id, sender.private, body)
    assert await files.get(ids.recipient_ids[0], reader.private, SIZE) == body


async def test_a_full_store_refuses_registration(files: FileRelayClient) -> None:
    for _ in range(3):
        await upload(files, RNG.random_bytes(SIZE))
    with pytest.raises(QuotaExceeded):
        await upload(files, RNG.random_bytes(SIZE))


async def test_a_chunk_damaged_on_disk_is_not_served(
    files: FileRelayClient, file_relay: RunningTestRelay
) -> None:
    body = RNG.random_bytes(SIZE)
    _, _, [(recipient_id, key)] = await upload(files, body)
    (stored,) = (file_relay.data_dir / "files" / "bodies").iterdir()
    damaged = bytearray(stored.read_bytes())
    damaged[-MAX_PIECE_SIZE] ^= 1
    stored.write_bytes(bytes(damaged))
    with pytest.raises(NoChunk):
        await files.get(recipient_id, key, SIZE)


async def test_a_relay_without_file_storage_does_not_know_the_commands(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path)
    try:
        async with await RelayClient.connect(relay.address) as client:
            with pytest.raises(UnknownCommand):
                await upload(FileRelayClient(client, RNG), RNG.random_bytes(SIZE))
    finally:
        await relay.stop()


async def test_a_client_of_version_2_never_sends_file_commands(
    file_relay: RunningTestRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = ClientSession.accept_hello.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "versions", VersionRange(1, 2))
    async with await RelayClient.connect(file_relay.address) as client:
        assert client.session is not None and client.session.version == 2
        with pytest.raises(UnknownCommand, match="files need 3"):
            await upload(FileRelayClient(client, RNG), RNG.random_bytes(SIZE))
