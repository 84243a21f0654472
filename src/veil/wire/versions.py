"""Version ranges: every layer says which versions it speaks, and both sides agree
on the highest one they share. This is how the network keeps moving without
breaking conversations that already exist."""

from __future__ import annotations

from dataclasses import dataclass

from veil.wire.codec import Reader, Writer
from veil.wire.errors import DecodeError, NoCommonVersion

__all__ = ["VersionRange"]


@dataclass(frozen=True, slots=True)
class VersionRange:
    """An inclusive range ``[minimum, maximum]`` of protocol versions (u16 each)."""

    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum <= 0xFFFF:
            raise ValueError(f"bad version range {self.minimum}..{self.maximum}")

    def agree(self, other: VersionRange) -> int:
        """Return the highest version in both ranges; :class:`NoCommonVersion` if none."""
        highest = min(self.maximum, other.maximum)
        if highest < max(self.minimum, other.minimum):
            raise NoCommonVersion(f"no common version between {self} and {other}")
        return highest

    def __contains__(self, version: object) -> bool:
        return isinstance(version, int) and self.minimum <= version <= self.maximum

    def __str__(self) -> str:
        return f"{self.minimum}-{self.maximum}"

    def encode(self, writer: Writer) -> None:
        """Append the range as two ``u16``."""
        writer.u16(self.minimum).u16(self.maximum)

    @classmethod
    def decode(cls, reader: Reader) -> VersionRange:
        """Read a range written by :meth:`encode`; :class:`DecodeError` if invalid."""
        minimum, maximum = reader.u16(), reader.u16()
        try:
            return cls(minimum, maximum)
        except ValueError as exc:
            raise DecodeError(str(exc)) from exc
