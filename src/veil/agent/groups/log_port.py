"""What the group engine needs from a group log, declared here and implemented below
the agent's callers (an adapter over the relay's group-log client, or the in-memory
log of the tests).

A log is append-only with one total order: every reader sees the same entries in
the same order, each with its sequence number (1, 2, ...). Credentials are opaque
bytes to the engine: ``access`` is what one member reads and posts with (its own
reader and writer ids and keys, and where the log lives); ``ref`` is what an admin
names to delete that member's reader and writer; ``admin`` grants and revokes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["GroupLog", "LogBatch", "LogEntry", "LogGrant"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of the log: its place in the total order and its bytes."""

    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class LogBatch:
    """Entries after a cursor, in log order."""

    entries: tuple[LogEntry, ...]
    past_retention: bool = False
    """The log no longer holds every entry after the cursor (the reader was offline
    longer than the retention period): the member must rejoin."""


@dataclass(frozen=True, slots=True)
class LogGrant:
    """One member's credentials for the log."""

    access: bytes
    ref: bytes


class GroupLog(Protocol):
    """An ordered log per group, on a relay."""

    async def create(self) -> tuple[bytes, LogGrant]:
        """Create a log; return its admin credential and the creator's grant."""

    async def grant(self, admin: bytes) -> LogGrant:
        """A new reader and writer for one more member."""

    async def revoke(self, admin: bytes, ref: bytes) -> None:
        """Delete a member's reader and writer: it can neither read nor post any more."""

    async def post(self, access: bytes, data: bytes) -> int:
        """Append ``data``; return its sequence number once the relay stored it durably."""

    async def read(self, access: bytes, cursor: int, limit: int) -> LogBatch:
        """At most ``limit`` entries with sequence numbers above ``cursor``; raises
        :class:`~veil.agent.groups.errors.AccessRevoked` once our reader is deleted."""

    async def ack(self, access: bytes, seq: int) -> None:
        """Everything up to ``seq`` is processed; the relay may drop it for this reader."""
