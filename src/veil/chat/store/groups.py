"""The groups' rows: each group's member state (the agent's, opaque here), its local
alias, its messages in log order with their reactions, our open invitations and our
pending joins.

:class:`GroupRepository` implements the agent's :class:`veil.agent.groups.store.GroupRows`,
so a processed log entry, the cursor past it and the message it carried commit in
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.chat.store.base import Repository, Row

__all__ = [
    "GroupJoinRecord",
    "GroupMessageRecord",
    "GroupMessageRepository",
    "GroupRepository",
]


@dataclass(frozen=True, slots=True)
class GroupMessageRecord:
    """One message of a group, in the group's order (``seq`` is its place in the log)."""

    group_id: bytes
    seq: int
    message_id: bytes
    sender: bytes
    own: bool
    text: str
    sent_at_ms: int
    reply_to: bytes | None
    edited: bool
    deleted_by: bytes | None
    reactions: tuple[tuple[bytes, str], ...]


@dataclass(frozen=True, slots=True)
class GroupJoinRecord:
    """A join we started from a group link: the contact (the admin's one-time
    connection), our request and its secret half, kept until the Welcome arrives."""

    contact_id: int
    ticket: bytes
    alias: str
    request: bytes
    secret: bytes
    sent: bool = False
    bundle: bytes | None = None


