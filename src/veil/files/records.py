"""Versioned binary records that transfers persist in the client store.

Every record starts with its kind (a short ASCII name) and a ``u16`` format version,
so a store can tell what a blob is and migrate old formats. Records are local, but
a damaged disk or a downgrade can still hand us bytes we did not write, so they are
decoded as strictly as network input; any fault is :class:`CorruptTransferState`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from veil.files.errors import CorruptTransferState
from veil.files.layout import MAX_CHUNKS
from veil.wire.codec import Reader, Writer
from veil.wire.errors import WireError

__all__ = ["decode_bitmap", "encode_bitmap", "pull_record", "push_record"]


def push_record(kind: bytes, version: int) -> Writer:
    """Start a record of ``kind`` at format ``version``."""
    return Writer().bytes8(kind).u16(version)


@contextmanager
def pull_record(data: bytes, kind: bytes, version: int) -> Iterator[Reader]:
    """Check a record's kind and version, yield a reader, then require that it is used up."""
    try:
        reader = Reader(data)
        if reader.bytes8() != kind:
            raise CorruptTransferState(f"not a {kind.decode()} record")
        found = reader.u16()
        if found != version:
            raise CorruptTransferState(f"{kind.decode()} record version {found} is unknown")
        yield reader
        reader.finish()
    except WireError as exc:
        raise CorruptTransferState(f"{kind.decode()} record is damaged: {exc}") from exc


def encode_bitmap(writer: Writer, members: Collection[int], size: int) -> None:
    """Write the set ``members`` of ``range(size)`` as ``u16 size || bitmap``."""
    if not 0 < size <= MAX_CHUNKS or any(not 0 <= m < size for m in members):
        raise ValueError("bitmap members must lie in range(size), size 1..MAX_CHUNKS")
    bits = bytearray((size + 7) // 8)
    for member in members:
        bits[member // 8] |= 0x80 >> (member % 8)
    writer.u16(size).raw(bytes(bits))


def decode_bitmap(reader: Reader) -> tuple[int, frozenset[int]]:
    """Read ``(size, members)`` written by :func:`encode_bitmap`; bits past ``size`` must be 0."""
    size = reader.u16()
    if not 0 < size <= MAX_CHUNKS:
        raise CorruptTransferState("bitmap size is out of range")
    bits = reader.raw((size + 7) // 8)
    members = frozenset(
        index for index in range(len(bits) * 8) if bits[index // 8] & (0x80 >> (index % 8))
    )
    if any(member >= size for member in members):
        raise CorruptTransferState("bitmap has bits set past its size")
    return size, members
