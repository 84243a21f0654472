"""The encoding of a backup's plaintext: a store snapshot and the profile's files.

::

    payload = u32 schema_version || u16 table_count || table * table_count
              || u16 file_count || (bytes16 name || bytes32 content) * file_count
    table   = bytes16 name || u16 column_count || bytes16 column * column_count
              || u32 row_count || value * (row_count * column_count)
    value   = u8 tag || 0 NULL | 1 i64 | 2 f64 | 3 bytes32 UTF-8 text | 4 bytes32 blob

Decoding is strict (caps, no trailing bytes); any fault is :class:`BackupUnreadable`.
"""

from __future__ import annotations

import struct

from veil.chat.errors import BackupUnreadable
from veil.chat.store.snapshot import SqlValue, StoreSnapshot, TableRows
from veil.wire import Reader, WireError, Writer

__all__ = ["MAX_FILE_SIZE", "MAX_VALUE_SIZE", "decode_payload", "encode_payload"]

MAX_NAME_SIZE = 256
MAX_VALUE_SIZE = 64 * 1024 * 1024
MAX_FILE_SIZE = 16 * 1024 * 1024
_NULL, _INT, _FLOAT, _TEXT, _BLOB = range(5)
_F64 = struct.Struct(">d")


def encode_payload(snapshot: StoreSnapshot, files: dict[str, bytes]) -> bytes:
    """The plaintext of a backup."""
    writer = Writer().u32(snapshot.schema_version).u16(len(snapshot.tables))
    for table in snapshot.tables:
        writer.bytes16(table.name.encode()).u16(len(table.columns))
        for column in table.columns:
            writer.bytes16(column.encode())
        writer.u32(len(table.rows))
        for row in table.rows:
            for value in row:
                _write_value(writer, value)
    writer.u16(len(files))
    for name, content in sorted(files.items()):
        writer.bytes16(name.encode()).bytes32(content)
    return writer.build()


def decode_payload(data: bytes) -> tuple[StoreSnapshot, dict[str, bytes]]:
    """Parse :func:`encode_payload` output strictly."""
    try:
        reader = Reader(data)
        version = reader.u32()
        tables = tuple(_read_table(reader) for _ in range(reader.u16()))
        files = {}
        for _ in range(reader.u16()):
            name = reader.bytes16(MAX_NAME_SIZE).decode()
            files[name] = reader.bytes32(MAX_FILE_SIZE)
        reader.finish()
    except (WireError, UnicodeDecodeError) as exc:
        raise BackupUnreadable(f"the backup's contents do not decode: {exc}") from exc
    return StoreSnapshot(version, tables), files


def _write_value(writer: Writer, value: SqlValue) -> None:
    if value is None:
        writer.u8(_NULL)
    elif isinstance(value, int):
        writer.u8(_INT).u64(value & 0xFFFF_FFFF_FFFF_FFFF)
    elif isinstance(value, float):
        writer.u8(_FLOAT).raw(_F64.pack(value))
    elif isinstance(value, str):
        writer.u8(_TEXT).bytes32(value.encode())
    else:
        writer.u8(_BLOB).bytes32(bytes(value))


def _read_value(reader: Reader) -> SqlValue:
    tag = reader.u8()
    if tag == _NULL:
        return None
    if tag == _INT:
        unsigned = reader.u64()
        return unsigned - (1 << 64) if unsigned >> 63 else unsigned
    if tag == _FLOAT:
        value: float = _F64.unpack(reader.raw(_F64.size))[0]
        return value
    if tag == _TEXT:
        return reader.bytes32(MAX_VALUE_SIZE).decode()
    if tag == _BLOB:
        return reader.bytes32(MAX_VALUE_SIZE)
    raise BackupUnreadable(f"unknown value tag {tag} in the backup")


def _read_table(reader: Reader) -> TableRows:
    name = reader.bytes16(MAX_NAME_SIZE).decode()
    columns = tuple(reader.bytes16(MAX_NAME_SIZE).decode() for _ in range(reader.u16()))
    if not columns:
        raise BackupUnreadable(f"table {name!r} in the backup has no columns")
    rows = tuple(tuple(_read_value(reader) for _ in columns) for _ in range(reader.u32()))
    return TableRows(name, columns, rows)
