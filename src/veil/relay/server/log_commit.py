"""Live group logs as committed steps leave them, and delivery to readers; sans I/O.

:class:`LogState` holds every live log and carries out the outcome of a step once
its store changes are durable (:meth:`LogState.commit`), or reverts what it
changed in memory if they never became so (:meth:`LogState.undo`). Answers and
pushes go to ``answer(session, correlation_id, entity_id, body)``, the relay
core's queue of outgoing transmissions. The log core
(:mod:`veil.relay.server.log_core`) adds the rules of the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from veil.crypto import AuthenticationFailed, RandomSource
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import InternalError, StoreFailed
from veil.relay.protocol.log_crypto import open_at_rest, seal_for_reader
from veil.relay.protocol.transmission import PUSH_CORRELATION_ID, Transmission
from veil.relay.server.log_state import (
    CursorMoved,
    EntryAccepted,
    LiveEntry,
    LiveLog,
    LiveReader,
    LiveWriter,
    LogAnswer,
    LogDeleted,
    LogIndex,
    LogMade,
    LogOutcome,
    LogSubscribed,
    LogSwept,
    MemberAdded,
    MemberRemoved,
)
from veil.relay.server.log_store import LogChange, StoredLog
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.session import SessionState

__all__ = ["AnswerSink", "LogState", "LogStep"]

AnswerSink = Callable[[SessionState, bytes, bytes, bytes], None]
"""Queues one encoded answer or push: ``(session, correlation_id, entity_id, body)``."""


@dataclass(frozen=True, slots=True)
class LogStep:
    """One log command's durable ``changes`` and the ``outcome`` to commit after them."""

    changes: tuple[LogChange, ...]
    outcome: LogOutcome


