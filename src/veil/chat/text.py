"""User-visible text in chat content: capped, valid UTF-8, free of control characters.

Names and messages are shown in a terminal, so a peer must not be able to smuggle
escape sequences or other control characters into them: names allow none, free text
allows only line feed and tab. Names (single-line fields) also refuse the Unicode
bidirectional override and isolate controls. Caps count UTF-8 bytes because that is
what the wire carries.
"""

from __future__ import annotations

import unicodedata

from veil.chat.errors import MalformedEvent
from veil.wire import Reader, Writer

__all__ = ["read_text", "validate_emoji", "validate_text", "write_text"]

_ALLOWED_IN_MULTILINE = frozenset("\n\t")
# Bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069).
# A name is printed before other text on the same line ("name: message"), so one of
# these in a name would let a peer reorder how what follows it is displayed.
_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def validate_text(value: str, *, field: str, max_bytes: int, multiline: bool) -> None:
    """Raise :class:`ValueError` unless ``value`` is non-empty, within ``max_bytes`` and clean."""
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise ValueError(f"{field} is {size} bytes, over its cap of {max_bytes}")
    allowed = _ALLOWED_IN_MULTILINE if multiline else frozenset()
    for char in value:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError(f"{field} contains control character U+{ord(char):04X}")
        if not multiline and char in _BIDI_CONTROLS:
            raise ValueError(f"{field} contains bidirectional control U+{ord(char):04X}")


def write_text(writer: Writer, value: str) -> None:
    """Append ``value`` as ``u16`` length-prefixed UTF-8."""
    writer.bytes16(value.encode("utf-8"))


def read_text(reader: Reader, *, field: str, max_bytes: int, multiline: bool) -> str:
    """Read text written by :func:`write_text`; :class:`MalformedEvent` unless it is valid."""
    raw = reader.bytes16(cap=max_bytes)
    try:
        value = raw.decode("utf-8")
        validate_text(value, field=field, max_bytes=max_bytes, multiline=multiline)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise MalformedEvent(f"bad {field}: {exc}") from exc
    return value


_EMOJI_PARTS = frozenset({"So", "Sk", "Mn", "Me"})
_ZERO_WIDTH_JOINER = "\u200d"
_KEYCAP = "\u20e3"
_KEYCAP_BASES = frozenset("0123456789#*")


def validate_emoji(emoji: str) -> None:
    """Check that a reaction is emoji (symbols, with their joiners, variation
    selectors, skin tones and keycaps), not words; ``ValueError`` if not."""
    keycap = _KEYCAP in emoji
    for char in emoji:
        allowed = (
            unicodedata.category(char) in _EMOJI_PARTS
            or char == _ZERO_WIDTH_JOINER
            or (keycap and char in _KEYCAP_BASES)
        )
        if not allowed:
            raise ValueError(f"a reaction is an emoji, not text ({emoji!r})")
    if not any(unicodedata.category(char) == "So" for char in emoji) and not keycap:
        raise ValueError(f"a reaction is an emoji, not text ({emoji!r})")
