"""A strict binary codec: every read is bounds-checked, every length is capped.

All integers are big-endian and unsigned. Variable-length fields carry a length
prefix (``u8``, ``u16`` or ``u32``) and every caller names the largest length it
accepts, so a hostile length can never make us allocate or wait for more than that.
Decoding ends with :meth:`Reader.finish`, which rejects trailing bytes.
"""

from __future__ import annotations

from veil.wire.errors import DecodeError, TrailingBytes

__all__ = ["Reader", "Writer"]


class Writer:
    """Builds a byte string field by field."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        """Append one unsigned byte."""
        self._parts.append(value.to_bytes(1, "big"))
        return self

    def u16(self, value: int) -> Writer:
        """Append a 16-bit unsigned integer."""
        self._parts.append(value.to_bytes(2, "big"))
        return self

    def u32(self, value: int) -> Writer:
        """Append a 32-bit unsigned integer."""
        self._parts.append(value.to_bytes(4, "big"))
        return self

    def u64(self, value: int) -> Writer:
        """Append a 64-bit unsigned integer."""
        self._parts.append(value.to_bytes(8, "big"))
        return self

    def raw(self, data: bytes) -> Writer:
        """Append bytes whose length the reader knows in advance."""
        self._parts.append(bytes(data))
        return self

    def bytes8(self, data: bytes) -> Writer:
        """Append bytes with a ``u8`` length prefix."""
        return self.u8(len(data)).raw(data)

    def bytes16(self, data: bytes) -> Writer:
        """Append bytes with a ``u16`` length prefix."""
        return self.u16(len(data)).raw(data)

    def bytes32(self, data: bytes) -> Writer:
        """Append bytes with a ``u32`` length prefix."""
        return self.u32(len(data)).raw(data)

    def build(self) -> bytes:
        """Return everything appended so far."""
        return b"".join(self._parts)


class Reader:
    """Consumes a byte string field by field, raising :class:`DecodeError` on any fault."""

    __slots__ = ("_data", "_offset")

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._offset = 0

    @property
    def remaining(self) -> int:
        """How many bytes are left to read."""
        return len(self._data) - self._offset

    def raw(self, length: int) -> bytes:
        """Read exactly ``length`` bytes."""
        end = self._offset + length
        if length < 0 or end > len(self._data):
            raise DecodeError(f"needed {length} bytes, {self.remaining} left")
        out = bytes(self._data[self._offset : end])
        self._offset = end
        return out

    def _uint(self, size: int) -> int:
        return int.from_bytes(self.raw(size), "big")

    def u8(self) -> int:
        """Read one unsigned byte."""
        return self._uint(1)

    def u16(self) -> int:
        """Read a 16-bit unsigned integer."""
        return self._uint(2)

    def u32(self) -> int:
        """Read a 32-bit unsigned integer."""
        return self._uint(4)

    def u64(self) -> int:
        """Read a 64-bit unsigned integer."""
        return self._uint(8)

    def _prefixed(self, length: int, cap: int) -> bytes:
        if length > cap:
            raise DecodeError(f"field of {length} bytes exceeds its cap of {cap}")
        return self.raw(length)

    def bytes8(self, cap: int = 0xFF) -> bytes:
        """Read ``u8``-prefixed bytes of at most ``cap`` bytes."""
        return self._prefixed(self.u8(), cap)

    def bytes16(self, cap: int = 0xFFFF) -> bytes:
        """Read ``u16``-prefixed bytes of at most ``cap`` bytes."""
        return self._prefixed(self.u16(), cap)

    def bytes32(self, cap: int) -> bytes:
        """Read ``u32``-prefixed bytes of at most ``cap`` bytes (a cap is mandatory)."""
        return self._prefixed(self.u32(), cap)

    def rest(self) -> bytes:
        """Read everything that is left."""
        return self.raw(self.remaining)

    def finish(self) -> None:
        """Assert the input is fully consumed; :class:`TrailingBytes` otherwise."""
        if self.remaining:
            raise TrailingBytes(f"{self.remaining} unexpected trailing bytes")
