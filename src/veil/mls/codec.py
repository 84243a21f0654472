"""The TLS presentation language as RFC 9420 uses it (§2.1), strictly.

* Integers are big-endian ``uint8``/``uint16``/``uint32``/``uint64``.
* Vectors (``opaque data<V>`` and ``T items<V>``) carry a QUIC-style variable-length
  length prefix (RFC 9000 §16, restricted by RFC 9420 §2.1.2): 1, 2 or 4 bytes, the
  prefix ``0b11`` is reserved, and a length must use the shortest encoding that fits.
* ``optional<T>`` is a ``uint8`` presence flag (0 or 1) followed by ``T`` if present.

Every vector length is checked against a cap before anything is read, so a hostile
length can never make us allocate more than the caller allows; :func:`decode` rejects
trailing bytes. Each failure raises its own :mod:`veil.mls.errors` type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from veil.mls.errors import InvalidVarint, LengthExceedsCap, MLSDecodeError, MLSTrailingBytes

__all__ = [
    "DEFAULT_VECTOR_CAP",
    "MAX_VARINT",
    "Encodable",
    "TlsReader",
    "TlsWriter",
    "decode",
    "encode_varint",
    "encoded_once",
    "to_bytes",
]

T = TypeVar("T")

MAX_VARINT = (1 << 30) - 1
"""The largest value a 4-byte variable-length integer holds (RFC 9420 §2.1.2)."""

DEFAULT_VECTOR_CAP = 1 << 24
"""The default cap on one vector's length in bytes (16 MiB); fields lower it."""

_VARINT_LIMITS = ((1, 0x3F), (2, 0x3FFF), (4, MAX_VARINT))


def encode_varint(value: int) -> bytes:
    """Encode ``value`` in the shortest variable-length form RFC 9420 allows."""
    if 0 <= value <= 0x3F:
        return bytes((value,))
    if 0 <= value <= 0x3FFF:
        return (value | 0x4000).to_bytes(2, "big")
    if 0 <= value <= MAX_VARINT:
        return (value | 0x8000_0000).to_bytes(4, "big")
    raise ValueError(f"varint out of range: {value}")


