"""Persisted member state: a versioned binary format (docs/protocol/groups.md,
"Persisted state"). The MLS state, the log cursor and everything pending are one
value, so they are written in one transaction and can never disagree.

Layout (version 1)::

    opaque magic[4] = "VGRP"; uint8 version = 1;
    opaque mls_state<V>;                  // veil.mls.state_codec
    uint64 cursor; uint8 status; uint8 leaving;
    opaque access<V>; opaque log_ref<V>; optional<opaque> admin;
    Intent intent;
    optional<{ opaque commit<V>; optional<opaque> welcome;
               opaque mls_state<V>; uint64 epoch; Intent intent; opaque revoke<V><V>;
               uint8 posted }> pending;
    { uint8 kind; uint64 epoch + 1; opaque entry<V>; opaque plaintext<V>; uint8 posted }
        posts<V>;
    opaque revocations<V><V>;
    uint64 joining;                       // epoch of our external commit + 1, or 0
    Intent = { Admission admissions<V>; Edit edits<V>; uint8 update }
    Admission = { opaque ticket<V>; opaque request<V>; opaque access<V>; opaque ref<V>;
                  uint8 role }
    Edit = { uint8 kind; opaque handle<V>; opaque value<V> }
"""

from __future__ import annotations

from veil.agent.groups.errors import GroupProtocolError, GroupStateCorrupt
from veil.agent.groups.intent import Admission, Edit, EditKind, Intent, PreparedCommit
from veil.agent.groups.log_port import LogGrant
from veil.agent.groups.member import GroupMember, PendingPost, PostKind, Status
from veil.agent.groups.policy import Role
from veil.agent.groups.wire import JoinRequest
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import MLSError
from veil.mls.framing import MLSMessage
from veil.mls.state_codec import decode_state, encode_state

__all__ = ["decode_member", "encode_member"]

MAGIC = b"VGRP"
VERSION = 1
_BIG = 1 << 28


def _write_intent(writer: TlsWriter, intent: Intent) -> None:
    def admission(w: TlsWriter, a: Admission) -> None:
        w.opaque(a.ticket).opaque(a.request.to_bytes()).opaque(a.grant.access)
        w.opaque(a.grant.ref).u8(a.role)

    writer.vector(intent.admissions, admission)
    writer.vector(intent.edits, lambda w, e: w.u8(e.kind).opaque(e.handle).opaque(e.value))
    writer.boolean(intent.update)


def _read_intent(reader: TlsReader) -> Intent:
    def admission(r: TlsReader) -> Admission:
        ticket, request = r.opaque(), JoinRequest.from_bytes(r.opaque())
        return Admission(ticket, request, LogGrant(r.opaque(), r.opaque()), Role(r.u8()))

    admissions = tuple(reader.vector(admission))
    edits = tuple(reader.vector(lambda r: Edit(EditKind(r.u8()), r.opaque(), r.opaque())))
    return Intent(admissions, edits, reader.boolean())


def _write_pending(writer: TlsWriter, member: GroupMember) -> None:
    pending = member.pending
    writer.boolean(pending is not None)
    if pending is None:
        return
    writer.opaque(pending.message.to_bytes())
    writer.optional(pending.welcome, lambda w, m: w.opaque(m.to_bytes()))
    writer.opaque(encode_state(pending.state)).u64(pending.epoch)
    _write_intent(writer, pending.intent)
    writer.vector(pending.revoke, TlsWriter.opaque).boolean(member.pending_commit_posted)


def _read_pending(reader: TlsReader) -> tuple[PreparedCommit | None, bool]:
    if not reader.boolean():
        return None, False
    message = decode(reader.opaque(_BIG), MLSMessage.decode)
    welcome = reader.optional(lambda r: decode(r.opaque(_BIG), MLSMessage.decode))
    state = decode_state(reader.opaque(_BIG))
    # A prepared commit's state was never used to send (it is adopted only when the
    # commit comes back), so it need not commit again; see groups.md "Restored state".
    state.restored = False
    epoch, intent = reader.u64(), _read_intent(reader)
    revoke = tuple(reader.vector(lambda r: r.opaque()))
    prepared = PreparedCommit(message, welcome, state, epoch, intent, revoke)
    return prepared, reader.boolean()


def encode_member(member: GroupMember) -> bytes:
    """Serialise a member's group state."""
    writer = TlsWriter().raw(MAGIC).u8(VERSION).opaque(encode_state(member.mls))
    writer.u64(member.cursor).u8(member.status).boolean(member.leaving)
    writer.opaque(member.access).opaque(member.log_ref)
    writer.optional(member.admin, TlsWriter.opaque)
    _write_intent(writer, member.intent)
    _write_pending(writer, member)
    writer.vector(
        member.posts,
        lambda w, p: (
            w.u8(p.kind).u64(p.epoch + 1).opaque(p.entry).opaque(p.plaintext).boolean(p.posted)
        ),
    )
    writer.vector(member.revocations, TlsWriter.opaque)
    writer.u64(0 if member.joining is None else member.joining + 1)
    return writer.build()


def _read_post(reader: TlsReader) -> PendingPost:
    kind, epoch = PostKind(reader.u8()), reader.u64() - 1
    return PendingPost(kind, epoch, reader.opaque(_BIG), reader.opaque(_BIG), reader.boolean())


def _read_member(reader: TlsReader) -> GroupMember:
    if reader.raw(4) != MAGIC or reader.u8() != VERSION:
        raise ValueError("not a Veil group state of version 1")
    mls = decode_state(reader.opaque(_BIG))
    cursor, status, leaving = reader.u64(), Status(reader.u8()), reader.boolean()
    access, log_ref = reader.opaque(), reader.opaque()
    admin = reader.optional(TlsReader.opaque)
    intent = _read_intent(reader)
    pending, commit_posted = _read_pending(reader)
    posts = reader.vector(_read_post)
    revocations = reader.vector(lambda r: r.opaque())
    joining = reader.u64()
    return GroupMember(
        mls,
        cursor,
        access,
        log_ref,
        admin,
        status,
        leaving,
        intent,
        pending,
        commit_posted,
        posts,
        revocations,
        None if joining == 0 else joining - 1,
    )


def decode_member(data: bytes) -> GroupMember:
    """Restore a member's group state; damage raises GroupStateCorrupt."""
    try:
        return decode(data, _read_member)
    except (MLSError, GroupProtocolError, ValueError) as error:
        raise GroupStateCorrupt(f"group state does not decode: {error}") from error
