"""Padding to fixed sizes, so lengths reveal nothing.

Layout: ``u16 big-endian content length || content || zero bytes`` up to the target
size. Unpadding checks the length and that every fill byte is zero, so there is
exactly one valid padded form of each content.
"""

from __future__ import annotations

from typing import ClassVar

from veil.crypto.errors import CryptoError

__all__ = ["MAX_PADDED_SIZE", "InvalidPadding", "pad", "padded_capacity", "unpad"]

_LENGTH_PREFIX = 2
MAX_PADDED_SIZE = 0xFFFF + _LENGTH_PREFIX


class InvalidPadding(CryptoError):
    """Padded data is malformed (wrong length prefix or non-zero fill)."""

    code: ClassVar[int] = 103


def padded_capacity(size: int) -> int:
    """Return the largest content that :func:`pad` fits into ``size`` bytes."""
    return size - _LENGTH_PREFIX


def pad(content: bytes, size: int) -> bytes:
    """Pad ``content`` to exactly ``size`` bytes; ``ValueError`` if it cannot fit."""
    if not 0 < size <= MAX_PADDED_SIZE:
        raise ValueError(f"padded size must be in 1..{MAX_PADDED_SIZE}")
    if len(content) > padded_capacity(size):
        raise ValueError(f"{len(content)} bytes do not fit a {size}-byte padded frame")
    fill = size - _LENGTH_PREFIX - len(content)
    return len(content).to_bytes(_LENGTH_PREFIX, "big") + content + bytes(fill)


def unpad(padded: bytes) -> bytes:
    """Return the content of a padded frame; :class:`InvalidPadding` if malformed."""
    if len(padded) < _LENGTH_PREFIX:
        raise InvalidPadding("padded frame is shorter than its length prefix")
    length = int.from_bytes(padded[:_LENGTH_PREFIX], "big")
    end = _LENGTH_PREFIX + length
    if end > len(padded):
        raise InvalidPadding("padding length prefix exceeds the frame")
    if padded[end:].count(0) != len(padded) - end:
        raise InvalidPadding("padding fill bytes are not zero")
    return padded[_LENGTH_PREFIX:end]
