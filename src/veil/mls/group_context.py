"""The GroupContext (RFC 9420 §8.1) and the Extension list it carries (§13)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from veil.mls.codec import TlsReader, TlsWriter, encoded_once, to_bytes
from veil.mls.errors import UnsupportedProtocolVersion

__all__ = [
    "MLS10",
    "Extension",
    "GroupContext",
    "decode_extension",
    "encode_extension",
]

MLS10 = 1
"""ProtocolVersion mls10."""

MAX_GROUP_ID = 256
MAX_HASH = 64
MAX_EXTENSION = 1 << 27


@dataclass(frozen=True, slots=True)
class Extension:
    """``struct { ExtensionType extension_type; opaque extension_data<V>; }``."""

    extension_type: int
    extension_data: bytes


def encode_extension(writer: TlsWriter, extension: Extension) -> None:
    """Append an Extension."""
    writer.u16(extension.extension_type).opaque(extension.extension_data)


def decode_extension(reader: TlsReader) -> Extension:
    """Read an Extension."""
    return Extension(reader.u16(), reader.opaque(MAX_EXTENSION))


def decode_protocol_version(reader: TlsReader) -> int:
    """Read a ProtocolVersion; anything but mls10 is rejected."""
    version = reader.u16()
    if version != MLS10:
        raise UnsupportedProtocolVersion(f"protocol version {version} is not mls10")
    return version


@dataclass(frozen=True, slots=True)
class GroupContext:
    """Everything members agree on in an epoch; it is mixed into every derived secret."""

    cipher_suite: int
    group_id: bytes
    epoch: int
    tree_hash: bytes
    confirmed_transcript_hash: bytes
    extensions: tuple[Extension, ...] = ()
    # The encoding, made once: every message of the epoch signs it.
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def encode(self, writer: TlsWriter) -> None:
        """Append the GroupContext."""
        writer.raw(encoded_once(self, "_encoded", self._build))

    def _build(self) -> bytes:
        writer = TlsWriter().u16(MLS10).u16(self.cipher_suite).opaque(self.group_id)
        writer.u64(self.epoch).opaque(self.tree_hash).opaque(self.confirmed_transcript_hash)
        return writer.vector(self.extensions, encode_extension).build()

    def to_bytes(self) -> bytes:
        """The serialised GroupContext."""
        return to_bytes(self)

    @classmethod
    def decode(cls, reader: TlsReader) -> GroupContext:
        """Read a GroupContext."""
        decode_protocol_version(reader)
        return cls(
            cipher_suite=reader.u16(),
            group_id=reader.opaque(MAX_GROUP_ID),
            epoch=reader.u64(),
            tree_hash=reader.opaque(MAX_HASH),
            confirmed_transcript_hash=reader.opaque(MAX_HASH),
            extensions=tuple(reader.vector(decode_extension)),
        )

    def next_epoch(self, tree_hash: bytes, confirmed_transcript_hash: bytes) -> GroupContext:
        """The context of the following epoch."""
        return replace(
            self,
            epoch=self.epoch + 1,
            tree_hash=tree_hash,
            confirmed_transcript_hash=confirmed_transcript_hash,
        )
