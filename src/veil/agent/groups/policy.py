"""The group's policy: its profile, its roster of roles and names, and its rules.

The policy travels in the MLS GroupContext as extension ``POLICY_EXTENSION``, so
every member holds the same policy in the same epoch, a joiner receives it in the
Welcome's GroupInfo, and a change is a GroupContextExtensions proposal that every
member checks (:mod:`veil.agent.groups.rules`). Commits go to the log as MLS
PrivateMessages, so no relay ever reads it. Layout (docs/protocol/groups.md)::

    uint8 version = 1;
    opaque name<V>; opaque description<V>;      // UTF-8, capped
    uint8 flags;                                 // bit 0 public, bit 1 receipts
    uint8 default_role;                          // role of members without an entry
    RosterEntry roster<V>;
    struct { opaque handle<V>; uint8 role; opaque display_name<V>; opaque log_ref<V>;
             opaque sealed_admin<V>; } RosterEntry;  // sorted by handle, each handle once
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field, replace

from veil.agent.groups.errors import MalformedGroupData
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import MLSProtocolError
from veil.mls.group_context import Extension, GroupContext

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "POLICY_EXTENSION",
    "GroupPolicy",
    "Role",
    "RosterEntry",
    "policy_of",
]

POLICY_EXTENSION = 0xF0A1
"""Private-use extension type (RFC 9420 §17.3 reserves 0xF000-0xFFFF)."""
POLICY_VERSION = 1
MAX_NAME = 128
MAX_DESCRIPTION = 1024
MAX_HANDLE = 32
MAX_LOG_REF = 512
MAX_SEALED = 4096
_FLAG_PUBLIC = 1
_FLAG_RECEIPTS = 2


class Role(enum.IntEnum):
    """What a member may do; a higher role may do everything a lower one may."""

    OBSERVER = 0
    """Reads only."""
    MEMBER = 1
    """Posts, edits and deletes its own messages, changes its own display name."""
    ADMIN = 2
    """Adds and removes members and observers, changes their roles, the group profile."""
    OWNER = 3
    """One per group: everything, including admins' roles, public joining and transfer."""

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text`` (``owner``, ``admin``, ``member``, ``observer``)."""
        try:
            return cls[text.upper()]
        except KeyError:
            known = "owner, admin, member or observer"
            raise ValueError(f"unknown role {text!r}: use {known}") from None


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One member's row: its per-group handle, role, display name and log reference
    (what an admin names to the relay to delete the member's reader and writer)."""

    handle: bytes
    role: Role
    display_name: str = ""
    log_ref: bytes = b""
    sealed_admin: bytes = b""
    """The log's admin credential sealed to this member's leaf (HPKE, EncryptWithLabel
    "veil group admin"), set when the member is made admin or owner."""


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """Profile, flags and roster of one group in one epoch."""

    name: str
    description: str = ""
    public: bool = False
    """Whether a holder of the group's GroupInfo may join by an external commit."""
    receipts: bool = True
    default_role: Role = Role.MEMBER
    roster: tuple[RosterEntry, ...] = field(default=())

    def entry(self, handle: bytes) -> RosterEntry:
        """The roster row of ``handle`` (a default row if it has none)."""
        for row in self.roster:
            if row.handle == handle:
                return row
        return RosterEntry(handle, self.default_role)

    def role_of(self, handle: bytes) -> Role:
        """The role of ``handle``."""
        return self.entry(handle).role

    def owner(self) -> bytes | None:
        """The owner's handle."""
        return next((row.handle for row in self.roster if row.role is Role.OWNER), None)

    def with_entry(self, row: RosterEntry) -> GroupPolicy:
        """The policy with ``row`` added or replacing the row of its handle."""
        rows = [r for r in self.roster if r.handle != row.handle] + [row]
        return replace(self, roster=tuple(sorted(rows, key=lambda r: r.handle)))

    def without(self, handles: set[bytes]) -> GroupPolicy:
        """The policy without the rows of ``handles``."""
        return replace(self, roster=tuple(r for r in self.roster if r.handle not in handles))

    def to_extension(self) -> Extension:
        """The GroupContext extension carrying this policy."""
        writer = TlsWriter().u8(POLICY_VERSION)
        writer.opaque(self.name.encode()).opaque(self.description.encode())
        writer.u8((_FLAG_PUBLIC if self.public else 0) | (_FLAG_RECEIPTS if self.receipts else 0))
        writer.u8(self.default_role)
        writer.vector(self.roster, _encode_entry)
        return Extension(POLICY_EXTENSION, writer.build())

    @classmethod
    def from_extension(cls, data: bytes) -> GroupPolicy:
        """Decode a policy extension; anything malformed is MalformedGroupData."""
        try:
            policy = decode(data, _decode_policy)
        except (MLSProtocolError, UnicodeDecodeError, ValueError) as error:
            raise MalformedGroupData(f"the group policy does not decode: {error}") from error
        handles = [row.handle for row in policy.roster]
        if handles != sorted(set(handles)):
            raise MalformedGroupData("the roster must list each handle once, sorted")
        if sum(row.role is Role.OWNER for row in policy.roster) > 1:
            raise MalformedGroupData("a group has at most one owner")
        if policy.default_role > Role.MEMBER:
            raise MalformedGroupData("the default role is member or observer")
        return policy


def _encode_entry(writer: TlsWriter, row: RosterEntry) -> None:
    writer.opaque(row.handle).u8(row.role).opaque(row.display_name.encode())
    writer.opaque(row.log_ref).opaque(row.sealed_admin)


def _text(reader: TlsReader, cap: int) -> str:
    return reader.opaque(cap).decode()


def _decode_entry(reader: TlsReader) -> RosterEntry:
    handle = reader.opaque(MAX_HANDLE)
    role = Role(reader.u8())
    name, log_ref = _text(reader, MAX_NAME), reader.opaque(MAX_LOG_REF)
    return RosterEntry(handle, role, name, log_ref, reader.opaque(MAX_SEALED))


def _decode_policy(reader: TlsReader) -> GroupPolicy:
    version = reader.u8()
    if version != POLICY_VERSION:
        raise ValueError(f"policy version {version} is not supported")
    name, description = _text(reader, MAX_NAME), _text(reader, MAX_DESCRIPTION)
    flags = reader.u8()
    if flags & ~(_FLAG_PUBLIC | _FLAG_RECEIPTS):
        raise ValueError("unknown policy flags")
    default_role = Role(reader.u8())
    roster = tuple(reader.vector(_decode_entry))
    return GroupPolicy(
        name,
        description,
        bool(flags & _FLAG_PUBLIC),
        bool(flags & _FLAG_RECEIPTS),
        default_role,
        roster,
    )


def policy_of(context: GroupContext) -> GroupPolicy:
    """The policy in a GroupContext (MalformedGroupData if it carries none)."""
    for extension in context.extensions:
        if extension.extension_type == POLICY_EXTENSION:
            return _decoded(extension.extension_data)
    raise MalformedGroupData("the group carries no Veil policy extension")


@functools.lru_cache(maxsize=32)
def _decoded(data: bytes) -> GroupPolicy:
    """A policy decoded once per epoch, not once per message: every entry checks the
    sender's role, and decoding a 10,000-member roster takes about 0.1 s (the policy
    is frozen, so sharing it is safe; a malformed one raises and is not kept)."""
    return GroupPolicy.from_extension(data)
