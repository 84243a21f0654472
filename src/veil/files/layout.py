"""How a file is cut: encryption segments, size classes, chunk sizes, relay placement.

A file is encrypted in segments of :data:`SEGMENT_SIZE` bytes (``stream.py``). The
number of segments is rounded up with Padmé (Nikitin et al., "Reducing Metadata
Leakage from Encrypted Files and Communication with PURBs", PETS 2019): at most
about 12% of padding, and the padded size reveals only ``O(log log n)`` bits of the
true size. The padded segment count *is* the file's size class: the relays see
nothing finer. The encrypted file is then cut into chunks of one of
:data:`CHUNK_SIZES`, the largest that divides the padded size evenly, and each chunk
is placed on one of the user's file relays.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from veil.files.errors import FileTooLarge, NoRelayAvailable

__all__ = [
    "CHUNK_SIZES",
    "MAX_CHUNKS",
    "MAX_FILE_SIZE",
    "SEGMENT_PLAINTEXT_SIZE",
    "SEGMENT_SIZE",
    "ChunkLayout",
    "padded_segment_count",
    "place_chunks",
    "plan_layout",
    "replace_failed",
]

KIB = 1024
MIB = 1024 * KIB
SEGMENT_SIZE = 64 * KIB
AEAD_TAG_SIZE = 16
SEGMENT_PLAINTEXT_SIZE = SEGMENT_SIZE - AEAD_TAG_SIZE
CHUNK_SIZES = (64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB)
MAX_FILE_SIZE = 8 * 1024 * MIB
# 8 GiB pads to 135,168 segments, 2,112 chunks of 4 MiB; the cap leaves room.
MAX_CHUNKS = 4096


def padded_segment_count(segments: int) -> int:
    """Round ``segments`` up to its Padmé size class (exact below 8 segments)."""
    if segments < 1:
        raise ValueError("a file has at least one segment")
    exponent = segments.bit_length() - 1
    dropped_bits = exponent - exponent.bit_length()
    mask = (1 << dropped_bits) - 1 if dropped_bits > 0 else 0
    return (segments + mask) & ~mask


@dataclass(frozen=True, slots=True)
class ChunkLayout:
    """The shape of one encrypted file: its size class and how it is chunked."""

    plaintext_size: int
    segment_count: int
    chunk_size: int

    @property
    def encrypted_size(self) -> int:
        """Bytes on the relays: the size class of the file."""
        return self.segment_count * SEGMENT_SIZE

    @property
    def segments_per_chunk(self) -> int:
        """How many encryption segments one chunk holds."""
        return self.chunk_size // SEGMENT_SIZE

    @property
    def chunk_count(self) -> int:
        """How many chunks the encrypted file is cut into."""
        return self.encrypted_size // self.chunk_size


def plan_layout(plaintext_size: int) -> ChunkLayout:
    """Choose the size class and chunk size for a file of ``plaintext_size`` bytes."""
    if plaintext_size < 0:
        raise ValueError("a file size cannot be negative")
    if plaintext_size > MAX_FILE_SIZE:
        raise FileTooLarge(f"files above {MAX_FILE_SIZE} bytes cannot be sent; split it first")
    needed = max(1, -(-plaintext_size // SEGMENT_PLAINTEXT_SIZE))
    segments = padded_segment_count(needed)
    encrypted = segments * SEGMENT_SIZE
    chunk_size = max(size for size in CHUNK_SIZES if encrypted % size == 0)
    return ChunkLayout(plaintext_size, segments, chunk_size)


def place_chunks(
    chunk_count: int, relays: Sequence[str], down: Collection[str], start: int
) -> tuple[str, ...]:
    """Spread ``chunk_count`` chunks round-robin over the relays that are not down.

    ``start`` (drawn at random by the caller) picks the first relay, so the first
    chunk of every file does not always land on the same one.
    """
    usable = [relay for relay in dict.fromkeys(relays) if relay not in down]
    if not usable:
        raise NoRelayAvailable("no enabled file relay is reachable; enable another or retry")
    return tuple(usable[(start + index) % len(usable)] for index in range(chunk_count))


def replace_failed(
    placement: Sequence[str], movable: Collection[int], relays: Sequence[str], down: Collection[str]
) -> tuple[str, ...]:
    """Move the chunks in ``movable`` that sit on a relay in ``down`` to relays still up.

    Chunks that are not movable (already uploaded) stay where they are, even on a
    relay that is down now: they were acknowledged there and may come back.
    """
    usable = [relay for relay in dict.fromkeys(relays) if relay not in down]
    moved = [i for i in movable if placement[i] in down]
    if moved and not usable:
        raise NoRelayAvailable("every enabled file relay is down; retry when one is back")
    updated = list(placement)
    for turn, index in enumerate(sorted(moved)):
        updated[index] = usable[(index + turn) % len(usable)]
    return tuple(updated)
