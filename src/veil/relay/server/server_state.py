"""The relay's live queues and its sessions' output, as committed steps leave them; sans I/O.

:class:`ServerState` holds what the queue core (:mod:`veil.relay.server.core`)
works on: every live queue, every session's queued answers and pushes, and the
rules of committing (or undoing) a :class:`~veil.relay.server.steps.Step` once the
store made (or failed to make) its changes durable. The core adds the rules of
the commands that make those steps.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.crypto import RandomSource, X25519KeyPair
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import InternalError, StoreFailed
from veil.relay.protocol.handshake import SESSION_ID_SIZE
from veil.relay.protocol.transmission import PUSH_CORRELATION_ID, Transmission
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.queue_index import LiveQueue, QueueIndex
from veil.relay.server.session import SessionState
from veil.relay.server.settings import RelaySettings
from veil.relay.server.steps import (
    Answer,
    MessageAccepted,
    MessageAcknowledged,
    MessagesExpired,
    QueueCreated,
    QueueDeleted,
    RecordChanged,
    Step,
    Subscribed,
)
from veil.relay.server.store.base import StoredMessage, StoredQueue

__all__ = ["ServerState"]


class ServerState:
    """Every live queue and session output; commits and undoes the core's steps."""

    def __init__(self, settings: RelaySettings, rng: RandomSource, metrics: RelayMetrics) -> None:
        self._settings = settings
        self._rng = rng
        self.metrics = metrics
        self._queues = QueueIndex()
        self._dirty: dict[SessionState, None] = {}
        self.body_reader: Callable[[bytes, StoredMessage], bytes] | None = None
        """Set when the store keeps pending bodies on disk (``QueueStore.read_body``):
        accepted messages then keep none in memory, and deliveries read them back."""

    # -- lifecycle ---------------------------------------------------------------

    def load(self, stored: list[StoredQueue]) -> None:
        """Rebuild the live state from what the store returned at start."""
        for item in stored:
            self._index(LiveQueue(item.record, item.messages))
            self.metrics.messages_pending += len(item.messages)

    def open_session(self) -> SessionState:
        """Make the state of a new connection: fresh session id and session key."""
        self.metrics.sessions_opened += 1
        self.metrics.sessions_active += 1
        return SessionState(
            self._rng.random_bytes(SESSION_ID_SIZE),
            X25519KeyPair.generate(self._rng),
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

    def data_to_send(self) -> list[tuple[SessionState, list[bytes]]]:
        """Take every block queued since the last call: answers and pushes, per session."""
        dirty, self._dirty = self._dirty, {}
        return [(session, session.data_to_send()) for session in dirty if not session.closed]

    def answer_body(
        self, session: SessionState, correlation_id: bytes, entity_id: bytes, body: bytes
    ) -> None:
        """Queue an already encoded answer (private routing's) for the next :meth:`data_to_send`."""
        if session.closed:
            return
        session.enqueue_body(correlation_id, entity_id, body)
        self._dirty[session.carrier] = None

    # -- commits -------------------------------------------------------------------

    def reply_internal_error(self, session: SessionState, transmission: Transmission) -> None:
        """Answer a command whose commit failed."""
        self.metrics.errors["InternalError"] += 1
        self._push(session, transmission.correlation_id, transmission.entity_id, _INTERNAL)

    def commit(self, step: Step) -> None:
        """Carry out ``step`` now that its changes are durable (or it had none)."""
        # The commonest outcomes first: every message is one SEND and one ACK.
        match step.outcome:
            case MessageAccepted() as accepted:
                self._message_accepted(accepted)
            case MessageAcknowledged(answer=answer):
                self.metrics.messages_acknowledged += 1
                self._send_answer(answer)
            case Answer() as answer:
                self._send_answer(answer)
            case Subscribed() as subscribed:
                self._subscribed(subscribed)
            case QueueCreated() as created:
                self._queue_created(created)
            case RecordChanged(answer=answer):
                self._send_answer(answer)
            case QueueDeleted() as deleted:
                self._queue_deleted(deleted)
            case MessagesExpired(queues=queues):
                for queue in queues:
                    self._deliver_window(queue)
            case other:
                raise TypeError(f"not an outcome of the queue core: {other!r}")

    def undo(self, step: Step) -> None:
        """Revert what ``step`` changed in memory; its changes never became durable."""
        match step.outcome:
            case QueueCreated(answer=answer):
                answer.session.queues_created -= 1
            case RecordChanged(queue=queue, previous=previous):
                queue.record = previous
            case MessageAccepted(queue=queue):
                queue.sends_in_flight -= 1
            case MessageAcknowledged() as acknowledged:
                self._undo_acknowledged(acknowledged)
            case QueueDeleted() as deleted:
                self._undo_deleted(deleted)

    def _deliver_window(self, queue: LiveQueue) -> None:
        """Push the messages after those in flight until the subscriber's window is full."""
        subscriber = queue.subscriber
        if subscriber is None:
            return
        while queue.delivered < min(queue.window, len(queue.messages)):
            pending = queue.messages[queue.delivered]
            sealed = self._sealed(queue, pending)
            if sealed is None:
                continue  # a damaged body left the queue; the next one moved up
            queue.delivered += 1
            self.metrics.messages_delivered += 1
            message = rsp.Message(pending.message_id, sealed)
            self._push(subscriber, PUSH_CORRELATION_ID, queue.record.recipient_id, message)

    def _sealed(self, queue: LiveQueue, message: StoredMessage) -> bytes | None:
        """A pending message's body; ``None`` if the store found it damaged (it then
        leaves the queue: it is never served, and the store logged it)."""
        if message.sealed is not None:
            return message.sealed
        try:
            if self.body_reader is None:
                raise StoreFailed("a message without its body, and no store to read it from")
            return self.body_reader(queue.record.recipient_id, message)
        except StoreFailed:
            queue.messages.remove(message)
            self.metrics.messages_pending -= 1
            self.metrics.errors["BodyDamaged"] += 1
            return None

    def _push(
        self, session: SessionState, correlation_id: bytes, entity_id: bytes, reply: rsp.Response
    ) -> None:
        if session.closed:
            return
        session.enqueue(correlation_id, entity_id, reply)
        self._dirty[session.carrier] = None

    def _send_answer(self, answer: Answer) -> None:
        self._push(answer.session, answer.correlation_id, answer.entity_id, answer.response)

    # -- commits and undos, one per outcome ----------------------------------------

    def _queue_created(self, outcome: QueueCreated) -> None:
        self._index(LiveQueue(outcome.record))
        self.metrics.queues_created += 1
        self._send_answer(outcome.answer)

    def _subscribed(self, outcome: Subscribed) -> None:
        queue, session = outcome.queue, outcome.answer.session
        previous = queue.subscriber
        if previous is not None and previous is not session:
            previous.subscriptions.discard(queue.record.recipient_id)
            self._push(previous, PUSH_CORRELATION_ID, queue.record.recipient_id, _END)
        queue.subscriber = session
        queue.delivered, queue.window = 0, outcome.window
        session.subscriptions.add(queue.record.recipient_id)
        self._send_answer(outcome.answer)
        self._deliver_window(queue)

    def _message_accepted(self, outcome: MessageAccepted) -> None:
        queue = outcome.queue
        queue.sends_in_flight -= 1
        self._send_answer(outcome.answer)
        if queue.deleted:
            return
        message = outcome.message
        if self.body_reader is not None:  # the store has it on disk
            message = StoredMessage(message.message_id, message.stored, None)
        queue.messages.append(message)
        self.metrics.messages_stored += 1
        self.metrics.messages_pending += 1
        self._deliver_window(queue)

    def _queue_deleted(self, outcome: QueueDeleted) -> None:
        queue, session = outcome.queue, outcome.answer.session
        self.metrics.queues_deleted += 1
        subscriber = queue.subscriber
        if subscriber is not None and subscriber is not session:
            subscriber.subscriptions.discard(queue.record.recipient_id)
            self._push(subscriber, PUSH_CORRELATION_ID, queue.record.recipient_id, _END)
        session.subscriptions.discard(queue.record.recipient_id)
        queue.subscriber = None
        self._send_answer(outcome.answer)

    def _undo_acknowledged(self, outcome: MessageAcknowledged) -> None:
        queue = outcome.queue
        queue.messages.insert(outcome.index, outcome.message)
        if outcome.was_in_flight:
            queue.delivered += 1  # the subscriber still holds it
        self.metrics.messages_pending += 1

    def _undo_deleted(self, outcome: QueueDeleted) -> None:
        queue = outcome.queue
        queue.deleted = False
        queue.messages = outcome.messages
        self._index(queue)
        self.metrics.messages_pending += len(outcome.messages)

    def _index(self, queue: LiveQueue) -> None:
        self._queues.add(queue)
        self.metrics.queues += 1

    def _unindex(self, queue: LiveQueue) -> None:
        self._queues.remove(queue)
        self.metrics.queues -= 1
        self.metrics.messages_pending -= len(queue.messages)
        queue.messages = []


_END = rsp.SubscriptionEnded()
_INTERNAL = rsp.ErrorResponse(InternalError.code)
