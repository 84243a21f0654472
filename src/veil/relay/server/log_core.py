"""The relay's group-log state machine, sans I/O.

:class:`LogProtocol` turns one decoded transmission carrying a group-log command
(tags ``0x30..0x3F``) into a :class:`~veil.relay.server.log_commit.LogStep`: the
store changes it needs, and an outcome saying what to commit once they are
durable. Its adapter (:mod:`veil.relay.server.log_service`) makes the changes
durable and hands each step back to :meth:`LogState.commit` (or ``undo``).
Nothing here touches sockets, threads or clocks.

Who may send each command, what it checks and what it changes is the table in
``docs/protocol/relay.md`` section 10.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from veil.crypto import InvalidKey, RandomSource, X25519KeyPair, constant_time_equal
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    AuthFailed,
    BadCommand,
    CommandError,
    EntryNotPosted,
    LogFull,
    NoSuchMember,
    TooManyLogs,
    TooManyMembers,
)
from veil.relay.protocol.log_crypto import entry_frame, reader_delivery_key, seal_at_rest
from veil.relay.protocol.transmission import ENTITY_ID_SIZE, Transmission
from veil.relay.server.authorization import authorize, require_entity
from veil.relay.server.log_commit import AnswerSink, LogState, LogStep
from veil.relay.server.log_state import (
    CursorMoved,
    EntryAccepted,
    LiveEntry,
    LiveLog,
    LiveReader,
    LiveWriter,
    LogAnswer,
    LogDeleted,
    LogMade,
    LogSettings,
    LogSubscribed,
    LogSwept,
    MemberAdded,
    MemberRemoved,
)
from veil.relay.server.log_store import (
    DeleteEntriesBefore,
    ExpireEntries,
    LogChange,
    LogRecord,
    PutEntry,
    PutLog,
    PutReader,
    PutWriter,
    ReaderRecord,
    RemoveLog,
    RemoveMember,
    SetCursor,
    StoredEntry,
    WriterRecord,
)
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.session import SessionState
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import coarse_time

__all__ = ["LogProtocol"]

_Handler = Callable[[SessionState, Transmission, "lc.LogCommand", float], LogStep]
_OK = rsp.encode_response(rsp.Ok())
_M = TypeVar("_M", LiveReader, LiveWriter)


class LogProtocol(LogState):
    """Every live group log, and the rules of the commands that act on them."""

    def __init__(
        self,
        settings: RelaySettings,
        log_settings: LogSettings,
        rng: RandomSource,
        metrics: RelayMetrics,
        answer: AnswerSink,
    ) -> None:
        super().__init__(rng, metrics, answer)
        self._settings = settings
        self._log_settings = log_settings
        self._next_sweep = 0.0
        self._handlers: dict[type[lc.LogCommand], _Handler] = {
            lc.CreateLog: self._create,
            lc.AddReader: self._add_reader,
            lc.RemoveReader: self._remove_member,
            lc.AddWriter: self._add_writer,
            lc.RemoveWriter: self._remove_member,
            lc.DeleteLog: self._delete,
            lc.PostEntry: self._post,
            lc.SubscribeLog: self._subscribe,
            lc.AcknowledgeEntries: self._acknowledge,
        }

    def handle(self, session: SessionState, transmission: Transmission, now: float) -> LogStep:
        """Run one group-log command as far as it can go before the store commits."""
        try:
            command = lc.decode_log_command(transmission.body)
            return self._handlers[type(command)](session, transmission, command, now)
        except CommandError as error:
            self.metrics.errors[type(error).__name__] += 1
            body = rsp.encode_response(rsp.ErrorResponse(error.code))
            return LogStep((), _answer(session, transmission, body))

    def next_timer(self) -> float:
        """When :meth:`handle_timer` has work next (the retention sweep)."""
        return self._next_sweep

    def handle_timer(self, now: float) -> LogStep | None:
        """Run the retention sweep if it is due; its changes then need committing."""
        if now < self._next_sweep:
            return None
        self._next_sweep = now + self._settings.expiry_interval_seconds
        return self.expire(now)

    def expire(self, now: float) -> LogStep:
        """Drop entries older than the retention period, and those every reader acknowledged."""
        cutoff = coarse_time(now - self._settings.retention_seconds)
        touched = []
        for log in self._logs:
            expired = sum(1 for entry in log.entries if entry.stored < cutoff)
            lowest = log.lowest_cursor()
            acknowledged = 0 if lowest is None else log.drop_before(lowest)
            if expired:
                log.entries = [entry for entry in log.entries if entry.stored >= cutoff]
            if expired or acknowledged:
                self.metrics.messages_expired += expired
                touched.append(log)
        changes: list[LogChange] = [
            DeleteEntriesBefore(log.log_id, log.oldest, log.next_seq) for log in touched
        ]
        floors = tuple((log.log_id, log.next_seq) for log in touched)
        changes.append(ExpireEntries(cutoff, floors))
        return LogStep(tuple(changes), LogSwept(tuple(touched)))

    # -- admin commands --------------------------------------------------------------

    def _create(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        assert isinstance(command, lc.CreateLog)
        require_entity(transmission, present=False)
        authorize(session, transmission, command.admin_auth_key)
        password = self._settings.password_bytes
        if password is not None and not constant_time_equal(command.password, password):
            raise AuthFailed("wrong relay password")
        made = self._logs_made.get(session, 0)
        if made >= self._settings.max_queues_per_connection:
            raise TooManyLogs("this connection created its maximum of logs")
        self._logs_made[session] = made + 1
        record = LogRecord(
            log_id=self._rng.random_bytes(ENTITY_ID_SIZE),
            admin_auth_key=command.admin_auth_key,
            storage_key=self._rng.random_bytes(32),
            created=coarse_time(now),
        )
        body = lc.encode_log_response(lc.LogCreated(record.log_id))
        answer = LogAnswer(session, transmission.correlation_id, b"", body)
        return LogStep((PutLog(record),), LogMade(answer, LiveLog(record, 0)))

    def _add_reader(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        assert isinstance(command, lc.AddReader)
        log = self._admin_log(session, transmission)
        relay_dh = X25519KeyPair.generate(self._rng)
        try:
            key = reader_delivery_key(relay_dh, command.reader_dh_key)
        except InvalidKey as exc:
            raise BadCommand("reader DH key is not usable") from exc
        self._reserve_member(log)
        reader = LiveReader(
            self._rng.random_bytes(ENTITY_ID_SIZE), command.reader_auth_key, key, log.next_seq, log
        )
        record = ReaderRecord(reader.reader_id, reader.auth_key, key, reader.cursor)
        added = lc.ReaderAdded(reader.reader_id, relay_dh.public, reader.cursor)
        answer = _answer(session, transmission, lc.encode_log_response(added))
        return LogStep((PutReader(log.log_id, record),), MemberAdded(answer, reader))

    def _add_writer(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        assert isinstance(command, lc.AddWriter)
        log = self._admin_log(session, transmission)
        self._reserve_member(log)
        writer = LiveWriter(self._rng.random_bytes(ENTITY_ID_SIZE), command.writer_auth_key, log)
        record = WriterRecord(writer.writer_id, writer.auth_key)
        body = lc.encode_log_response(lc.WriterAdded(writer.writer_id))
        answer = _answer(session, transmission, body)
        return LogStep((PutWriter(log.log_id, record),), MemberAdded(answer, writer))

    def _remove_member(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        assert isinstance(command, lc.RemoveReader | lc.RemoveWriter)
        log = self._admin_log(session, transmission)
        if isinstance(command, lc.RemoveReader):
            member_id, kind = command.reader_id, "reader"
        else:
            member_id, kind = command.writer_id, "writer"
        member = self._logs.member(member_id)
        is_kind = isinstance(member, LiveReader) == (kind == "reader")
        if member is None or not is_kind or member.log is not log:
            raise NoSuchMember("this log has no such member")
        self._logs.remove_member(member)
        answer = _answer(session, transmission, _OK)
        return LogStep((RemoveMember(member_id),), MemberRemoved(answer, member))

    def _delete(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        log = self._admin_log(session, transmission)
        self._logs.remove_log(log)
        answer = _answer(session, transmission, _OK)
        return LogStep((RemoveLog(log.log_id),), LogDeleted(answer, log))

    # -- writer and reader commands ----------------------------------------------------

    def _post(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        assert isinstance(command, lc.PostEntry)
        writer = self._member(session, transmission, LiveWriter)
        log = writer.log
        if len(log.entries) + log.posts_in_flight >= self._log_settings.log_quota:
            raise LogFull("the log holds its quota of entries")
        seq = log.next_seq
        log.next_seq += 1
        log.posts_in_flight += 1
        # The store holds the storage key, so the sealed time is as coarse as any date at rest.
        stored = coarse_time(now)
        frame = entry_frame(stored, command.body)
        sealed = seal_at_rest(log.record.storage_key, log.log_id, seq, frame, self._rng)
        answer = _answer(session, transmission, lc.encode_log_response(lc.EntryPosted(seq)))
        change = PutEntry(log.log_id, StoredEntry(seq, stored, sealed))
        return LogStep((change,), EntryAccepted(answer, log, LiveEntry(seq, stored, frame)))

    def _subscribe(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        assert isinstance(command, lc.SubscribeLog)
        reader = self._member(session, transmission, LiveReader)
        window = min(command.window, self._settings.max_delivery_window)
        position = lc.SubscriptionPosition(reader.cursor, reader.log.oldest)
        answer = _answer(session, transmission, lc.encode_log_response(position))
        return LogStep((), LogSubscribed(answer, reader, window))

    def _acknowledge(
        self, session: SessionState, transmission: Transmission, command: lc.LogCommand, now: float
    ) -> LogStep:
        assert isinstance(command, lc.AcknowledgeEntries)
        reader = self._member(session, transmission, LiveReader)
        log, seq = reader.log, command.seq
        if seq >= log.next_seq:
            raise EntryNotPosted("no entry has that sequence number yet")
        answer = _answer(session, transmission, _OK)
        if seq < reader.cursor:
            return LogStep((), answer)  # acknowledged already (a repeat)
        previous = reader.cursor
        lowest_before = log.lowest_cursor()
        log.count_cursor(previous, -1)
        log.count_cursor(seq + 1, 1)
        reader.cursor = seq + 1
        reader.sent_through = max(reader.sent_through, seq)
        # The next entries are durable already: deliver them before this commit.
        self._deliver(reader)
        changes: list[LogChange] = [SetCursor(reader.reader_id, reader.cursor)]
        lowest = log.lowest_cursor()
        trim_below = None
        if lowest is not None and lowest != lowest_before and log.oldest < lowest:
            trim_below = lowest
            changes.append(DeleteEntriesBefore(log.log_id, lowest, log.next_seq))
        return LogStep(tuple(changes), CursorMoved(answer, reader, previous, trim_below))

    # -- helpers -------------------------------------------------------------------------

    def _admin_log(self, session: SessionState, transmission: Transmission) -> LiveLog:
        """Find and authorise the log an admin command names."""
        require_entity(transmission, present=True)
        log = self._logs.log(transmission.entity_id)
        authorize(session, transmission, None if log is None else log.record.admin_auth_key)
        assert log is not None  # authorize() rejects a missing key
        return log

    def _member(self, session: SessionState, transmission: Transmission, kind: type[_M]) -> _M:
        """Find and authorise the reader or writer a command names (same work if none)."""
        require_entity(transmission, present=True)
        member = self._logs.member(transmission.entity_id)
        found = member if isinstance(member, kind) else None
        authorize(session, transmission, None if found is None else found.auth_key)
        assert found is not None  # authorize() rejects a missing key
        return found

    def _reserve_member(self, log: LiveLog) -> None:
        members = len(log.readers) + len(log.writers) + log.members_in_flight
        if members >= self._log_settings.max_log_members:
            raise TooManyMembers("the log has its maximum of readers and writers")
        log.members_in_flight += 1


def _answer(session: SessionState, transmission: Transmission, body: bytes) -> LogAnswer:
    return LogAnswer(session, transmission.correlation_id, transmission.entity_id, body)
