"""Fixed-size blocks: every read and write on a relay connection is one block.

Layout of a block (exactly :data:`BLOCK_SIZE` bytes)::

    u8  count                      1..255 transmissions
    count * (u16 length || transmission)   each length 1..MAX_TRANSMISSION_SIZE
    zero bytes up to BLOCK_SIZE

There is exactly one valid encoding of each batch: the count is non-zero, no
transmission is empty and every fill byte is zero, so nothing can hide in a block.
"""

from __future__ import annotations

from veil.wire.errors import DecodeError

__all__ = [
    "BLOCK_SIZE",
    "MAX_BATCH",
    "MAX_TRANSMISSION_SIZE",
    "BlockBatcher",
    "decode_block",
    "encode_block",
]

BLOCK_SIZE = 16_384
MAX_BATCH = 0xFF
_COUNT_SIZE = 1
_LENGTH_SIZE = 2
MAX_TRANSMISSION_SIZE = BLOCK_SIZE - _COUNT_SIZE - _LENGTH_SIZE
_ZEROS = bytes(BLOCK_SIZE)


def encode_block(transmissions: list[bytes]) -> bytes:
    """Pack 1..255 transmissions into one block; ``ValueError`` if they do not fit."""
    if not 0 < len(transmissions) <= MAX_BATCH:
        raise ValueError(f"a block carries 1..{MAX_BATCH} transmissions")
    parts = [len(transmissions).to_bytes(_COUNT_SIZE, "big")]
    used = _COUNT_SIZE
    for transmission in transmissions:
        if not transmission:
            raise ValueError("a transmission cannot be empty")
        parts.append(len(transmission).to_bytes(_LENGTH_SIZE, "big"))
        parts.append(transmission)
        used += _LENGTH_SIZE + len(transmission)
    if used > BLOCK_SIZE:
        raise ValueError(f"{used} bytes of transmissions do not fit one block")
    parts.append(bytes(BLOCK_SIZE - used))
    return b"".join(parts)


def decode_block(block: bytes) -> list[bytes]:
    """Return the transmissions of a block; :class:`DecodeError` if it is malformed.

    This runs for every block a relay receives, so it slices directly rather than
    going through :class:`~veil.wire.codec.Reader`; the checks are the same.
    """
    if len(block) != BLOCK_SIZE:
        raise DecodeError(f"a block is {BLOCK_SIZE} bytes, got {len(block)}")
    count = block[0]
    if count == 0:
        raise DecodeError("a block carries at least one transmission")
    transmissions = []
    offset = _COUNT_SIZE
    for _ in range(count):
        start = offset + _LENGTH_SIZE
        end = start + int.from_bytes(block[offset:start], "big")
        if start == end or end > BLOCK_SIZE:
            raise DecodeError("transmission length is zero or runs past the block")
        transmissions.append(block[start:end])
        offset = end
    # startswith is a memcmp; counting zero bytes would be ten times slower.
    if not block.startswith(_ZEROS[: BLOCK_SIZE - offset], offset):
        raise DecodeError("block padding is not all zero")
    return transmissions


class BlockBatcher:
    """Collects outgoing transmissions and packs as many as fit into each block.

    Order is kept: transmissions leave in the order they were added.
    """

    __slots__ = ("_blocks", "_current", "_used")

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        self._current: list[bytes] = []
        self._used = _COUNT_SIZE

    def __len__(self) -> int:
        """How many transmissions wait in the block being filled."""
        return len(self._current)

    def add(self, transmission: bytes) -> None:
        """Queue one transmission; ``ValueError`` if it could never fit a block."""
        if not 0 < len(transmission) <= MAX_TRANSMISSION_SIZE:
            raise ValueError(f"transmission must be 1..{MAX_TRANSMISSION_SIZE} bytes")
        size = _LENGTH_SIZE + len(transmission)
        if self._used + size > BLOCK_SIZE or len(self._current) == MAX_BATCH:
            self._seal()
        self._current.append(transmission)
        self._used += size

    def _seal(self) -> None:
        if self._current:
            self._blocks.append(encode_block(self._current))
            self._current = []
            self._used = _COUNT_SIZE

    def drain(self) -> list[bytes]:
        """Return every block holding what was added since the last drain."""
        self._seal()
        blocks, self._blocks = self._blocks, []
        return blocks
