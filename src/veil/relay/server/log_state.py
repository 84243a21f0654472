"""Group logs in memory, their settings, and the outcomes of the log core's steps.

A :class:`LiveLog` holds its members and its entries (oldest first, sequence
numbers increasing); readers and writers are found by id in a :class:`LogIndex`.
The outcomes say, as data, what the log core
(:mod:`veil.relay.server.log_core`) does once a step's store changes are durable,
and what it reverts if they never become so.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from veil.relay.server.log_store import LogRecord
from veil.relay.server.session import SessionState

__all__ = [
    "CursorMoved",
    "EntryAccepted",
    "LiveEntry",
    "LiveLog",
    "LiveReader",
    "LiveWriter",
    "LogAnswer",
    "LogDeleted",
    "LogIndex",
    "LogMade",
    "LogOutcome",
    "LogSettings",
    "LogSubscribed",
    "LogSwept",
    "MemberAdded",
    "MemberRemoved",
]


@dataclass(frozen=True, slots=True)
class LogSettings:
    """What an operator may tune for group logs (the rest comes from ``RelaySettings``).

    ``log_quota``: entries one log may hold (posts beyond are ``ERR 430`` until
    readers acknowledge or retention removes old ones). ``max_log_members``:
    readers plus writers of one log (a 10,000-reader channel fits the default).
    """

    log_quota: int = 4_096
    max_log_members: int = 20_000

    def __post_init__(self) -> None:
        if not 1 <= self.log_quota <= 1_000_000:
            raise ValueError("log_quota must be in 1..1000000")
        if not 1 <= self.max_log_members <= 1_000_000:
            raise ValueError("max_log_members must be in 1..1000000")


@dataclass(slots=True, eq=False)
class LiveEntry:
    """An entry in memory: its place, coarse arrival time and frame (``u64 time || body``)."""

    seq: int
    stored: int
    frame: bytes


def _seq(entry: LiveEntry) -> int:
    return entry.seq


@dataclass(slots=True, eq=False)
class LiveWriter:
    """A writer of ``log``."""

    writer_id: bytes
    auth_key: bytes
    log: LiveLog


@dataclass(slots=True, eq=False)
class LiveReader:
    """A reader of ``log``: its keys, its cursor, and its subscription if any.

    ``cursor`` is the next entry it has not acknowledged; ``sent_through`` the
    highest sequence number pushed to the current subscriber. The entries between
    them are in flight; at most ``window`` are.
    """

    reader_id: bytes
    auth_key: bytes
    delivery_key: bytes
    cursor: int
    log: LiveLog
    subscriber: SessionState | None = None
    window: int = 1
    sent_through: int = -1


@dataclass(slots=True, eq=False)
class LiveLog:
    """A log in memory.

    ``cursors`` counts readers per cursor, so the lowest cursor (below which every
    reader acknowledged) is cheap to find. ``posts_in_flight`` and
    ``members_in_flight`` count accepted commands still committing, so the quota and
    the member limit hold while they wait.
    """

    record: LogRecord
    next_seq: int
    entries: list[LiveEntry] = field(default_factory=list)
    readers: dict[bytes, LiveReader] = field(default_factory=dict)
    writers: dict[bytes, LiveWriter] = field(default_factory=dict)
    cursors: dict[int, int] = field(default_factory=dict)
    posts_in_flight: int = 0
    members_in_flight: int = 0
    deleted: bool = False

    @property
    def log_id(self) -> bytes:
        """The log's (admin) id."""
        return self.record.log_id

    @property
    def oldest(self) -> int:
        """The sequence number of the oldest entry held (``next_seq`` when none)."""
        return self.entries[0].seq if self.entries else self.next_seq

    def index_of(self, seq: int) -> int:
        """Where the first entry with a sequence number ``>= seq`` is."""
        return bisect_left(self.entries, seq, key=_seq)

    def index_after(self, seq: int) -> int:
        """Where the first entry with a sequence number ``> seq`` is."""
        return bisect_right(self.entries, seq, key=_seq)

    def count_cursor(self, cursor: int, delta: int) -> None:
        """Add ``delta`` readers at ``cursor``."""
        left = self.cursors.get(cursor, 0) + delta
        if left:
            self.cursors[cursor] = left
        else:
            del self.cursors[cursor]

    def lowest_cursor(self) -> int | None:
        """Every entry below this is acknowledged by every reader (``None``: no readers)."""
        return min(self.cursors) if self.cursors else None

    def add_entry(self, entry: LiveEntry) -> None:
        """Insert a committed entry in sequence order (commits come in order)."""
        if self.entries and self.entries[-1].seq > entry.seq:
            self.entries.insert(self.index_of(entry.seq), entry)
        else:
            self.entries.append(entry)

    def drop_before(self, seq: int) -> int:
        """Drop entries below ``seq``; return how many."""
        count = self.index_of(seq)
        del self.entries[:count]
        return count


