"""In-memory stand-ins for the group engine's ports: an ordered group log with
per-member grants and retention, and a group store with transactions that roll back.

They keep the same rules as the real ones where the engine can tell: one total
order, a revoked member can neither read nor post, a reader past retention is told.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from veil.agent.groups.errors import AccessRevoked
from veil.agent.groups.log_port import LogBatch, LogEntry, LogGrant
from veil.crypto import RandomSource


@dataclass
class _Log:
    entries: list[LogEntry] = field(default_factory=list)
    first_kept: int = 1
    members: dict[bytes, bytes] = field(default_factory=dict)
    """access -> ref of the members allowed in."""


class MemoryGroupLog:
    """Every log lives in this object; several engines share one to talk."""

    def __init__(self, rng: RandomSource) -> None:
        self._rng = rng
        self._logs: dict[bytes, _Log] = {}
        self.posts = 0

    def _log_of(self, credential: bytes) -> _Log:
        log = self._logs.get(credential[:8])
        if log is None:
            raise AccessRevoked("no such log")
        return log

    def _member(self, access: bytes) -> _Log:
        log = self._log_of(access)
        if access not in log.members:
            raise AccessRevoked("this reader/writer was deleted")
        return log

    async def create(self) -> tuple[bytes, LogGrant]:
        log_id = self._rng.random_bytes(8)
        self._logs[log_id] = _Log()
        admin = log_id + b"admin" + self._rng.random_bytes(8)
        return admin, await self.grant(admin)

    async def grant(self, admin: bytes) -> LogGrant:
        log = self._log_of(admin)
        access = admin[:8] + self._rng.random_bytes(16)
        ref = admin[:8] + self._rng.random_bytes(16)
        log.members[access] = ref
        return LogGrant(access, ref)

    async def revoke(self, admin: bytes, ref: bytes) -> None:
        log = self._log_of(admin)
        log.members = {a: r for a, r in log.members.items() if r != ref}

    async def post(self, access: bytes, data: bytes) -> int:
        log = self._member(access)
        seq = log.first_kept + len(log.entries)
        log.entries.append(LogEntry(seq, data))
        self.posts += 1
        return seq

    async def read(self, access: bytes, cursor: int, limit: int) -> LogBatch:
        log = self._member(access)
        if cursor + 1 < log.first_kept:
            return LogBatch((), past_retention=True)
        start = cursor + 1 - log.first_kept
        return LogBatch(tuple(log.entries[start : start + limit]))

    async def ack(self, access: bytes, seq: int) -> None:
        self._member(access)

    # -- test controls ------------------------------------------------------------------

    def entries(self, access: bytes) -> list[LogEntry]:
        """Every entry kept in the log of ``access``."""
        return list(self._log_of(access).entries)

    def inject(self, access: bytes, data: bytes) -> int:
        """Append ``data`` as if a writer had posted it (for bad-input tests)."""
        log = self._log_of(access)
        seq = log.first_kept + len(log.entries)
        log.entries.append(LogEntry(seq, data))
        return seq

    def expire(self, access: bytes, upto: int) -> None:
        """Drop every entry up to ``upto``, as retention would."""
        log = self._log_of(access)
        log.entries = [e for e in log.entries if e.seq > upto]
        log.first_kept = upto + 1


class MemoryGroupRows:
    """The group rows of :class:`MemoryGroupStore`."""

    def __init__(self, rows: dict[bytes, bytes]) -> None:
        self._rows = rows

    def load(self, group_id: bytes) -> bytes | None:
        return self._rows.get(group_id)

    def save(self, group_id: bytes, state: bytes, now: float) -> None:
        del now
        self._rows[group_id] = state

    def ids(self) -> list[bytes]:
        return list(self._rows)


class MemoryGroupTransaction:
    """One transaction: writes go to a copy that replaces the rows on commit."""

    def __init__(self, rows: dict[bytes, bytes]) -> None:
        self.rows = dict(rows)
        self.applied: list[object] = []

    @property
    def groups(self) -> MemoryGroupRows:
        return MemoryGroupRows(self.rows)


class MemoryGroupStore:
    """A transactional in-memory group store."""

    def __init__(self) -> None:
        self.rows: dict[bytes, bytes] = {}
        self.commits = 0

    @contextmanager
    def transaction(self) -> Iterator[MemoryGroupTransaction]:
        tx = MemoryGroupTransaction(self.rows)
        yield tx
        self.rows = tx.rows
        self.commits += 1
