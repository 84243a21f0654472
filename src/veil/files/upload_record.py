"""The persisted form of an :class:`~veil.files.upload.UploadRecord` (versioned).

::

    record  = bytes8 "veil-upload" || u16 version (1)
              u64 size || raw(39) secret || u8 recipients (1..128)
              u8 relay_count (1..16) || relay_count * bytes16(2048) relay
              u16 chunk_count (= the layout's) || chunk_count * chunk
    chunk   = u8 relay_index || raw(32) digest || u8 stage (0 PENDING, 1 REGISTERED, 2 UPLOADED)
              [stage > 0: raw(24) sender_id || raw(32) sender_key
                          || recipients * (raw(24) recipient_id || raw(32) key)]
"""

from __future__ import annotations

from veil.files.description import CHUNK_ID_SIZE, MAX_RELAY_ADDRESS, MAX_RELAYS
from veil.files.errors import CorruptTransferState
from veil.files.layout import MAX_FILE_SIZE, plan_layout
from veil.files.records import pull_record, push_record
from veil.files.stream import FILE_KEY_SIZE, NONCE_PREFIX_SIZE, FileSecret
from veil.files.text import check_relay_address
from veil.files.upload import (
    MAX_RECIPIENTS,
    ChunkStage,
    ChunkUpload,
    RecipientCredential,
    UploadRecord,
)
from veil.wire.codec import Reader, Writer

__all__ = ["UPLOAD_RECORD_VERSION", "decode_upload_record", "encode_upload_record"]

UPLOAD_RECORD_VERSION = 1
_RECORD_KIND = b"veil-upload"
_KEY_SIZE = 32
_DIGEST_SIZE = 32


def encode_upload_record(record: UploadRecord) -> bytes:
    """Serialise an upload's progress for the client store."""
    relays = list(dict.fromkeys(chunk.relay for chunk in record.chunks))
    if len(record.chunks) != plan_layout(record.size).chunk_count:
        raise ValueError("the record's chunks do not match its size")
    if len(relays) > MAX_RELAYS:
        raise ValueError(f"an upload spreads over at most {MAX_RELAYS} relays")
    writer = push_record(_RECORD_KIND, UPLOAD_RECORD_VERSION)
    writer.u64(record.size).raw(record.secret.encode()).u8(record.recipients)
    writer.u8(len(relays))
    for relay in relays:
        writer.bytes16(relay.encode("ascii"))
    writer.u16(len(record.chunks))
    for chunk in record.chunks:
        _write_chunk(writer, chunk, relays.index(chunk.relay))
    return writer.build()


def _write_chunk(writer: Writer, chunk: ChunkUpload, relay_index: int) -> None:
    writer.u8(relay_index).raw(chunk.digest).u8(chunk.stage)
    if chunk.stage is not ChunkStage.PENDING:
        writer.raw(chunk.sender_id).raw(chunk.sender_key)
        for credential in chunk.recipients:
            writer.raw(credential.recipient_id).raw(credential.key)


def decode_upload_record(data: bytes) -> UploadRecord:
    """Parse an upload record; :class:`CorruptTransferState` on any fault."""
    with pull_record(data, _RECORD_KIND, UPLOAD_RECORD_VERSION) as reader:
        size = reader.u64()
        if size > MAX_FILE_SIZE:
            raise CorruptTransferState("upload record size is out of range")
        secret = FileSecret(reader.raw(FILE_KEY_SIZE), reader.raw(NONCE_PREFIX_SIZE))
        recipients = reader.u8()
        if not 1 <= recipients <= MAX_RECIPIENTS:
            raise CorruptTransferState("upload record recipient count is out of range")
        relays = _read_relays(reader)
        if reader.u16() != plan_layout(size).chunk_count:
            raise CorruptTransferState("upload record chunk count does not match its size")
        count = plan_layout(size).chunk_count
        chunks = tuple(_read_chunk(reader, relays, recipients) for _ in range(count))
    return UploadRecord(size, secret, recipients, chunks)


def _read_relays(reader: Reader) -> list[str]:
    count = reader.u8()
    if not 1 <= count <= MAX_RELAYS:
        raise CorruptTransferState("upload record relay count is out of range")
    relays = [reader.bytes16(MAX_RELAY_ADDRESS).decode("ascii", "replace") for _ in range(count)]
    for relay in relays:
        check_relay_address(relay, MAX_RELAY_ADDRESS, CorruptTransferState)
    return relays


def _read_chunk(reader: Reader, relays: list[str], recipients: int) -> ChunkUpload:
    relay_index = reader.u8()
    if relay_index >= len(relays):
        raise CorruptTransferState("upload record chunk names an unknown relay")
    digest = reader.raw(_DIGEST_SIZE)
    try:
        stage = ChunkStage(reader.u8())
    except ValueError as exc:
        raise CorruptTransferState("upload record chunk stage is unknown") from exc
    chunk = ChunkUpload(relays[relay_index], digest, stage)
    if stage is ChunkStage.PENDING:
        return chunk
    sender_id, sender_key = reader.raw(CHUNK_ID_SIZE), reader.raw(_KEY_SIZE)
    credentials = tuple(
        RecipientCredential(reader.raw(CHUNK_ID_SIZE), reader.raw(_KEY_SIZE))
        for _ in range(recipients)
    )
    return ChunkUpload(chunk.relay, digest, stage, sender_id, sender_key, credentials)
