"""The strict wire codec: caps, truncation, trailing bytes and version agreement."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.wire import DecodeError, NoCommonVersion, Reader, TrailingBytes, VersionRange, Writer


def test_fields_round_trip_byte_for_byte() -> None:
    data = Writer().u8(1).u16(2).u32(3).u64(4).bytes8(b"ab").bytes16(b"c").bytes32(b"").build()
    fields = ["01", "0002", "00000003", "0000000000000004", "026162", "000163", "00000000"]
    assert data.hex() == "".join(fields)
    reader = Reader(data)
    assert (reader.u8(), reader.u16(), reader.u32(), reader.u64()) == (1, 2, 3, 4)
    assert (reader.bytes8(), reader.bytes16(), reader.bytes32(cap=0)) == (b"ab", b"c", b"")
    reader.finish()


def test_truncation_caps_and_trailing_bytes_are_errors() -> None:
    with pytest.raises(DecodeError):
        Reader(b"\x00").u16()
    with pytest.raises(DecodeError):
        Reader(b"\x05ab").bytes8()
    with pytest.raises(DecodeError, match="cap"):
        Reader(b"\x03abc").bytes8(cap=2)
    reader = Reader(b"\x01\x02")
    reader.u8()
    with pytest.raises(TrailingBytes):
        reader.finish()


@given(st.binary(max_size=64))
def test_random_bytes_raise_only_decode_errors(data: bytes) -> None:
    reader = Reader(data)
    try:
        reader.bytes8(cap=16)
        reader.bytes16(cap=16)
        reader.finish()
    except DecodeError:
        pass


def test_version_agreement_picks_highest_common() -> None:
    assert VersionRange(1, 3).agree(VersionRange(2, 5)) == 3
    with pytest.raises(NoCommonVersion):
        VersionRange(1, 2).agree(VersionRange(3, 4))
    with pytest.raises(ValueError, match="bad version range"):
        VersionRange(3, 1)
    writer = Writer()
    VersionRange(2, 7).encode(writer)
    assert VersionRange.decode(Reader(writer.build())) == VersionRange(2, 7)
    with pytest.raises(DecodeError):
        VersionRange.decode(Reader(b"\x00\x05\x00\x01"))
