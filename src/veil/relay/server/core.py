"""The relay's queue state machine, sans I/O.

:class:`RelayProtocol` holds every live queue in memory and turns one decoded
transmission into a :class:`Step`: the store changes the command needs, and a
``finish`` callback that runs once those changes are durable (it updates what
must wait for durability and queues the responses). The service commits the
changes of many blocks at once, then runs the finishes in order; a step without
changes finishes at once. If the commit fails, each step's ``rollback`` undoes what
it changed in memory. Nothing here touches sockets, threads or clocks.

Who may send each command, what it checks and what it changes is the table in
``docs/protocol/relay.md`` section 5; ``RelayProtocol._handlers`` maps each command
to the method that implements its row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from veil.crypto import InvalidKey, RandomSource, X25519KeyPair, constant_time_equal
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol.errors import (
    AuthFailed,
    BadCommand,
    CommandError,
    CommandProhibited,
    InternalError,
    NoMessage,
    QuotaExceeded,
)
from veil.relay.protocol.handshake import SESSION_ID_SIZE
from veil.relay.protocol.queue_crypto import delivery_key, seal_message
from veil.relay.protocol.transmission import ENTITY_ID_SIZE, PUSH_CORRELATION_ID, Transmission
from veil.relay.server.authorization import authorize, require_entity
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.queue_index import LiveQueue, QueueIndex
from veil.relay.server.session import SessionState
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import (
    DeleteMessage,
    DeleteMessagesBefore,
    DeleteQueue,
    PutMessage,
    PutQueue,
    QueueRecord,
    SetSenderKey,
    SetSuspended,
    StoreChange,
    StoredMessage,
    StoredQueue,
    coarse_time,
)

__all__ = ["RelayProtocol", "Step"]

_log = logging.getLogger("veil.relay")


def _nothing() -> None:
    """A finish or rollback with nothing to do."""


@dataclass(slots=True)
class Step:
    """What one command needs: durable ``changes``, then ``finish`` once committed.

    If the commit fails, ``rollback`` undoes what was reserved before the commit
    and the service answers ``ERR INTERNAL`` instead of running ``finish``.
    """

    changes: list[StoreChange]
    finish: Callable[[], None]
    rollback: Callable[[], None] = _nothing


class RelayProtocol:
    """Every live queue, and the rules of the commands that act on them."""

    def __init__(self, settings: RelaySettings, rng: RandomSource, metrics: RelayMetrics) -> None:
        self._settings = settings
        self._rng = rng
        self.metrics = metrics
        self._queues = QueueIndex()
        self._dirty: dict[SessionState, None] = {}
        self._handlers: dict[type[cmd.Command], _Handler] = {
            cmd.CreateQueue: self._create,
            cmd.SecureQueue: self._secure,
            cmd.SenderSecureQueue: self._sender_secure,
            cmd.Subscribe: self._subscribe,
            cmd.SendMessage: self._send,
            cmd.Acknowledge: self._acknowledge,
            cmd.GetMessage: self._get,
            cmd.SuspendQueue: self._suspend,
            cmd.DeleteQueue: self._delete,
            cmd.Ping: self._ping,
        }

    # -- lifecycle ---------------------------------------------------------------

    def load(self, stored: list[StoredQueue]) -> None:
        """Rebuild the live state from what the store returned at start."""
        for item in stored:
            self._index(LiveQueue(item.record, item.messages))
            self.metrics.messages_pending += len(item.messages)

    def open_session(self, push: Callable[[bytes], None]) -> SessionState:
        """Make the state of a new connection: fresh session id and session key."""
        self.metrics.sessions_opened += 1
        self.metrics.sessions_active += 1
        return SessionState(
            self._rng.random_bytes(SESSION_ID_SIZE),
            X25519KeyPair.generate(self._rng),
            push,
            self._settings.max_cached_auth_keys,
        )

    def close_session(self, session: SessionState) -> None:
        """Forget a connection: its subscriptions end, nothing more is pushed to it."""
        if session.closed:
            return
        session.closed = True
        self.metrics.sessions_active -= 1
        for recipient_id in session.subscriptions:
            queue = self._queues.by_recipient(recipient_id)
            if queue is not None and queue.subscriber is session:
                queue.subscriber = None
        session.subscriptions.clear()
        self._dirty.pop(session, None)

    def flush(self) -> None:
        """Send every response and push queued since the last flush, batched in blocks."""
        dirty, self._dirty = self._dirty, {}
        for session in dirty:
            try:
                session.flush()
            except Exception:
                # One broken connection must not keep the others from their answers.
                _log.exception("push failed; closing the session")
                self.close_session(session)

    # -- commands ----------------------------------------------------------------

    def handle(self, session: SessionState, transmission: Transmission, now: float) -> Step:
        """Run one transmission's command as far as it can go before the store commits."""
        try:
            command = cmd.decode_command(transmission.body)
            return self._handlers[type(command)](session, transmission, command, now)
        except CommandError as error:
            self.metrics.errors[type(error).__name__] += 1
            reply = cmd.ErrorResponse(error.code)
            return self._answer(session, transmission, reply)

    def reply_internal_error(self, session: SessionState, transmission: Transmission) -> None:
        """Answer a command whose commit failed."""
        self.metrics.errors["InternalError"] += 1
        self._push(session, transmission.correlation_id, transmission.entity_id, _INTERNAL)

    def expire(self, now: float) -> Step:
        """Drop messages older than the retention period (a sweep, run periodically).

        Once the deletion is durable, subscribers whose messages in flight expired
        receive the next ones.
        """
        cutoff = coarse_time(now - self._settings.retention_seconds)
        touched = []
        for queue in self._queues:
            if queue.messages and queue.messages[0].stored < cutoff:
                kept = [message for message in queue.messages if message.stored >= cutoff]
                in_flight = queue.messages[: queue.delivered]
                queue.delivered = sum(1 for message in in_flight if message.stored >= cutoff)
                self.metrics.messages_expired += len(queue.messages) - len(kept)
                self.metrics.messages_pending -= len(queue.messages) - len(kept)
                queue.messages = kept
                touched.append(queue)

        def finish() -> None:
            for queue in touched:
                self._deliver_window(queue)

        return Step([DeleteMessagesBefore(cutoff)], finish)

    def _create(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        assert isinstance(command, cmd.CreateQueue)
        require_entity(transmission, present=False)
        authorize(session, transmission, command.recipient_auth_key)
        password = self._settings.password_bytes
        if password is not None and not constant_time_equal(command.password, password):
            raise AuthFailed("wrong relay password")
        relay_dh = X25519KeyPair.generate(self._rng)
        try:
            key = delivery_key(relay_dh, command.recipient_dh_key)
        except InvalidKey as exc:
            raise BadCommand("recipient DH key is not usable") from exc
        record = QueueRecord(
            recipient_id=self._rng.random_bytes(ENTITY_ID_SIZE),
            sender_id=self._rng.random_bytes(ENTITY_ID_SIZE),
            recipient_auth_key=command.recipient_auth_key,
            delivery_key=key,
            created=coarse_time(now),
        )
        ids = cmd.QueueIds(record.recipient_id, record.sender_id, relay_dh.public)
        session.reserve_queue(self._settings.max_queues_per_connection)

        def finish() -> None:
            self._index(LiveQueue(record))
            self.metrics.queues_created += 1
            self._push(session, transmission.correlation_id, b"", ids)

        def rollback() -> None:
            session.queues_created -= 1

        return Step([PutQueue(record)], finish, rollback)

    def _secure(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        assert isinstance(command, cmd.SecureQueue)
        queue = self._recipient_queue(session, transmission)
        current = queue.record.sender_auth_key
        if current is not None:
            if current != command.sender_auth_key:
                raise CommandProhibited("queue is already secured")
            return self._answer(session, transmission, _OK)
        return self._set_sender_key(session, transmission, queue, command.sender_auth_key)

    def _sender_secure(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        assert isinstance(command, cmd.SenderSecureQueue)
        require_entity(transmission, present=True)
        queue = self._queues.by_sender(transmission.entity_id)
        # Self-authorised by the key it carries: the same work whether or not the queue exists.
        authorize(session, transmission, command.sender_auth_key)
        if queue is None:
            raise AuthFailed("no such queue")
        current = queue.record.sender_auth_key
        if current is not None:
            if not constant_time_equal(current, command.sender_auth_key):
                raise AuthFailed("queue is secured with another key")
            return self._answer(session, transmission, _OK)
        return self._set_sender_key(session, transmission, queue, command.sender_auth_key)

    def _set_sender_key(
        self, session: SessionState, transmission: Transmission, queue: LiveQueue, key: bytes
    ) -> Step:
        record = replace(queue.record, sender_auth_key=key)
        change = SetSenderKey(record.recipient_id, key)
        return self._update_record(session, transmission, queue, record, change)

    def _update_record(
        self,
        session: SessionState,
        transmission: Transmission,
        queue: LiveQueue,
        record: QueueRecord,
        change: StoreChange,
    ) -> Step:
        """Take the new record at once (later commands must see it), answer once durable."""
        previous, queue.record = queue.record, record

        def rollback() -> None:
            queue.record = previous

        return Step([change], lambda: self._push_reply(session, transmission, _OK), rollback)

    def _subscribe(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        assert isinstance(command, cmd.Subscribe)
        queue = self._recipient_queue(session, transmission)
        window = min(command.window or 1, self._settings.max_delivery_window)

        def finish() -> None:
            previous = queue.subscriber
            if previous is not None and previous is not session:
                previous.subscriptions.discard(queue.record.recipient_id)
                self._push(previous, PUSH_CORRELATION_ID, queue.record.recipient_id, _END)
            queue.subscriber = session
            queue.delivered, queue.window = 0, window
            session.subscriptions.add(queue.record.recipient_id)
            self._push_reply(session, transmission, _OK)
            self._deliver_window(queue)

        return Step([], finish)

    def _send(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        assert isinstance(command, cmd.SendMessage)
        require_entity(transmission, present=True)
        queue = self._queues.by_sender(transmission.entity_id)
        sender_key = None if queue is None else queue.record.sender_auth_key
        authorize(session, transmission, sender_key)
        assert queue is not None  # authorize() rejects a missing key
        message = self._accept_message(queue, command, now)
        queue.sends_in_flight += 1

        def finish() -> None:
            queue.sends_in_flight -= 1
            self._push_reply(session, transmission, _OK)
            if queue.deleted:
                return
            queue.messages.append(message)
            self.metrics.messages_stored += 1
            self.metrics.messages_pending += 1
            self._deliver_window(queue)

        def rollback() -> None:
            queue.sends_in_flight -= 1

        return Step([PutMessage(queue.record.recipient_id, message)], finish, rollback)

    def _accept_message(
        self, queue: LiveQueue, command: cmd.SendMessage, now: float
    ) -> StoredMessage:
        """Check the queue takes the message, then seal it for the recipient."""
        if queue.record.suspended:
            raise AuthFailed("queue is suspended")
        if len(queue.messages) + queue.sends_in_flight >= self._settings.queue_quota:
            raise QuotaExceeded("queue is full")
        message_id = self._rng.random_bytes(cmd.MESSAGE_ID_SIZE)
        # The store holds the delivery key, so the sealed timestamp is as coarse as
        # every other date at rest.
        arrived = coarse_time(now)
        sealed = seal_message(
            queue.record.delivery_key, message_id, arrived, command.flags, command.body
        )
        return StoredMessage(message_id, arrived, sealed)

    def _acknowledge(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        assert isinstance(command, cmd.Acknowledge)
        queue = self._recipient_queue(session, transmission)
        index = _acknowledgeable_index(queue, command.message_id)
        acknowledged = queue.messages.pop(index)
        was_in_flight = index < queue.delivered
        if was_in_flight:
            queue.delivered -= 1
        self.metrics.messages_pending -= 1
        # The next message is durable already: deliver it now rather than after this
        # deletion commits, so a busy queue does not wait one commit per message.
        self._deliver_window(queue)

        def finish() -> None:
            self.metrics.messages_acknowledged += 1
            self._push_reply(session, transmission, _OK)

        def rollback() -> None:
            queue.messages.insert(index, acknowledged)
            if was_in_flight:
                queue.delivered += 1  # the subscriber still holds it
            self.metrics.messages_pending += 1

        change = DeleteMessage(queue.record.recipient_id, command.message_id)
        return Step([change], finish, rollback)

    def _get(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        queue = self._recipient_queue(session, transmission)
        if not queue.messages:
            raise NoMessage("queue is empty")
        head = queue.messages[0]
        self.metrics.messages_delivered += 1
        return self._answer(session, transmission, cmd.Message(head.message_id, head.sealed))

    def _suspend(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        queue = self._recipient_queue(session, transmission)
        if queue.record.suspended:
            return self._answer(session, transmission, _OK)
        record = replace(queue.record, suspended=True)
        change = SetSuspended(record.recipient_id)
        return self._update_record(session, transmission, queue, record, change)

    def _delete(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        queue = self._recipient_queue(session, transmission)
        messages = queue.messages
        self._unindex(queue)

        def rollback() -> None:
            queue.deleted = False
            queue.messages = messages
            self._index(queue)
            self.metrics.messages_pending += len(messages)

        def finish() -> None:
            self.metrics.queues_deleted += 1
            subscriber = queue.subscriber
            if subscriber is not None and subscriber is not session:
                subscriber.subscriptions.discard(queue.record.recipient_id)
                self._push(subscriber, PUSH_CORRELATION_ID, queue.record.recipient_id, _END)
            session.subscriptions.discard(queue.record.recipient_id)
            queue.subscriber = None
            self._push_reply(session, transmission, _OK)

        return Step([DeleteQueue(queue.record.recipient_id)], finish, rollback)

    def _ping(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        return self._answer(session, transmission, _PONG)

    # -- helpers -----------------------------------------------------------------

    def _recipient_queue(self, session: SessionState, transmission: Transmission) -> LiveQueue:
        """Find and authorise the queue a recipient command names."""
        require_entity(transmission, present=True)
        queue = self._queues.by_recipient(transmission.entity_id)
        authorize(session, transmission, None if queue is None else queue.record.recipient_auth_key)
        assert queue is not None  # authorize() rejects a missing key
        return queue

    def _deliver_window(self, queue: LiveQueue) -> None:
        """Push the messages after those in flight until the subscriber's window is full."""
        subscriber = queue.subscriber
        if subscriber is None:
            return
        end = min(queue.window, len(queue.messages))
        while queue.delivered < end:
            pending = queue.messages[queue.delivered]
            queue.delivered += 1
            self.metrics.messages_delivered += 1
            message = cmd.Message(pending.message_id, pending.sealed)
            self._push(subscriber, PUSH_CORRELATION_ID, queue.record.recipient_id, message)

    def _answer(
        self, session: SessionState, transmission: Transmission, reply: cmd.Response
    ) -> Step:
        return Step([], lambda: self._push_reply(session, transmission, reply))

    def _push_reply(
        self, session: SessionState, transmission: Transmission, reply: cmd.Response
    ) -> None:
        self._push(session, transmission.correlation_id, transmission.entity_id, reply)

    def _push(
        self, session: SessionState, correlation_id: bytes, entity_id: bytes, reply: cmd.Response
    ) -> None:
        if session.closed:
            return
        session.enqueue(correlation_id, entity_id, reply)
        self._dirty[session] = None

    def _index(self, queue: LiveQueue) -> None:
        self._queues.add(queue)
        self.metrics.queues += 1

    def _unindex(self, queue: LiveQueue) -> None:
        self._queues.remove(queue)
        self.metrics.queues -= 1
        self.metrics.messages_pending -= len(queue.messages)
        queue.messages = []


def _acknowledgeable_index(queue: LiveQueue, message_id: bytes) -> int:
    """Where ``message_id`` is among the messages an ``ACK`` may name: those in flight
    to the subscriber, or the head (a ``GET`` fetched it); :class:`NoMessage` if not."""
    for index, message in enumerate(queue.messages[: max(queue.delivered, 1)]):
        if message.message_id == message_id:
            return index
    raise NoMessage("no pending message with that id")


_Handler = Callable[[SessionState, Transmission, "cmd.Command", float], Step]
_OK = cmd.Ok()
_END = cmd.SubscriptionEnded()
_PONG = cmd.Pong()
_INTERNAL = cmd.ErrorResponse(InternalError.code)
