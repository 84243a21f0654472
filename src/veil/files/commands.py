"""Codec of the file relay commands and answers (``docs/protocol/files.md`` section 8).

They ride in ordinary relay transmissions (authenticator, correlation id, entity id)
with their own tags: ``0x20..0x25`` for commands and ``0xA0..0xA3`` for answers.
This module only turns them into bytes and back, strictly: fixed-size fields, capped
counts and lengths, no trailing bytes. Any fault is :class:`MalformedFileCommand`
(a relay answers it with ``ERR SYNTAX``). Wiring them into the relay server and
client happens in the relay layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from veil.files.errors import MalformedFileCommand
from veil.files.layout import CHUNK_SIZES
from veil.wire.codec import Reader, Writer
from veil.wire.errors import WireError

__all__ = [
    "MAX_KEYS_PER_COMMAND",
    "MAX_PIECE_SIZE",
    "MAX_SEALED_PIECE_SIZE",
    "AcknowledgeChunk",
    "AddRecipients",
    "ChunkIds",
    "DeleteChunk",
    "DownloadKey",
    "DownloadPiece",
    "FileCommand",
    "FileResponse",
    "FileTag",
    "GetChunk",
    "NewChunk",
    "PutPiece",
    "RecipientIds",
    "decode_file_command",
    "decode_file_response",
    "encode_file_command",
    "encode_file_response",
]

KEY_SIZE = 32
ID_SIZE = 24
DIGEST_SIZE = 32
MAX_KEYS_PER_COMMAND = 16
MAX_PASSWORD_SIZE = 255
MAX_PIECE_SIZE = 16_000
MAX_SEALED_PIECE_SIZE = MAX_PIECE_SIZE + 16


class FileTag(IntEnum):
    """First byte of a file command (0x2x) or answer (0xAx)."""

    FNEW = 0x20
    FADD = 0x21
    FPUT = 0x22
    FDEL = 0x23
    FGET = 0x24
    FACK = 0x25
    FIDS = 0xA0
    FRID = 0xA1
    FKEY = 0xA2
    FDAT = 0xA3


@dataclass(frozen=True, slots=True)
class NewChunk:
    """``FNEW``: register a chunk of ``size`` bytes with its digest and keys."""

    size: int
    digest: bytes
    sender_auth_key: bytes
    recipient_auth_keys: tuple[bytes, ...]
    password: bytes = b""


@dataclass(frozen=True, slots=True)
class AddRecipients:
    """``FADD``: more recipient keys for a registered chunk."""

    recipient_auth_keys: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class PutPiece:
    """``FPUT``: the piece of a chunk's body that starts at ``offset``."""

    offset: int
    piece: bytes


@dataclass(frozen=True, slots=True)
class DeleteChunk:
    """``FDEL``: the sender withdraws the chunk."""


@dataclass(frozen=True, slots=True)
class GetChunk:
    """``FGET``: stream the chunk, sealed to this fresh X25519 key."""

    recipient_dh_key: bytes


@dataclass(frozen=True, slots=True)
class AcknowledgeChunk:
    """``FACK``: the recipient has the chunk; forget its id."""


@dataclass(frozen=True, slots=True)
class ChunkIds:
    """``FIDS``: the ids an ``FNEW`` drew."""

    sender_id: bytes
    recipient_ids: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class RecipientIds:
    """``FRID``: the ids an ``FADD`` drew."""

    recipient_ids: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class DownloadKey:
    """``FKEY``: the relay's fresh key for this ``FGET`` and the body's size."""

    relay_dh_key: bytes
    size: int


@dataclass(frozen=True, slots=True)
class DownloadPiece:
    """``FDAT``: piece ``index`` of the body, sealed to the ``FGET``'s key."""

    index: int
    sealed: bytes


FileCommand = NewChunk | AddRecipients | PutPiece | DeleteChunk | GetChunk | AcknowledgeChunk
FileResponse = ChunkIds | RecipientIds | DownloadKey | DownloadPiece


def _write_list(writer: Writer, items: tuple[bytes, ...], size: int) -> None:
    if not 1 <= len(items) <= MAX_KEYS_PER_COMMAND or any(len(i) != size for i in items):
        raise ValueError(f"1..{MAX_KEYS_PER_COMMAND} items of {size} bytes")
    writer.u8(len(items))
    for item in items:
        writer.raw(item)


def _read_list(reader: Reader, size: int) -> tuple[bytes, ...]:
    count = reader.u8()
    if not 1 <= count <= MAX_KEYS_PER_COMMAND:
        raise MalformedFileCommand(f"a list holds 1..{MAX_KEYS_PER_COMMAND} items")
    return tuple(reader.raw(size) for _ in range(count))


def _check_size(*pairs: tuple[bytes, int]) -> None:
    if any(len(value) != size for value, size in pairs):
        raise ValueError("a key, id or digest has the wrong length")


