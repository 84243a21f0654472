"""Blocks: exact layout, strictness and round trips."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.wire import WireError
from veil.wire.blocks import (
    BLOCK_SIZE,
    MAX_BATCH,
    MAX_TRANSMISSION_SIZE,
    BlockBatcher,
    decode_block,
    encode_block,
)


def test_layout_byte_by_byte() -> None:
    block = encode_block([b"ab", b"c"])
    assert len(block) == BLOCK_SIZE
    assert block[:8] == b"\x02\x00\x02ab\x00\x01c"
    assert block[8:] == bytes(BLOCK_SIZE - 8)
    assert decode_block(block) == [b"ab", b"c"]


def test_one_maximal_transmission_fills_the_block() -> None:
    transmission = b"\x07" * MAX_TRANSMISSION_SIZE
    block = encode_block([transmission])
    assert block[:3] == b"\x01\x3f\xfd"
    assert decode_block(block) == [transmission]


@pytest.mark.parametrize(
    "transmissions",
    [[], [b""], [b"x"] * (MAX_BATCH + 1), [b"x" * MAX_TRANSMISSION_SIZE, b"y"]],
    ids=["none", "empty", "too-many", "too-big"],
)
def test_encode_refuses_what_cannot_be_a_block(transmissions: list[bytes]) -> None:
    with pytest.raises(ValueError):
        encode_block(transmissions)


@pytest.mark.parametrize(
    "block",
    [
        b"",
        bytes(BLOCK_SIZE),  # count 0
        encode_block([b"ab"])[:-1],  # one byte short
        encode_block([b"ab"]) + b"\x00",  # one byte long
        b"\x01\x00\x00" + bytes(BLOCK_SIZE - 3),  # empty transmission
        b"\x01\x40\x00" + bytes(BLOCK_SIZE - 3),  # length past the end
        b"\x02\x00\x01a" + bytes(BLOCK_SIZE - 4),  # second transmission empty
        encode_block([b"ab"])[:-1] + b"\x01",  # non-zero padding
    ],
    ids=["empty", "zero-count", "short", "long", "empty-tx", "oversize", "missing", "padding"],
)
def test_decode_rejects_malformed_blocks(block: bytes) -> None:
    with pytest.raises(WireError):
        decode_block(block)


@given(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=60))
def test_round_trip(transmissions: list[bytes]) -> None:
    assert decode_block(encode_block(transmissions)) == transmissions


@given(st.binary(max_size=600), st.sampled_from([b"\x00", b"\x01"]))
def test_random_blocks_only_raise_wire_errors(prefix: bytes, fill: bytes) -> None:
    with contextlib.suppress(WireError):
        decode_block(prefix.ljust(BLOCK_SIZE, fill))


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=BLOCK_SIZE - 1))
def test_mutated_blocks_only_raise_wire_errors(noise: bytes, offset: int) -> None:
    block = bytearray(encode_block([b"a" * 100, b"b" * 50]))
    block[offset : offset + len(noise)] = noise
    with contextlib.suppress(WireError):
        decode_block(bytes(block[:BLOCK_SIZE]).ljust(BLOCK_SIZE, b"\x00"))


@given(st.lists(st.binary(min_size=1, max_size=6000), min_size=1, max_size=40))
def test_batcher_keeps_order_and_fills_blocks(transmissions: list[bytes]) -> None:
    batcher = BlockBatcher()
    for transmission in transmissions:
        batcher.add(transmission)
    blocks = batcher.drain()
    decoded = [t for block in blocks for t in decode_block(block)]
    assert decoded == transmissions
    for first, second in itertools.pairwise(blocks):
        # A block was sealed only because the next transmission did not fit.
        assert len(decode_block(first)) == MAX_BATCH or (
            3 + sum(2 + len(t) for t in decode_block(first)) + len(decode_block(second)[0])
            > BLOCK_SIZE
        )
    assert batcher.drain() == []


def test_batcher_splits_at_the_batch_limit() -> None:
    batcher = BlockBatcher()
    for _ in range(MAX_BATCH + 1):
        batcher.add(b"x")
    first, second = batcher.drain()
    assert len(decode_block(first)) == MAX_BATCH
    assert decode_block(second) == [b"x"]


def test_batcher_refuses_oversized_transmission() -> None:
    with pytest.raises(ValueError):
        BlockBatcher().add(b"x" * (MAX_TRANSMISSION_SIZE + 1))
