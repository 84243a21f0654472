"""The event log: what arrived, numbered, so an API client that reconnects resumes.

Each row is one :class:`~veil.chat.conversation.Incoming`, written in the same
transaction as the change that caused it (``Messenger`` records them while it
commits a received batch), so after a crash the log and the messages agree: an
event is never lost without its message nor kept without it. Sequence numbers only
grow (``AUTOINCREMENT``), even across pruning, so a number is never reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.chat.store.base import Repository, Row

__all__ = ["EventRecord", "EventRepository"]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One logged arrival; ``seq`` grows by one per event, from 1."""

    seq: int
    kind: str
    contact: str | None
    text: str
    row_id: int | None
    integrity: str
    request_id: int | None
    at: float
    group: str | None = None
    """The group's alias, for something that happened in a group."""
    sender: str | None = None
    """In a group: the display name of the member the event is about."""


_COLUMNS = "seq, kind, contact, text, row_id, integrity, request_id, at, group_alias, sender"


def _event(row: Row) -> EventRecord:
    seq, kind, contact, text, row_id, integrity, request_id, at, group, sender = row
    return EventRecord(seq, kind, contact, text, row_id, integrity, request_id, at, group, sender)


class EventRepository(Repository):
    """The ``events`` table."""

    __slots__ = ()

    def add(
        self,
        *,
        kind: str,
        contact: str | None,
        text: str,
        row_id: int | None,
        integrity: str,
        request_id: int | None,
        at: float,
        group: str | None = None,
        sender: str | None = None,
    ) -> int:
        """Append one event; return its sequence number."""
        cursor = self._execute(
            "INSERT INTO events (kind, contact, text, row_id, integrity, request_id, at, "
            "group_alias, sender) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, contact, text, row_id, integrity, request_id, at, group, sender),
        )
        return int(cursor.lastrowid)

    def since(self, seq: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events after ``seq``, oldest first."""
        rows = self._all(
            f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
            (seq, limit),
        )
        return [_event(row) for row in rows]

    def last(self) -> int:
        """The newest sequence number ever given (0 before the first event)."""
        row = self._one(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
            (),
            "sequence",
        )
        return int(row[0])

    def oldest(self) -> int | None:
        """The oldest sequence number still kept (``None``: the log is empty)."""
        row = self._one("SELECT min(seq) FROM events", (), "events")
        return None if row[0] is None else int(row[0])

    def latest_by_text(self, kinds: tuple[str, ...]) -> dict[str, str]:
        """For each ``text`` of events of ``kinds``, the kind of the newest one."""
        marks = ", ".join("?" for _ in kinds)
        rows = self._all(
            "SELECT text, kind FROM events WHERE seq IN "  # noqa: S608 (only placeholders)
            f"(SELECT max(seq) FROM events WHERE kind IN ({marks}) GROUP BY text)",
            kinds,
        )
        return {str(text): str(kind) for text, kind in rows}

    def prune(self, keep: int) -> None:
        """Forget all but the newest ``keep`` events."""
        self._execute("DELETE FROM events WHERE seq <= ?", (self.last() - keep,))