def encode_file_command(command: FileCommand) -> bytes:
    """``u8 tag || fields``; ``ValueError`` for a field out of range."""
    writer = Writer()
    match command:
        case NewChunk():
            if command.size not in CHUNK_SIZES or len(command.password) > MAX_PASSWORD_SIZE:
                raise ValueError("FNEW needs a chunk size and a password of at most 255 bytes")
            _check_size((command.digest, DIGEST_SIZE), (command.sender_auth_key, KEY_SIZE))
            writer.u8(FileTag.FNEW).u8(CHUNK_SIZES.index(command.size)).raw(command.digest)
            writer.raw(command.sender_auth_key)
            _write_list(writer, command.recipient_auth_keys, KEY_SIZE)
            writer.bytes8(command.password)
        case AddRecipients():
            _write_list(writer.u8(FileTag.FADD), command.recipient_auth_keys, KEY_SIZE)
        case PutPiece():
            if not 0 < len(command.piece) <= MAX_PIECE_SIZE:
                raise ValueError(f"a piece holds 1..{MAX_PIECE_SIZE} bytes")
            writer.u8(FileTag.FPUT).u32(command.offset).bytes16(command.piece)
        case DeleteChunk():
            writer.u8(FileTag.FDEL)
        case GetChunk():
            _check_size((command.recipient_dh_key, KEY_SIZE))
            writer.u8(FileTag.FGET).raw(command.recipient_dh_key)
        case AcknowledgeChunk():
            writer.u8(FileTag.FACK)
    return writer.build()


def encode_file_response(response: FileResponse) -> bytes:
    """``u8 tag || fields``; ``ValueError`` for a field out of range."""
    writer = Writer()
    match response:
        case ChunkIds():
            _check_size((response.sender_id, ID_SIZE))
            _write_list(
                writer.u8(FileTag.FIDS).raw(response.sender_id), response.recipient_ids, ID_SIZE
            )
        case RecipientIds():
            _write_list(writer.u8(FileTag.FRID), response.recipient_ids, ID_SIZE)
        case DownloadKey():
            if response.size not in CHUNK_SIZES:
                raise ValueError("FKEY names a chunk size")
            _check_size((response.relay_dh_key, KEY_SIZE))
            writer.u8(FileTag.FKEY).raw(response.relay_dh_key).u32(response.size)
        case DownloadPiece():
            if not 16 < len(response.sealed) <= MAX_SEALED_PIECE_SIZE:
                raise ValueError("a sealed piece holds 1..16000 bytes and a tag")
            writer.u8(FileTag.FDAT).u32(response.index).bytes16(response.sealed)
    return writer.build()


def _decode_command(tag: int, reader: Reader) -> FileCommand:
    if tag == FileTag.FNEW:
        code = reader.u8()
        if code >= len(CHUNK_SIZES):
            raise MalformedFileCommand("FNEW names an unknown chunk size")
        digest, sender_key = reader.raw(DIGEST_SIZE), reader.raw(KEY_SIZE)
        keys = _read_list(reader, KEY_SIZE)
        return NewChunk(CHUNK_SIZES[code], digest, sender_key, keys, reader.bytes8())
    if tag == FileTag.FADD:
        return AddRecipients(_read_list(reader, KEY_SIZE))
    if tag == FileTag.FPUT:
        offset, piece = reader.u32(), reader.bytes16(MAX_PIECE_SIZE)
        if not piece:
            raise MalformedFileCommand("an FPUT piece is never empty")
        return PutPiece(offset, piece)
    if tag == FileTag.FGET:
        return GetChunk(reader.raw(KEY_SIZE))
    if tag == FileTag.FDEL:
        return DeleteChunk()
    if tag == FileTag.FACK:
        return AcknowledgeChunk()
    raise MalformedFileCommand(f"unknown file command tag {tag:#04x}")


def _decode_response(tag: int, reader: Reader) -> FileResponse:
    if tag == FileTag.FIDS:
        sender_id = reader.raw(ID_SIZE)
        return ChunkIds(sender_id, _read_list(reader, ID_SIZE))
    if tag == FileTag.FRID:
        return RecipientIds(_read_list(reader, ID_SIZE))
    if tag == FileTag.FKEY:
        key, size = reader.raw(KEY_SIZE), reader.u32()
        if size not in CHUNK_SIZES:
            raise MalformedFileCommand("FKEY names an unknown chunk size")
        return DownloadKey(key, size)
    if tag == FileTag.FDAT:
        index, sealed = reader.u32(), reader.bytes16(MAX_SEALED_PIECE_SIZE)
        if len(sealed) <= 16:
            raise MalformedFileCommand("an FDAT piece holds at least one byte and a tag")
        return DownloadPiece(index, sealed)
    raise MalformedFileCommand(f"unknown file answer tag {tag:#04x}")


def decode_file_command(data: bytes) -> FileCommand:
    """Decode a file command; :class:`MalformedFileCommand` on any fault."""
    return _decode(data, _decode_command)


def decode_file_response(data: bytes) -> FileResponse:
    """Decode a file answer; :class:`MalformedFileCommand` on any fault."""
    return _decode(data, _decode_response)


_T = TypeVar("_T")


def _decode(data: bytes, decode_body: Callable[[int, Reader], _T]) -> _T:
    try:
        reader = Reader(data)
        decoded = decode_body(reader.u8(), reader)
        reader.finish()
    except WireError as exc:
        raise MalformedFileCommand(f"file command does not decode: {exc}") from exc
    return decoded
