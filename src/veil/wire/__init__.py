"""Veil's wire layer: the strict binary codec, version ranges and fixed-size blocks."""

from veil.wire.codec import Reader, Writer
from veil.wire.errors import DecodeError, NoCommonVersion, TrailingBytes, WireError
from veil.wire.versions import VersionRange

__all__ = [
    "DecodeError",
    "NoCommonVersion",
    "Reader",
    "TrailingBytes",
    "VersionRange",
    "WireError",
    "Writer",
]