class LogState:
    """Every live log; commits and undoes the log core's steps, and delivers entries."""

    def __init__(self, rng: RandomSource, metrics: RelayMetrics, answer: AnswerSink) -> None:
        self._rng = rng
        self.metrics = metrics
        self._answer = answer
        self._logs = LogIndex()
        self._subscriptions: dict[SessionState, set[bytes]] = {}
        """Reader ids each session subscribed to, so a closed session lets go of them."""
        self._logs_made: dict[SessionState, int] = {}
        """``LNEW`` accepted per session (committed or committing)."""

    # -- lifecycle ---------------------------------------------------------------

    def load(self, stored: list[StoredLog]) -> None:
        """Rebuild the live logs from what the store returned at start.

        Raises :class:`StoreFailed` if an entry does not open under its log's key.
        """
        for item in stored:
            record = item.record
            floor = max(
                [record.next_seq]
                + [entry.seq + 1 for entry in item.entries]
                + [reader.cursor for reader in item.readers]
            )
            log = LiveLog(record, floor)
            for entry in item.entries:
                try:
                    frame = open_at_rest(record.storage_key, record.log_id, entry.seq, entry.sealed)
                except AuthenticationFailed as exc:
                    raise StoreFailed("a stored group-log entry does not open") from exc
                log.entries.append(LiveEntry(entry.seq, entry.stored, frame))
            self._logs.add_log(log)
            for reader in item.readers:
                self._logs.add_member(
                    LiveReader(
                        reader.reader_id, reader.auth_key, reader.delivery_key, reader.cursor, log
                    )
                )
            for writer in item.writers:
                self._logs.add_member(LiveWriter(writer.writer_id, writer.auth_key, log))

    def close_session(self, session: SessionState) -> None:
        """Forget a connection: its subscriptions end, nothing more is pushed to it."""
        self._logs_made.pop(session, None)
        for reader_id in self._subscriptions.pop(session, set()):
            reader = self._logs.member(reader_id)
            if isinstance(reader, LiveReader) and reader.subscriber is session:
                reader.subscriber = None

    def reply_internal_error(self, session: SessionState, transmission: Transmission) -> None:
        """Answer a command whose commit failed."""
        self.metrics.errors["InternalError"] += 1
        body = rsp.encode_response(rsp.ErrorResponse(InternalError.code))
        self._answer(session, transmission.correlation_id, transmission.entity_id, body)

    # -- commit and undo ---------------------------------------------------------

    def commit(self, step: LogStep) -> None:
        """Carry out ``step`` now that its changes are durable (or it had none)."""
        # The commonest outcomes first: every entry is one post and one ack per reader.
        match step.outcome:
            case EntryAccepted(answer=answer, log=log, entry=entry):
                log.posts_in_flight -= 1
                self._send(answer)
                if not log.deleted:
                    log.add_entry(entry)
                    self._deliver_log(log)
            case CursorMoved(answer=answer, reader=reader, trim_below=trim_below):
                self._send(answer)
                if trim_below is not None:
                    reader.log.drop_before(trim_below)
            case LogAnswer() as answer:
                self._send(answer)
            case LogSubscribed() as subscribed:
                self._subscribed(subscribed)
            case LogSwept(logs=logs):
                for log in logs:
                    self._deliver_log(log)
            case other:
                self._commit_membership(other)

    def _commit_membership(self, outcome: LogOutcome) -> None:
        """Commit what an admin command did to a log and its members."""
        match outcome:
            case MemberAdded(answer=answer, member=member):
                member.log.members_in_flight -= 1
                if not member.log.deleted:
                    self._logs.add_member(member)
                self._send(answer)
            case MemberRemoved(answer=answer, member=member):
                if isinstance(member, LiveReader):
                    self._end(member, lc.EndReason.REMOVED)
                self._send(answer)
            case LogMade(answer=answer, log=log):
                self._logs.add_log(log)
                self._send(answer)
            case LogDeleted(answer=answer, log=log):
                for reader in log.readers.values():
                    self._end(reader, lc.EndReason.DELETED)
                self._send(answer)

    def undo(self, step: LogStep) -> None:
        """Revert what ``step`` changed in memory; its changes never became durable."""
        match step.outcome:
            case EntryAccepted(log=log, entry=entry):
                log.posts_in_flight -= 1
                if log.next_seq == entry.seq + 1:
                    log.next_seq = entry.seq  # nothing later took a number: leave no gap
            case CursorMoved(reader=reader, previous=previous):
                reader.log.count_cursor(reader.cursor, -1)
                reader.log.count_cursor(previous, 1)
                reader.cursor = previous
            case MemberAdded(member=member):
                member.log.members_in_flight -= 1
            case MemberRemoved(member=member):
                self._logs.add_member(member)
            case LogMade(answer=answer):
                self._logs_made[answer.session] -= 1
            case LogDeleted(log=log):
                self._logs.add_log(log)

    # -- delivery ----------------------------------------------------------------

    def _deliver_log(self, log: LiveLog) -> None:
        for reader in log.readers.values():
            if reader.subscriber is not None:
                self._deliver(reader)

    def _deliver(self, reader: LiveReader) -> None:
        """Push entries after those in flight until the reader's window is full."""
        subscriber = reader.subscriber
        if subscriber is None:
            return
        log = reader.log
        start = log.index_of(reader.cursor)
        position = max(start, log.index_after(reader.sent_through))
        end = min(len(log.entries), start + reader.window)
        while position < end:
            entry = log.entries[position]
            position += 1
            reader.sent_through = entry.seq
            nonce, sealed = seal_for_reader(
                reader.delivery_key, reader.reader_id, entry.seq, entry.frame, self._rng
            )
            body = lc.encode_log_response(lc.EntryDelivered(entry.seq, nonce, sealed))
            self.metrics.messages_delivered += 1
            self._answer(subscriber, PUSH_CORRELATION_ID, reader.reader_id, body)

    def _subscribed(self, outcome: LogSubscribed) -> None:
        reader, session = outcome.reader, outcome.answer.session
        if reader.log.deleted or self._logs.member(reader.reader_id) is not reader:
            self._send(outcome.answer)  # removed meanwhile: LEND went out already
            return
        previous = reader.subscriber
        if previous is not None and previous is not session:
            self._end(reader, lc.EndReason.REPLACED)
        reader.subscriber = session
        reader.window = outcome.window
        reader.sent_through = reader.cursor - 1
        self._subscriptions.setdefault(session, set()).add(reader.reader_id)
        self._send(outcome.answer)
        self._deliver(reader)

    def _end(self, reader: LiveReader, reason: lc.EndReason) -> None:
        """End ``reader``'s subscription, if it has one, with ``LEND`` saying why."""
        subscriber, reader.subscriber = reader.subscriber, None
        if subscriber is None:
            return
        self._subscriptions.get(subscriber, set()).discard(reader.reader_id)
        body = lc.encode_log_response(lc.LogSubscriptionEnded(reason))
        self._answer(subscriber, PUSH_CORRELATION_ID, reader.reader_id, body)

    def _send(self, answer: LogAnswer) -> None:
        self._answer(answer.session, answer.correlation_id, answer.entity_id, answer.body)
