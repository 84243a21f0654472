"""Errors of the wire layer (codes 3xx): malformed bytes from the network."""

from __future__ import annotations

from typing import ClassVar

from veil.errors import ProtocolError

__all__ = ["DecodeError", "NoCommonVersion", "TrailingBytes", "WireError"]


class WireError(ProtocolError):
    """Bytes received from the network do not decode."""

    code: ClassVar[int] = 300


class DecodeError(WireError):
    """A field is truncated, too long, or holds an impossible value."""

    code: ClassVar[int] = 301


class TrailingBytes(WireError):
    """A message decoded but bytes were left over; strict parsers reject that."""

    code: ClassVar[int] = 302


class NoCommonVersion(WireError):
    """The two sides' version ranges do not overlap."""

    code: ClassVar[int] = 303
