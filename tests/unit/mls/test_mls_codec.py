"""RFC 9420 §2.1 encoding: varints, vectors, optionals, caps and trailing bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.mls.codec import MAX_VARINT, TlsReader, TlsWriter, decode, encode_varint
from veil.mls.errors import (
    InvalidVarint,
    LengthExceedsCap,
    MLSDecodeError,
    MLSProtocolError,
    MLSTrailingBytes,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (37, "25"),
        (63, "3f"),
        (64, "4040"),
        (15293, "7bbd"),
        (16383, "7fff"),
        (16384, "80004000"),
        (494878333, "9d7f3e7d"),
        (MAX_VARINT, "bfffffff"),
    ],
)
def test_varint_uses_the_shortest_form(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    assert decode(bytes.fromhex(encoded), TlsReader.varint) == value


@pytest.mark.parametrize("encoded", ["4025", "80000025", "80003fff"])
def test_non_minimal_varint_is_rejected(encoded: str) -> None:
    with pytest.raises(InvalidVarint, match="minimal"):
        decode(bytes.fromhex(encoded), TlsReader.varint)


def test_reserved_prefix_and_out_of_range_values_are_rejected() -> None:
    with pytest.raises(InvalidVarint, match="reserved"):
        decode(bytes.fromhex("c000000000000000"), TlsReader.varint)
    with pytest.raises(ValueError, match="range"):
        encode_varint(MAX_VARINT + 1)


def test_struct_round_trips_byte_for_byte() -> None:
    data = (
        TlsWriter()
        .u8(1)
        .u16(2)
        .u32(3)
        .u64(4)
        .opaque(b"ab")
        .vector([b"x", b"yz"], TlsWriter.opaque)
        .optional(None, TlsWriter.u8)
        .optional(7, TlsWriter.u16)
        .boolean(True)
        .build()
    )
    expected = "01000200000003000000000000000402616205017802797a0001000701"
    assert data.hex() == expected
    reader = TlsReader(data)
    assert (reader.u8(), reader.u16(), reader.u32(), reader.u64()) == (1, 2, 3, 4)
    assert reader.opaque() == b"ab"
    assert reader.vector(TlsReader.opaque) == [b"x", b"yz"]
    assert reader.optional(TlsReader.u8) is None
    assert reader.optional(TlsReader.u16) == 7
    assert reader.boolean() is True
    reader.finish()


def test_truncation_caps_flags_and_trailing_bytes_each_have_an_error() -> None:
    with pytest.raises(MLSDecodeError, match="truncated"):
        decode(b"\x00", TlsReader.u16)
    with pytest.raises(MLSDecodeError, match="truncated"):
        decode(b"\x05ab", TlsReader.opaque)
    with pytest.raises(LengthExceedsCap):
        TlsReader(b"\x03abc").opaque(cap=2)
    with pytest.raises(MLSDecodeError, match="not 0 or 1"):
        decode(b"\x02", TlsReader.boolean)
    with pytest.raises(MLSTrailingBytes):
        decode(b"\x01\x02", TlsReader.u8)
    with pytest.raises(MLSDecodeError, match="truncated"):
        decode(b"\x02\x05a", lambda r: r.vector(TlsReader.opaque))


@given(st.lists(st.binary(max_size=70), max_size=5), st.integers(0, MAX_VARINT))
def test_any_vector_and_varint_round_trip(items: list[bytes], number: int) -> None:
    data = TlsWriter().vector(items, TlsWriter.opaque).varint(number).build()
    reader = TlsReader(data)
    assert reader.vector(TlsReader.opaque) == items
    assert reader.varint() == number
    reader.finish()


@given(st.binary(max_size=64))
def test_whatever_decodes_re_encodes_to_the_same_bytes(data: bytes) -> None:
    """Strictness means one encoding per value: anything accepted is canonical."""
    try:
        items, number = decode(
            data, lambda r: (r.vector(TlsReader.opaque), r.optional(TlsReader.varint))
        )
    except MLSProtocolError:
        return
    assert (
        TlsWriter().vector(items, TlsWriter.opaque).optional(number, TlsWriter.varint).build()
        == data
    )