Member = LiveReader | LiveWriter


class LogIndex:
    """Live logs by id, and their readers and writers by id (ids never collide)."""

    def __init__(self) -> None:
        self._logs: dict[bytes, LiveLog] = {}
        self._members: dict[bytes, Member] = {}

    def __iter__(self) -> Iterator[LiveLog]:
        return iter(list(self._logs.values()))

    def __len__(self) -> int:
        return len(self._logs)

    def log(self, log_id: bytes) -> LiveLog | None:
        """The log with admin id ``log_id``."""
        return self._logs.get(log_id)

    def member(self, member_id: bytes) -> Member | None:
        """The reader or writer with id ``member_id``."""
        return self._members.get(member_id)

    def add_log(self, log: LiveLog) -> None:
        """Index ``log`` and its members."""
        log.deleted = False
        self._logs[log.log_id] = log
        for member in _members_of(log):
            self._members[_member_id(member)] = member

    def remove_log(self, log: LiveLog) -> None:
        """Unindex ``log`` and its members."""
        log.deleted = True
        self._logs.pop(log.log_id, None)
        for member in _members_of(log):
            self._members.pop(_member_id(member), None)

    def add_member(self, member: Member) -> None:
        """Index a reader or writer, in its log too."""
        self._members[_member_id(member)] = member
        if isinstance(member, LiveReader):
            member.log.readers[member.reader_id] = member
            member.log.count_cursor(member.cursor, 1)
        else:
            member.log.writers[member.writer_id] = member

    def remove_member(self, member: Member) -> None:
        """Unindex a reader or writer, from its log too."""
        self._members.pop(_member_id(member), None)
        if isinstance(member, LiveReader):
            del member.log.readers[member.reader_id]
            member.log.count_cursor(member.cursor, -1)
        else:
            del member.log.writers[member.writer_id]


def _members_of(log: LiveLog) -> list[Member]:
    members: list[Member] = list(log.readers.values())
    members.extend(log.writers.values())
    return members


def _member_id(member: Member) -> bytes:
    return member.reader_id if isinstance(member, LiveReader) else member.writer_id


# -- outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogAnswer:
    """Send the encoded ``body`` to ``session`` under the command's ids."""

    session: SessionState
    correlation_id: bytes
    entity_id: bytes
    body: bytes


@dataclass(frozen=True, slots=True)
class LogMade:
    """``LNEW``: index ``log``, then answer. Undone, the connection's count goes down."""

    answer: LogAnswer
    log: LiveLog


@dataclass(frozen=True, slots=True)
class MemberAdded:
    """``LRADD``/``LWADD``: index ``member``, then answer. Undone, it no longer counts."""

    answer: LogAnswer
    member: Member


@dataclass(frozen=True, slots=True)
class MemberRemoved:
    """``LRDEL``/``LWDEL``: ``member`` left the index already; end its subscription.
    Undone, it is indexed again."""

    answer: LogAnswer
    member: Member


@dataclass(frozen=True, slots=True)
class LogDeleted:
    """``LDEL``: ``log`` left the index already; end its subscriptions. Undone, it is back."""

    answer: LogAnswer
    log: LiveLog


@dataclass(frozen=True, slots=True)
class EntryAccepted:
    """``LPOST``: add ``entry`` to ``log`` (unless deleted meanwhile), answer, deliver.
    Undone, the post no longer counts against the quota."""

    answer: LogAnswer
    log: LiveLog
    entry: LiveEntry


@dataclass(frozen=True, slots=True)
class CursorMoved:
    """``LACK``: ``reader``'s cursor moved from ``previous`` already; answer, then drop
    the entries below ``trim_below`` (every reader acknowledged them), if any.
    Undone, the cursor goes back."""

    answer: LogAnswer
    reader: LiveReader
    previous: int
    trim_below: int | None


@dataclass(frozen=True, slots=True)
class LogSubscribed:
    """``LSUB``: make ``answer.session`` the reader's subscriber with ``window``."""

    answer: LogAnswer
    reader: LiveReader
    window: int


@dataclass(frozen=True, slots=True)
class LogSwept:
    """Retention: ``logs`` lost entries; deliver what follows to their subscribers."""

    logs: tuple[LiveLog, ...]


LogOutcome = (
    LogAnswer
    | LogMade
    | MemberAdded
    | MemberRemoved
    | LogDeleted
    | EntryAccepted
    | CursorMoved
    | LogSubscribed
    | LogSwept
)
