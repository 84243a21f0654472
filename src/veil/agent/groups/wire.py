"""What group members send each other outside MLS messages: log entries, join
requests and welcome bundles (docs/protocol/groups.md, "Formats").

Every decoder caps its lengths, rejects trailing bytes and raises
MalformedGroupData.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from veil.agent.groups.errors import MalformedGroupData
from veil.agent.groups.policy import MAX_LOG_REF, MAX_NAME, Role
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import MLSProtocolError
from veil.mls.framing import MLSMessage
from veil.mls.group_state import JoinKeys
from veil.mls.leaf_node import KeyPackage
from veil.mls.welcome import Welcome

__all__ = [
    "ENTRY_VERSION",
    "JoinRequest",
    "PendingJoin",
    "WelcomeBundle",
    "decode_entry",
    "encode_entry",
]

T = TypeVar("T")
ENTRY_VERSION = 1
MAX_ENTRY = 1 << 26
MAX_ACCESS = 4096
MAX_KEY_PACKAGE = 1 << 16
MAX_WELCOME = 1 << 27


def _decode(data: bytes, what: str, read: Callable[[TlsReader], T]) -> T:
    try:
        return decode(data, read)
    except (MLSProtocolError, UnicodeDecodeError, ValueError) as error:
        raise MalformedGroupData(f"the {what} does not decode: {error}") from error


def _version(reader: TlsReader) -> None:
    version = reader.u8()
    if version != ENTRY_VERSION:
        raise ValueError(f"version {version} is not supported")


def encode_entry(message: MLSMessage) -> bytes:
    """A log entry: ``uint8 version = 1; MLSMessage message``."""
    return TlsWriter().u8(ENTRY_VERSION).build() + message.to_bytes()


def decode_entry(data: bytes) -> MLSMessage:
    """The MLS message a log entry carries."""
    if len(data) > MAX_ENTRY:
        raise MalformedGroupData("the log entry is too long")

    def read(reader: TlsReader) -> MLSMessage:
        _version(reader)
        return MLSMessage.decode(reader)

    return _decode(data, "log entry", read)


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """What a joiner sends the admin: a KeyPackage for its fresh per-group leaf and the
    display name it wants in the group."""

    key_package: KeyPackage
    display_name: str

    def to_bytes(self) -> bytes:
        """``uint8 version; opaque key_package<V>; opaque display_name<V>``."""
        writer = TlsWriter().u8(ENTRY_VERSION).opaque(self.key_package.to_bytes())
        return writer.opaque(self.display_name.encode()).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> JoinRequest:
        """Decode a join request (MalformedGroupData if it does not)."""

        def read(reader: TlsReader) -> JoinRequest:
            _version(reader)
            package = decode(reader.opaque(MAX_KEY_PACKAGE), KeyPackage.decode)
            return cls(package, reader.opaque(MAX_NAME).decode())

        return _decode(data, "join request", read)


@dataclass(frozen=True, slots=True)
class WelcomeBundle:
    """What the admin sends a joiner once the commit adding it won its epoch."""

    welcome: Welcome
    access: bytes
    """The joiner's own log credentials."""
    log_ref: bytes
    cursor: int
    """The sequence number of the commit that added the joiner: it reads after it."""
    role: Role
    admin: bytes | None = None
    """The log's admin credential, for joiners added as admins."""

    def to_bytes(self) -> bytes:
        """``uint8 version; opaque welcome<V>; opaque access<V>; opaque log_ref<V>;
        uint64 cursor; uint8 role; optional<opaque> admin``."""
        writer = TlsWriter().u8(ENTRY_VERSION).opaque(MLSMessage(self.welcome).to_bytes())
        writer.opaque(self.access).opaque(self.log_ref).u64(self.cursor).u8(self.role)
        return writer.optional(self.admin, TlsWriter.opaque).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> WelcomeBundle:
        """Decode a welcome bundle (MalformedGroupData if it does not)."""

        def read(reader: TlsReader) -> WelcomeBundle:
            _version(reader)
            message = decode(reader.opaque(MAX_WELCOME), MLSMessage.decode)
            if not isinstance(message.body, Welcome):
                raise ValueError("the bundle carries no Welcome")
            access, ref = reader.opaque(MAX_ACCESS), reader.opaque(MAX_LOG_REF)
            cursor, role = reader.u64(), Role(reader.u8())
            admin = reader.optional(lambda r: r.opaque(MAX_ACCESS))
            return cls(message.body, access, ref, cursor, role, admin)

        return _decode(data, "welcome bundle", read)


@dataclass(frozen=True, slots=True)
class PendingJoin:
    """The joiner's secret half of a join request, kept until the Welcome arrives."""

    key_package: KeyPackage
    keys: JoinKeys

    def to_bytes(self) -> bytes:
        """``uint8 version; opaque key_package<V>; opaque init, encryption, signature<V>``."""
        writer = TlsWriter().u8(ENTRY_VERSION).opaque(self.key_package.to_bytes())
        writer.opaque(self.keys.init_private).opaque(self.keys.encryption_private)
        return writer.opaque(self.keys.signature_private).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingJoin:
        """Decode a pending join (MalformedGroupData if it does not)."""

        def read(reader: TlsReader) -> PendingJoin:
            _version(reader)
            package = decode(reader.opaque(MAX_KEY_PACKAGE), KeyPackage.decode)
            keys = JoinKeys(reader.opaque(128), reader.opaque(128), reader.opaque(128))
            return cls(package, keys)

        return _decode(data, "pending join", read)