class GroupRepository(Repository):
    """Each group's member state and alias; invitations we gave and joins we started."""

    __slots__ = ()

    def load(self, group_id: bytes) -> bytes | None:
        """The member state of the group, or ``None``."""
        row = self._execute("SELECT state FROM groups WHERE group_id = ?", (group_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def save(self, group_id: bytes, state: bytes, now: float) -> None:
        """Insert or replace the member state of the group."""
        self._execute(
            "INSERT INTO groups (group_id, state, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (group_id) DO UPDATE SET state = excluded.state,"
            " updated_at = excluded.updated_at",
            (group_id, state, now, now),
        )

    def ids(self) -> list[bytes]:
        """Every group id, oldest first."""
        return [bytes(r[0]) for r in self._all("SELECT group_id FROM groups ORDER BY rowid")]

    def set_alias(self, group_id: bytes, alias: str) -> None:
        """Name the group locally (never sent to anyone)."""
        self._changed(
            "UPDATE groups SET alias = ? WHERE group_id = ?", (alias, group_id), "such group"
        )

    def find(self, alias: str) -> bytes:
        """The id of the group with this alias (RecordNotFound if none)."""
        row = self._one("SELECT group_id FROM groups WHERE alias = ?", (alias,), f"group {alias}")
        return bytes(row[0])

    def aliases(self) -> list[tuple[str, bytes]]:
        """``(alias, group id)`` of every group, oldest first."""
        rows = self._all(
            "SELECT alias, group_id FROM groups WHERE alias IS NOT NULL ORDER BY rowid"
        )
        return [(str(alias), bytes(group_id)) for alias, group_id in rows]

    def add_invite(self, ticket: bytes, group_id: bytes, role: int, now: float) -> None:
        """Remember a group link we gave out."""
        self._execute(
            "INSERT INTO group_invites (ticket, group_id, role, created_at) VALUES (?, ?, ?, ?)",
            (ticket, group_id, role, now),
        )

    def invite(self, ticket: bytes) -> tuple[bytes, int] | None:
        """``(group id, role)`` of the invitation with this ticket, or ``None``."""
        row = self._execute(
            "SELECT group_id, role FROM group_invites WHERE ticket = ?", (ticket,)
        ).fetchone()
        return None if row is None else (bytes(row[0]), int(row[1]))

    def add_join(self, join: GroupJoinRecord, now: float) -> None:
        """Remember a join we started."""
        self._execute(
            "INSERT INTO group_joins (contact_id, ticket, alias, request, secret, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (join.contact_id, join.ticket, join.alias, join.request, join.secret, now),
        )

    def joins(self) -> list[GroupJoinRecord]:
        """Every join still waiting, oldest first."""
        rows = self._all(
            "SELECT contact_id, ticket, alias, request, secret, sent, bundle FROM group_joins"
            " ORDER BY created_at"
        )
        return [
            GroupJoinRecord(
                int(c),
                bytes(t),
                str(a),
                bytes(r),
                bytes(s),
                bool(sent),
                None if b is None else bytes(b),
            )
            for c, t, a, r, s, sent, b in rows
        ]

    def mark_join_sent(self, contact_id: int) -> None:
        """Our request went out over the connection."""
        self._execute("UPDATE group_joins SET sent = 1 WHERE contact_id = ?", (contact_id,))

    def set_join_bundle(self, contact_id: int, bundle: bytes) -> bool:
        """The admin's welcome bundle arrived; False if no join waits on this contact."""
        cursor = self._execute(
            "UPDATE group_joins SET bundle = ? WHERE contact_id = ?", (bundle, contact_id)
        )
        return bool(cursor.rowcount)

    def finish_join(self, contact_id: int) -> None:
        """Forget a join once we are in the group (its secret half with it)."""
        self._execute("DELETE FROM group_joins WHERE contact_id = ?", (contact_id,))

    def link_member(self, group_id: bytes, handle: bytes, contact_id: int) -> None:
        """Record that the member ``handle`` of the group is our contact ``contact_id``
        (introduced over our pairwise connection when it joined or let us in)."""
        self._execute(
            "INSERT OR REPLACE INTO group_member_contacts (group_id, handle, contact_id)"
            " VALUES (?, ?, ?)",
            (group_id, handle, contact_id),
        )

    def member_contacts(self, group_id: bytes) -> dict[bytes, str]:
        """The group's members who are our contacts: handle -> contact alias."""
        rows = self._all(
            "SELECT m.handle, c.alias FROM group_member_contacts m"
            " JOIN contacts c ON c.contact_id = m.contact_id WHERE m.group_id = ?",
            (group_id,),
        )
        return {bytes(handle): str(alias) for handle, alias in rows}

    def add_admission(self, contact_id: int, ticket: bytes, request: bytes, now: float) -> None:
        """A joiner's request arrived over its connection; admitted on the next sync."""
        self._execute(
            "INSERT OR REPLACE INTO group_admissions (contact_id, ticket, request, created_at)"
            " VALUES (?, ?, ?, ?)",
            (contact_id, ticket, request, now),
        )

    def admissions(self) -> list[tuple[int, bytes, bytes]]:
        """``(contact id, ticket, request)`` of every request waiting to be admitted."""
        rows = self._all("SELECT contact_id, ticket, request FROM group_admissions")
        return [(int(c), bytes(t), bytes(r)) for c, t, r in rows]

    def remove_admission(self, contact_id: int, ticket: bytes) -> None:
        """The request is in our engine's intent now."""
        self._execute(
            "DELETE FROM group_admissions WHERE contact_id = ? AND ticket = ?",
            (contact_id, ticket),
        )


_SELECT = (
    "SELECT group_id, seq, message_id, sender, own, text, sent_at_ms, reply_to, edited,"
    " deleted_by FROM group_messages"
)


class GroupMessageRepository(Repository):
    """Every group's messages in log order."""

    __slots__ = ()

    def add(self, record: GroupMessageRecord) -> None:
        """Append a message (DuplicateRecord if the author reused a message id)."""
        self._execute(
            "INSERT INTO group_messages (group_id, seq, message_id, sender, own, text,"
            " sent_at_ms, reply_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.group_id,
                record.seq,
                record.message_id,
                record.sender,
                int(record.own),
                record.text,
                record.sent_at_ms,
                record.reply_to,
            ),
        )

    def find(self, group_id: bytes, message_id: bytes) -> GroupMessageRecord | None:
        """The message with this id, or ``None``."""
        rows = self._all(_SELECT + " WHERE group_id = ? AND message_id = ?", (group_id, message_id))
        return self._record(rows[0]) if rows else None

    def at(self, group_id: bytes, seq: int) -> GroupMessageRecord | None:
        """The message at ``seq`` in the group's log, or ``None``."""
        rows = self._all(_SELECT + " WHERE group_id = ? AND seq = ?", (group_id, seq))
        return self._record(rows[0]) if rows else None

    def history(self, group_id: bytes, limit: int | None = None) -> list[GroupMessageRecord]:
        """The group's messages in log order; the last ``limit`` if given."""
        rows = self._all(
            _SELECT + " WHERE group_id = ? ORDER BY seq DESC LIMIT ?",
            (group_id, -1 if limit is None else limit),
        )
        return [self._record(row) for row in reversed(rows)]

    def edit(self, group_id: bytes, message_id: bytes, text: str) -> None:
        """Replace a message's text and mark it edited."""
        self._execute(
            "UPDATE group_messages SET text = ?, edited = 1 WHERE group_id = ? AND message_id = ?",
            (text, group_id, message_id),
        )

    def delete(self, group_id: bytes, message_id: bytes, by: bytes) -> None:
        """Delete a message for everyone: its text goes, its row (and who deleted it) stays."""
        self._execute(
            "UPDATE group_messages SET text = '', deleted_by = ?"
            " WHERE group_id = ? AND message_id = ?",
            (by, group_id, message_id),
        )
        self._execute(
            "DELETE FROM group_reactions WHERE group_id = ? AND message_id = ?",
            (group_id, message_id),
        )

    def react(self, group_id: bytes, message_id: bytes, sender: bytes, emoji: str) -> None:
        """Set (or with an empty ``emoji``, clear) ``sender``'s reaction."""
        self._execute(
            "DELETE FROM group_reactions WHERE group_id = ? AND message_id = ? AND sender = ?",
            (group_id, message_id, sender),
        )
        if emoji:
            self._execute(
                "INSERT INTO group_reactions (group_id, message_id, sender, emoji)"
                " VALUES (?, ?, ?, ?)",
                (group_id, message_id, sender, emoji),
            )

    def _record(self, row: Row) -> GroupMessageRecord:
        group_id, seq, message_id, sender, own, text, sent_at_ms, reply_to, edited, by = row
        reactions = self._all(
            "SELECT sender, emoji FROM group_reactions WHERE group_id = ? AND message_id = ?"
            " ORDER BY sender",
            (group_id, message_id),
        )
        return GroupMessageRecord(
            bytes(group_id),
            int(seq),
            bytes(message_id),
            bytes(sender),
            bool(own),
            str(text),
            int(sent_at_ms),
            None if reply_to is None else bytes(reply_to),
            bool(edited),
            None if by is None else bytes(by),
            tuple((bytes(s), str(e)) for s, e in reactions),
        )
