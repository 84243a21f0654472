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
from veil.agent.groups.policy import MAX_HANDLE, MAX_LOG_REF, MAX_NAME, Role
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import MLSProtocolError
from veil.mls.framing import MLSMessage
from veil.mls.group_state import JoinKeys
from veil.mls.leaf_node import KeyPackage
from veil.mls.welcome import Welcome

__all__ = [
    "ENTRY_VERSION",
    "AdmittedBatch",
    "JoinRequest",
    "PendingJoin",
    "WelcomeBundle",
    "decode_entry",
    "encode_entry",
    "welcome_of",
]

T = TypeVar("T")
ENTRY_VERSION = 1
MAX_ENTRY = 1 << 26
MAX_ACCESS = 4096
MAX_KEY_PACKAGE = 1 << 16


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
    """What the admin sends a joiner over their pairwise connection once the commit
    adding it won its epoch. The Welcome itself is in the group's log (entry
    ``welcome_seq``), so the bundle stays small whatever the group's size."""

    access: bytes
    """The joiner's own log credentials."""
    log_ref: bytes
    cursor: int
    """The sequence number of the commit that added the joiner: it reads after it."""
    welcome_seq: int
    role: Role
    inviter: bytes
    """The admin's own handle in the group: the joiner learns which member its pairwise
    contact is (introduced over the authenticated pairwise channel)."""
    admin: bytes | None = None
    """The log's admin credential, for joiners added as admins."""

    def to_bytes(self) -> bytes:
        """``uint8 version; opaque access<V>; opaque log_ref<V>; uint64 cursor;
        uint64 welcome_seq; uint8 role; opaque inviter<V>; optional<opaque> admin``."""
        writer = TlsWriter().u8(ENTRY_VERSION).opaque(self.access).opaque(self.log_ref)
        writer.u64(self.cursor).u64(self.welcome_seq).u8(self.role).opaque(self.inviter)
        return writer.optional(self.admin, TlsWriter.opaque).build()

    @classmethod
    def from_bytes(cls, data: bytes) -> WelcomeBundle:
        """Decode a welcome bundle (MalformedGroupData if it does not)."""

        def read(reader: TlsReader) -> WelcomeBundle:
            _version(reader)
            access, ref = reader.opaque(MAX_ACCESS), reader.opaque(MAX_LOG_REF)
            cursor, welcome_seq, role = reader.u64(), reader.u64(), Role(reader.u8())
            if welcome_seq <= cursor:
                raise ValueError("the Welcome comes after the commit it belongs to")
            inviter = reader.opaque(MAX_HANDLE)
            admin = reader.optional(lambda r: r.opaque(MAX_ACCESS))
            return cls(access, ref, cursor, welcome_seq, role, inviter, admin)

        return _decode(data, "welcome bundle", read)


@dataclass(frozen=True, slots=True)
class AdmittedBatch:
    """What an admin keeps with its Welcome entry until the entry is in the log: the
    commit's sequence number and, per joiner, its ticket, grant and role."""

    commit_seq: int
    joiners: tuple[tuple[bytes, bytes, bytes, Role], ...]

    def to_bytes(self) -> bytes:
        """``uint64 commit_seq; { opaque ticket, access, ref<V>; uint8 role } joiners<V>``."""
        writer = TlsWriter().u64(self.commit_seq)
        writer.vector(self.joiners, lambda w, j: w.opaque(j[0]).opaque(j[1]).opaque(j[2]).u8(j[3]))
        return writer.build()

    @classmethod
    def from_bytes(cls, data: bytes) -> AdmittedBatch:
        """Decode a batch (our own bytes, from our store)."""

        def read(reader: TlsReader) -> AdmittedBatch:
            seq = reader.u64()
            joiners = reader.vector(lambda r: (r.opaque(), r.opaque(), r.opaque(), Role(r.u8())))
            return cls(seq, tuple(joiners))

        return _decode(data, "admitted batch", read)

    def bundles(
        self, welcome_seq: int, inviter: bytes, admin: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        """``(ticket, bundle bytes)`` for each joiner, once the Welcome is at ``welcome_seq``."""
        return [
            (
                ticket,
                WelcomeBundle(
                    access,
                    ref,
                    self.commit_seq,
                    welcome_seq,
                    role,
                    inviter,
                    admin if role >= Role.ADMIN else None,
                ).to_bytes(),
            )
            for ticket, access, ref, role in self.joiners
        ]


def welcome_of(data: bytes) -> Welcome:
    """The Welcome in a log entry (MalformedGroupData if it holds none)."""
    body = decode_entry(data).body
    if not isinstance(body, Welcome):
        raise MalformedGroupData("the log entry named in the bundle is not a Welcome")
    return body


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
