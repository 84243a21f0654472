"""Profiles: how a user presents themselves to a contact.

A profile travels only inside the encrypted channel (in the handshake confirmation
and in profile-update events); relays never see it. Every field is capped so a peer
cannot bloat our store or our screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.chat.errors import MalformedEvent, UnsupportedEventVersion
from veil.chat.text import read_text, validate_text, write_text
from veil.wire import Reader, WireError, Writer

__all__ = [
    "BIO_MAX_BYTES",
    "DISPLAY_NAME_MAX_BYTES",
    "FULL_NAME_MAX_BYTES",
    "PROFILE_FORMAT_VERSION",
    "Profile",
]

DISPLAY_NAME_MAX_BYTES = 100
FULL_NAME_MAX_BYTES = 200
BIO_MAX_BYTES = 1000
PROFILE_FORMAT_VERSION = 1

_ABSENT, _PRESENT = 0, 1


@dataclass(frozen=True, slots=True)
class Profile:
    """A display name plus an optional full name and bio."""

    display_name: str
    full_name: str | None = None
    bio: str | None = None

    def __post_init__(self) -> None:
        validate_text(
            self.display_name,
            field="display_name",
            max_bytes=DISPLAY_NAME_MAX_BYTES,
            multiline=False,
        )
        if self.full_name is not None:
            validate_text(
                self.full_name, field="full_name", max_bytes=FULL_NAME_MAX_BYTES, multiline=False
            )
        if self.bio is not None:
            validate_text(self.bio, field="bio", max_bytes=BIO_MAX_BYTES, multiline=True)

    def encode(self, writer: Writer) -> None:
        """Append the fields (no version byte: the enclosing format carries one)."""
        write_text(writer, self.display_name)
        for optional in (self.full_name, self.bio):
            if optional is None:
                writer.u8(_ABSENT)
            else:
                write_text(writer.u8(_PRESENT), optional)

    @classmethod
    def decode(cls, reader: Reader) -> Profile:
        """Read fields written by :meth:`encode`; :class:`MalformedEvent` if invalid."""
        display_name = read_text(
            reader, field="display_name", max_bytes=DISPLAY_NAME_MAX_BYTES, multiline=False
        )
        full_name = _read_optional(reader, "full_name", FULL_NAME_MAX_BYTES, multiline=False)
        bio = _read_optional(reader, "bio", BIO_MAX_BYTES, multiline=True)
        return cls(display_name, full_name, bio)

    def to_handshake_bytes(self) -> bytes:
        """The fields without a version byte: what the agent carries, opaque, in its
        handshake and contact requests (their formats are versioned by the agent)."""
        writer = Writer()
        self.encode(writer)
        return writer.build()

    @classmethod
    def from_handshake_bytes(cls, data: bytes) -> Profile:
        """Parse :meth:`to_handshake_bytes` output strictly; :class:`MalformedEvent` if bad."""
        return cls._parse(data, versioned=False)

    def to_bytes(self) -> bytes:
        """Serialise standalone, led by :data:`PROFILE_FORMAT_VERSION`."""
        return bytes((PROFILE_FORMAT_VERSION,)) + self.to_handshake_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Parse :meth:`to_bytes` output strictly (caps, version, no trailing bytes)."""
        return cls._parse(data, versioned=True)

    @classmethod
    def _parse(cls, data: bytes, *, versioned: bool) -> Profile:
        reader = Reader(data)
        try:
            if versioned and (version := reader.u8()) != PROFILE_FORMAT_VERSION:
                raise UnsupportedEventVersion(f"profile format version {version}")
            profile = cls.decode(reader)
            reader.finish()
        except (WireError, ValueError) as exc:
            raise MalformedEvent(f"bad profile: {exc}") from exc
        return profile


def _read_optional(reader: Reader, field: str, cap: int, *, multiline: bool) -> str | None:
    presence = reader.u8()
    if presence == _ABSENT:
        return None
    if presence != _PRESENT:
        raise MalformedEvent(f"bad presence flag {presence} for {field}")
    return read_text(reader, field=field, max_bytes=cap, multiline=multiline)