class TlsWriter:
    """Builds a structure field by field; every method returns the writer."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def _uint(self, value: int, size: int) -> TlsWriter:
        self._parts.append(value.to_bytes(size, "big"))
        return self

    def u8(self, value: int) -> TlsWriter:
        """Append a ``uint8``."""
        return self._uint(value, 1)

    def u16(self, value: int) -> TlsWriter:
        """Append a ``uint16``."""
        return self._uint(value, 2)

    def u32(self, value: int) -> TlsWriter:
        """Append a ``uint32``."""
        return self._uint(value, 4)

    def u64(self, value: int) -> TlsWriter:
        """Append a ``uint64``."""
        return self._uint(value, 8)

    def varint(self, value: int) -> TlsWriter:
        """Append a variable-length integer."""
        self._parts.append(encode_varint(value))
        return self

    def raw(self, data: bytes) -> TlsWriter:
        """Append bytes whose length the reader knows (fixed-size fields, nested structs)."""
        self._parts.append(bytes(data))
        return self

    def opaque(self, data: bytes) -> TlsWriter:
        """Append ``opaque data<V>``: a varint length, then the bytes."""
        return self.varint(len(data)).raw(data)

    def vector(
        self, items: Iterable[T], encode_item: Callable[[TlsWriter, T], object]
    ) -> TlsWriter:
        """Append ``T items<V>``: the items encoded back to back, behind their byte length."""
        inner = TlsWriter()
        for item in items:
            encode_item(inner, item)
        return self.opaque(inner.build())

    def optional(self, value: T | None, encode_item: Callable[[TlsWriter, T], object]) -> TlsWriter:
        """Append ``optional<T>``: a presence byte, then the value if present."""
        if value is None:
            return self.u8(0)
        self.u8(1)
        encode_item(self, value)
        return self

    def boolean(self, value: bool) -> TlsWriter:
        """Append a ``bool`` (one byte, 0 or 1)."""
        return self.u8(1 if value else 0)

    def build(self) -> bytes:
        """Return everything appended so far."""
        return b"".join(self._parts)


class TlsReader:
    """Consumes a structure field by field; any fault raises an MLS decode error."""

    __slots__ = ("_data", "_offset")

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._offset = 0

    @property
    def offset(self) -> int:
        """How many bytes were read so far."""
        return self._offset

    def read_since(self, start: int) -> bytes:
        """The bytes read from offset ``start`` up to now."""
        return self._data[start : self._offset]

    @property
    def remaining(self) -> int:
        """How many bytes are left to read."""
        return len(self._data) - self._offset

    def raw(self, length: int) -> bytes:
        """Read exactly ``length`` bytes."""
        if length > self.remaining:
            raise MLSDecodeError(f"truncated: need {length} bytes, {self.remaining} left")
        start = self._offset
        self._offset += length
        return self._data[start : self._offset]

    def _uint(self, size: int) -> int:
        return int.from_bytes(self.raw(size), "big")

    def u8(self) -> int:
        """Read a ``uint8``."""
        return self._uint(1)

    def u16(self) -> int:
        """Read a ``uint16``."""
        return self._uint(2)

    def u32(self) -> int:
        """Read a ``uint32``."""
        return self._uint(4)

    def u64(self) -> int:
        """Read a ``uint64``."""
        return self._uint(8)

    def varint(self) -> int:
        """Read a variable-length integer, rejecting reserved and non-minimal forms."""
        first = self.u8()
        prefix = first >> 6
        if prefix == 3:
            raise InvalidVarint("varint uses the reserved 0b11 prefix")
        size = 1 << prefix
        value = int.from_bytes(bytes([first & 0x3F]) + self.raw(size - 1), "big")
        if size > 1 and value <= _VARINT_LIMITS[prefix - 1][1]:
            raise InvalidVarint(f"varint {value} is not minimally encoded in {size} bytes")
        return value

    def opaque(self, cap: int = DEFAULT_VECTOR_CAP) -> bytes:
        """Read ``opaque data<V>`` of at most ``cap`` bytes."""
        length = self.varint()
        if length > cap:
            raise LengthExceedsCap(f"vector of {length} bytes exceeds the cap of {cap}")
        return self.raw(length)

    def vector(
        self, decode_item: Callable[[TlsReader], T], cap: int = DEFAULT_VECTOR_CAP
    ) -> list[T]:
        """Read ``T items<V>``: items decoded until the vector's bytes are used up exactly."""
        inner = TlsReader(self.opaque(cap))
        items: list[T] = []
        while inner.remaining:
            items.append(decode_item(inner))
        return items

    def optional(self, decode_item: Callable[[TlsReader], T]) -> T | None:
        """Read ``optional<T>``."""
        return decode_item(self) if self.boolean() else None

    def boolean(self) -> bool:
        """Read a ``bool``; bytes other than 0 and 1 are rejected."""
        flag = self.u8()
        if flag > 1:
            raise MLSDecodeError(f"boolean or presence byte is {flag}, not 0 or 1")
        return flag == 1

    def finish(self) -> None:
        """Assert the structure consumed every byte."""
        if self.remaining:
            raise MLSTrailingBytes(f"{self.remaining} bytes left after the structure")


class Encodable(Protocol):
    """A structure that appends itself to a :class:`TlsWriter`."""

    def encode(self, writer: TlsWriter) -> None:
        """Append the structure."""


def to_bytes(value: Encodable) -> bytes:
    """The serialised form of one structure."""
    writer = TlsWriter()
    value.encode(writer)
    return writer.build()


def encoded_once(owner: object, slot: str, build: Callable[[], bytes]) -> bytes:
    """``owner``'s encoding kept in its ``slot`` (a field that is not part of init,
    equality or ``dataclasses.replace``), built on first use. For frozen structures that
    are encoded many times over: their bytes cannot change, so neither can the cache."""
    encoded: bytes | None = getattr(owner, slot)
    if encoded is None:
        encoded = build()
        object.__setattr__(owner, slot, encoded)
    return encoded


def decode(data: bytes, decode_item: Callable[[TlsReader], T]) -> T:
    """Decode one whole structure from ``data``; trailing bytes are an error."""
    reader = TlsReader(data)
    value = decode_item(reader)
    reader.finish()
    return value
