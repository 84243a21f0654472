"""File commands served by a relay on a real TLS socket (files.md section 8)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.forwarder import BLOCK_RECORD_LENGTH, RecordingForwarder, records_after_handshake
from helpers.relay import RunningTestRelay, start_test_relay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.files.commands import MAX_PIECE_SIZE, PutPiece, encode_file_command
from veil.relay.client.file_client import FileRelayClient
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import ClientSession
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import (
    AuthFailed,
    BadCommand,
    NoChunk,
    QuotaExceeded,
    TooManyUploads,
    UnknownCommand,
)
from veil.relay.protocol.queue_responses import ErrorResponse, decode_response
from veil.relay.server.file_settings import FileStoreSettings
from veil.relay.server.settings import RelaySettings
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
    ids = await files.uploads.register(
        len(body),
        hashlib.sha256(body).digest(),
        sender.private,
        tuple(r.public for r in recipients),
    )
    await files.uploads.put(ids.sender_id, sender.private, body)
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
    await files.uploads.put(sender_id, sender_key, body)  # stored already: OK, pieces dropped
    await files.acknowledge(recipient_id, key)
    with pytest.raises(AuthFailed):
        await files.get(recipient_id, key, SIZE)
    await files.uploads.delete(sender_id, sender_key)
    with pytest.raises(AuthFailed):
        await files.uploads.delete(sender_id, sender_key)


async def test_wrong_keys_and_missing_bodies_are_refused(files: FileRelayClient) -> None:
    sender, reader = keys(2)
    body = RNG.random_bytes(SIZE)
    ids = await files.uploads.register(
        SIZE, hashlib.sha256(body).digest(), sender.private, (reader.public,)
    )
    with pytest.raises(NoChunk):
        await files.get(ids.recipient_ids[0], reader.private, SIZE)
    with pytest.raises(AuthFailed):
        await files.uploads.put(ids.sender_id, reader.private, body)
    # The refused upload does not block the real one on the same connection.
    await files.uploads.put(ids.sender_id, sender.private, body)
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


async def raw_answer(
    client: RelayClient, body: bytes, entity: bytes = b"", auth: X25519KeyPair | None = None
) -> bytes:
    """Send one hand-made file command; return the body of the relay's answer."""
    answers: list[bytes] = []

    def build(session: ClientSession) -> list[tuple[bytes, bytes]]:
        return [session.encoded(body, entity_id=entity, auth=auth)]

    def take(reply: bytes) -> bool:
        answers.append(reply)
        return True

    await client.stream(build, take)
    return answers[0]


def error_code(answer: bytes) -> int:
    response = decode_response(answer)
    assert isinstance(response, ErrorResponse)
    return response.code


async def registered(files: FileRelayClient, body: bytes) -> tuple[bytes, X25519KeyPair]:
    sender, reader = keys(2)
    digest = hashlib.sha256(body).digest()
    ids = await files.uploads.register(len(body), digest, sender.private, (reader.public,))
    return ids.sender_id, sender


async def test_pieces_out_of_order_and_garbage_are_syntax_errors(files: FileRelayClient) -> None:
    sender_id, sender = await registered(files, RNG.random_bytes(SIZE))
    late = encode_file_command(PutPiece(MAX_PIECE_SIZE, bytes(MAX_PIECE_SIZE)))
    assert error_code(await raw_answer(files.client, late, sender_id, sender)) == BadCommand.code
    garbage = bytes([0x20, 9]) + bytes(40)
    assert error_code(await raw_answer(files.client, garbage, b"", sender)) == BadCommand.code


async def test_a_connection_has_at_most_eight_partial_uploads(files: FileRelayClient) -> None:
    first_piece = encode_file_command(PutPiece(0, bytes(MAX_PIECE_SIZE)))
    started = [await registered(files, RNG.random_bytes(64 * 1024)) for _ in range(9)]
    answers: list[bytes] = []

    def build(session: ClientSession) -> list[tuple[bytes, bytes]]:
        return [session.encoded(first_piece, entity_id=i, auth=k) for i, k in started]

    def take(reply: bytes) -> bool:
        answers.append(reply)
        return True

    await files.client.stream(build, take)
    assert [error_code(answer) for answer in answers] == [TooManyUploads.code]


async def test_a_private_relay_asks_its_password_for_chunks(tmp_path: Path) -> None:
    settings = RelaySettings(password="sesame")
    relay = await start_test_relay(tmp_path, settings=settings, files=FileStoreSettings())
    try:
        async with await RelayClient.connect(relay.address) as client:
            files = FileRelayClient(client, RNG)
            sender, reader = keys(2)
            body = RNG.random_bytes(SIZE)
            digest = hashlib.sha256(body).digest()
            with pytest.raises(AuthFailed):
                await files.uploads.register(SIZE, digest, sender.private, (reader.public,))
            ids = await files.uploads.register(
                SIZE, digest, sender.private, (reader.public,), password=b"sesame"
            )
            await files.uploads.put(ids.sender_id, sender.private, body)
    finally:
        await relay.stop()


async def test_every_record_of_a_file_transfer_is_one_block(file_relay: RunningTestRelay) -> None:
    forwarder = RecordingForwarder("127.0.0.1", file_relay.port)
    port = await forwarder.start()
    address = RelayAddress(file_relay.identity.fingerprint, ("127.0.0.1",), port)
    body = RNG.random_bytes(SIZE)
    try:
        async with await RelayClient.connect(address) as client:
            files = FileRelayClient(client, RNG)
            _, _, [(recipient_id, key)] = await upload(files, body)
            assert await files.get(recipient_id, key, SIZE) == body
            await files.acknowledge(recipient_id, key)
    finally:
        await forwarder.close()
    [upward], [downward] = forwarder.client_to_relay, forwarder.relay_to_client
    for stream in (upward, downward):
        lengths = records_after_handshake(stream)
        assert len(lengths) >= SIZE // MAX_PIECE_SIZE
        assert set(lengths) == {BLOCK_RECORD_LENGTH}
