"""Repositories for what flows over connections: connection state, messages with their
reactions, and the outbox of sends waiting for a relay.

:class:`ConnectionRepository` and :class:`OutboxRepository` implement the agent's
store protocols (:mod:`veil.agent.store`); the contact a connection belongs to is
the chat layer's own column, which the agent never reads or writes."""

from __future__ import annotations

from veil.agent.store import ConnectionRecord, PendingSend
from veil.chat.errors import RecordNotFound
from veil.chat.store.base import Repository, Row
from veil.chat.store.records import Deletion, Direction, MessageRecord, Reaction, Receipt

__all__ = ["ConnectionRepository", "MessageRepository", "OutboxRepository"]

_RECEIPT_LADDER = tuple(Receipt)

_SELECT_CONNECTIONS = (
    "SELECT connection_id, phase, agent_version, receive_queue_id,"
    " ratchet_state, queue_state, envelope_state, updated_at FROM connections"
)


def _optional_bytes(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


def _connection(row: Row) -> ConnectionRecord:
    return ConnectionRecord(
        connection_id=row[0],
        phase=row[1],
        agent_version=row[2],
        receive_queue_id=bytes(row[3]),
        ratchet_state=_optional_bytes(row[4]),
        queue_state=bytes(row[5]),
        envelope_state=bytes(row[6]),
        updated_at=row[7],
    )


class ConnectionRepository(Repository):
    """Agent state per connection, found by id, by contact or by receive queue."""

    __slots__ = ()

    def add(
        self,
        *,
        phase: str,
        agent_version: int,
        receive_queue_id: bytes,
        queue_state: bytes,
        envelope_state: bytes,
        now: float,
        ratchet_state: bytes | None = None,
    ) -> ConnectionRecord:
        """Insert a new connection (of no contact yet); :class:`DuplicateRecord` if the
        queue id is known."""
        cursor = self._execute(
            "INSERT INTO connections (phase, agent_version, receive_queue_id,"
            " ratchet_state, queue_state, envelope_state, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                phase,
                agent_version,
                receive_queue_id,
                ratchet_state,
                queue_state,
                envelope_state,
                now,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def save(self, connection: ConnectionRecord) -> None:
        """Write back every state field (typically of a ``dataclasses.replace`` copy)."""
        self._changed(
            "UPDATE connections SET phase = ?, agent_version = ?,"
            " receive_queue_id = ?, ratchet_state = ?, queue_state = ?, envelope_state = ?,"
            " updated_at = ? WHERE connection_id = ?",
            (
                connection.phase,
                connection.agent_version,
                connection.receive_queue_id,
                connection.ratchet_state,
                connection.queue_state,
                connection.envelope_state,
                connection.updated_at,
                connection.connection_id,
            ),
            f"connection {connection.connection_id}",
        )

    def get(self, connection_id: int) -> ConnectionRecord:
        """The connection with this id."""
        sql = _SELECT_CONNECTIONS + " WHERE connection_id = ?"
        return _connection(self._one(sql, (connection_id,), f"connection {connection_id}"))

    def find(self, connection_id: int) -> ConnectionRecord | None:
        """The connection with this id, or ``None``."""
        sql = _SELECT_CONNECTIONS + " WHERE connection_id = ?"
        rows = self._all(sql, (connection_id,))
        return _connection(rows[0]) if rows else None

    def by_receive_queue(self, receive_queue_id: bytes) -> ConnectionRecord:
        """The connection that receives on this queue."""
        sql = _SELECT_CONNECTIONS + " WHERE receive_queue_id = ?"
        return _connection(self._one(sql, (receive_queue_id,), "connection for that queue"))

    def for_contact(self, contact_id: int) -> list[int]:
        """The ids of the contact's connections, oldest first."""
        sql = "SELECT connection_id FROM connections WHERE contact_id = ? ORDER BY connection_id"
        return [row[0] for row in self._all(sql, (contact_id,))]

    def contact_of(self, connection_id: int) -> int | None:
        """The contact a connection belongs to (``None`` while an inviter waits)."""
        sql = "SELECT contact_id FROM connections WHERE connection_id = ?"
        contact_id: int | None = self._one(sql, (connection_id,), f"connection {connection_id}")[0]
        return contact_id

    def set_contact(self, connection_id: int, contact_id: int) -> None:
        """Record which contact a connection belongs to."""
        self._changed(
            "UPDATE connections SET contact_id = ? WHERE connection_id = ?",
            (contact_id, connection_id),
            f"connection {connection_id}",
        )

    def list(self) -> list[ConnectionRecord]:
        """Every connection, oldest first (to resubscribe their queues at start-up)."""
        return [_connection(row) for row in self._all(_SELECT_CONNECTIONS)]

    def delete(self, connection_id: int) -> None:
        """Delete the connection and its pending sends."""
        self._changed(
            "DELETE FROM connections WHERE connection_id = ?",
            (connection_id,),
            f"connection {connection_id}",
        )


_SELECT_MESSAGES = (
    "SELECT row_id, contact_id, message_id, direction, sequence, text, reply_to, edited,"
    " deletion, receipt, integrity, sent_at, received_at FROM messages"
)


class MessageRepository(Repository):
    """Each contact's history, keyed by the chat-layer message id within a direction."""

    __slots__ = ()

    def add(
        self,
        *,
        contact_id: int,
        message_id: bytes,
        direction: Direction,
        sequence: int,
        text: str,
        sent_at: float,
        receipt: Receipt,
        reply_to: bytes | None = None,
        received_at: float | None = None,
        integrity: str = "ok",
    ) -> MessageRecord:
        """Append a message; :class:`DuplicateRecord` if this id was already stored."""
        cursor = self._execute(
            "INSERT INTO messages (contact_id, message_id, direction, sequence, text, reply_to,"
            " receipt, integrity, sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                contact_id,
                message_id,
                direction.value,
                sequence,
                text,
                reply_to,
                receipt.value,
                integrity,
                sent_at,
                received_at,
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, row_id: int) -> MessageRecord:
        """The message in this row, with its reactions."""
        row = self._one(_SELECT_MESSAGES + " WHERE row_id = ?", (row_id,), f"message {row_id}")
        return self._message(row)

    def find(self, contact_id: int, direction: Direction, message_id: bytes) -> MessageRecord:
        """The message a chat event points at."""
        row = self._one(
            _SELECT_MESSAGES + " WHERE contact_id = ? AND direction = ? AND message_id = ?",
            (contact_id, direction.value, message_id),
            "such message",
        )
        return self._message(row)

    def history(self, contact_id: int, limit: int | None = None) -> list[MessageRecord]:
        """The contact's messages in the order they were stored; the last ``limit`` if given."""
        sql = _SELECT_MESSAGES + " WHERE contact_id = ? ORDER BY row_id DESC LIMIT ?"
        rows = self._all(sql, (contact_id, -1 if limit is None else limit))
        return [self._message(row) for row in reversed(rows)]

    def edit(self, row_id: int, text: str) -> None:
        """Replace a message's text and mark it edited.

        :class:`RecordNotFound` if the message was deleted: an edit (from the contact,
        or a stale one of ours) must never bring deleted text back.
        """
        if self.get(row_id).deletion is not Deletion.NONE:
            raise RecordNotFound(f"message {row_id} was deleted")
        self._update(row_id, "text = ?, edited = 1", (text,))

    def delete(self, row_id: int, deletion: Deletion) -> None:
        """Delete a message's content (for me or for everyone); its row stays as a marker."""
        if deletion is Deletion.NONE:
            raise ValueError("use FOR_ME or FOR_EVERYONE")
        self._update(row_id, "text = NULL, deletion = ?", (deletion.value,))
        self._execute("DELETE FROM reactions WHERE message_row = ?", (row_id,))

    def set_receipt(self, row_id: int, receipt: Receipt) -> None:
        """Record how far the message got; a status only moves forward, so a late or
        replayed receipt (or ``SENT`` after ``DELIVERED``) never moves it back."""
        if _RECEIPT_LADDER.index(receipt) > _RECEIPT_LADDER.index(self.get(row_id).receipt):
            self._update(row_id, "receipt = ?", (receipt.value,))

    def mark_all_sent(self, contact_id: int) -> None:
        """Every message to the contact still ``pending`` is ``sent``: the relay
        accepted everything queued for it (later statuses are left as they are)."""
        self._execute(
            "UPDATE messages SET receipt = ? WHERE contact_id = ? AND direction = ?"
            " AND receipt = ?",
            (Receipt.SENT.value, contact_id, Direction.SENT.value, Receipt.PENDING.value),
        )

    def react(self, row_id: int, reaction: Reaction, added: bool) -> None:
        """Set or withdraw one side's emoji on a message (idempotent both ways)."""
        if added:
            self._execute(
                "INSERT OR IGNORE INTO reactions VALUES (?, ?, ?)",
                (row_id, reaction.direction.value, reaction.emoji),
            )
        else:
            self._execute(
                "DELETE FROM reactions WHERE message_row = ? AND direction = ? AND emoji = ?",
                (row_id, reaction.direction.value, reaction.emoji),
            )

    def _update(self, row_id: int, assignments: str, values: tuple[object, ...]) -> None:
        # ``assignments`` is always a literal from this class, never user input.
        sql = f"UPDATE messages SET {assignments} WHERE row_id = ?"  # noqa: S608
        self._changed(sql, (*values, row_id), f"message {row_id}")

    def _message(self, row: Row) -> MessageRecord:
        reactions = self._all(
            "SELECT direction, emoji FROM reactions WHERE message_row = ? ORDER BY rowid",
            (row[0],),
        )
        return MessageRecord(
            row_id=row[0],
            contact_id=row[1],
            message_id=bytes(row[2]),
            direction=Direction(row[3]),
            sequence=row[4],
            text=row[5],
            reply_to=_optional_bytes(row[6]),
            edited=bool(row[7]),
            deletion=Deletion(row[8]),
            receipt=Receipt(row[9]),
            integrity=row[10],
            sent_at=row[11],
            received_at=row[12],
            reactions=tuple(Reaction(Direction(side), emoji) for side, emoji in reactions),
        )


_SELECT_SENDS = (
    "SELECT send_id, connection_id, body, attempts, next_attempt_at, created_at FROM pending_sends"
)


def _pending(row: Row) -> PendingSend:
    return PendingSend(row[0], row[1], bytes(row[2]), row[3], row[4], row[5])


class OutboxRepository(Repository):
    """Encrypted sends the relay has not yet accepted; they survive restarts."""

    __slots__ = ()

    def enqueue(self, connection_id: int, body: bytes, now: float) -> PendingSend:
        """Queue ``body`` (already encrypted, so every retry resends the same bytes)."""
        cursor = self._execute(
            "INSERT INTO pending_sends (connection_id, body, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?)",
            (connection_id, body, now, now),
        )
        return PendingSend(int(cursor.lastrowid), connection_id, body, 0, now, now)

    def due(self, now: float, limit: int = 100) -> list[PendingSend]:
        """Sends whose next attempt is due, in the order they were queued."""
        sql = _SELECT_SENDS + " WHERE next_attempt_at <= ? ORDER BY send_id LIMIT ?"
        return [_pending(row) for row in self._all(sql, (now, limit))]

    def for_connection(self, connection_id: int) -> list[PendingSend]:
        """Every pending send of one connection, in order."""
        sql = _SELECT_SENDS + " WHERE connection_id = ? ORDER BY send_id"
        return [_pending(row) for row in self._all(sql, (connection_id,))]

    def retry_later(self, send_id: int, next_attempt_at: float) -> None:
        """Count a failed attempt and schedule the next one (the caller picks the backoff)."""
        self._changed(
            "UPDATE pending_sends SET attempts = attempts + 1, next_attempt_at = ?"
            " WHERE send_id = ?",
            (next_attempt_at, send_id),
            f"pending send {send_id}",
        )

    def remove(self, send_id: int) -> None:
        """Drop a send the relay accepted."""
        self._changed(
            "DELETE FROM pending_sends WHERE send_id = ?", (send_id,), f"pending send {send_id}"
        )
