"""Checks on the text fields of a description: file name, MIME type, relay address.

A file name comes from a peer and ends up on the user's disk and screen, so it may
not name a directory, climb out of one, or carry control characters (terminal
escapes). The checks raise the error class the caller passes: ``ValueError`` when we
encode (our own bug), :class:`MalformedDescription` when we decode (the peer's).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["check_file_name", "check_mime_type", "check_relay_address"]

# RFC 6838 section 4.2 restricted names, lower-case only so one type has one spelling.
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_RELAY_PREFIX = "veil://"


def check_file_name(name: str, cap: int, error: type[Exception]) -> None:
    """A single path component of 1..cap UTF-8 bytes, with no control characters."""
    if not name or len(name.encode()) > cap:
        raise error(f"a file name is 1..{cap} bytes of UTF-8")
    if name in {".", ".."} or "/" in name or "\\" in name:
        raise error("a file name may not name or leave a directory")
    if any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in name):
        raise error("a file name may not contain control or format characters")


def check_mime_type(mime_type: str, cap: int, error: type[Exception]) -> None:
    """A lower-case ``type/subtype`` of at most ``cap`` ASCII characters."""
    if len(mime_type) > cap or _MIME.fullmatch(mime_type) is None:
        raise error("a MIME type is a lower-case type/subtype")


def check_relay_address(address: str, cap: int, error: type[Exception]) -> None:
    """A printable ASCII ``veil://`` address; the agent parses it in full before use."""
    if not 0 < len(address) <= cap or not address.startswith(_RELAY_PREFIX):
        raise error("a relay address is a veil:// address")
    if not address.isascii() or not address.isprintable() or " " in address:
        raise error("a relay address is printable ASCII without spaces")
