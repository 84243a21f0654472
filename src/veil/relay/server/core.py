"""The relay's queue state machine, sans I/O.

:class:`RelayProtocol` holds every live queue in memory and turns one decoded
transmission into a :class:`~veil.relay.server.steps.Step`: the store changes the
command needs, and an outcome saying what to commit once they are durable (what
must wait for durability, and the answer). The service makes the changes of many
blocks durable at once, then passes each step to :meth:`RelayProtocol.commit` in
order; a step without changes is committed at once. If the store fails,
:meth:`RelayProtocol.undo` reverts what each step changed in memory. Answers and
deliveries queue up per session until the service takes them with
:meth:`RelayProtocol.data_to_send`. Nothing here touches sockets, threads or clocks.

Who may send each command, what it checks and what it changes is the table in
``docs/protocol/relay.md`` section 5; ``RelayProtocol._handlers`` maps each command
to the method that implements its row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from veil.crypto import InvalidKey, RandomSource, X25519KeyPair, constant_time_equal
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    AuthFailed,
    BadCommand,
    CommandError,
    CommandProhibited,
    NoMessage,
    QuotaExceeded,
)
from veil.relay.protocol.queue_crypto import delivery_key, seal_message
from veil.relay.protocol.transmission import ENTITY_ID_SIZE, Transmission
from veil.relay.server.authorization import authorize, require_entity
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.queue_index import LiveQueue
from veil.relay.server.server_state import ServerState
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
from veil.relay.server.store.base import (
    DeleteMessage,
    DeleteMessagesBefore,
    PutMessage,
    PutQueue,
    QueueRecord,
    RemoveQueue,
    SetSenderKey,
    SetSuspended,
    StoreChange,
    StoredMessage,
    coarse_time,
)

__all__ = ["RelayProtocol"]


class RelayProtocol(ServerState):
    """Every live queue, and the rules of the commands that act on them."""

    def __init__(self, settings: RelaySettings, rng: RandomSource, metrics: RelayMetrics) -> None:
        super().__init__(settings, rng, metrics)
        self._next_sweep = 0.0
        """When the next retention sweep is due (clock seconds); the first is due at once."""
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

    # -- commands ----------------------------------------------------------------

    def handle(self, session: SessionState, transmission: Transmission, now: float) -> Step:
        """Run one transmission's command as far as it can go before the store commits."""
        try:
            command = cmd.decode_command(transmission.body)
            return self._handlers[type(command)](session, transmission, command, now)
        except CommandError as error:
            self.metrics.errors[type(error).__name__] += 1
            reply = rsp.ErrorResponse(error.code)
            return self._answer(session, transmission, reply)

    def next_timer(self) -> float:
        """When :meth:`handle_timer` has work next (the retention sweep)."""
        return self._next_sweep

    def handle_timer(self, now: float) -> Step | None:
        """Run the retention sweep if it is due; the step's changes then need committing."""
        if now < self._next_sweep:
            return None
        self._next_sweep = now + self._settings.expiry_interval_seconds
        return self.expire(now)

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
        return Step((DeleteMessagesBefore(cutoff),), MessagesExpired(tuple(touched)))

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
        ids = rsp.QueueIds(record.recipient_id, record.sender_id, relay_dh.public)
        session.reserve_queue(self._settings.max_queues_per_connection)
        answer = Answer(session, transmission.correlation_id, b"", ids)
        return Step((PutQueue(record),), QueueCreated(answer, record))

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
        return Step((change,), RecordChanged(_ok(session, transmission), queue, previous))

    def _subscribe(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        assert isinstance(command, cmd.Subscribe)
        queue = self._recipient_queue(session, transmission)
        window = min(command.window or 1, self._settings.max_delivery_window)
        return Step((), Subscribed(_ok(session, transmission), queue, window))

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
        change = PutMessage(queue.record.recipient_id, message)
        return Step((change,), MessageAccepted(_ok(session, transmission), queue, message))

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
        change = DeleteMessage(queue.record.recipient_id, command.message_id)
        answer = _ok(session, transmission)
        outcome = MessageAcknowledged(answer, queue, index, acknowledged, was_in_flight)
        return Step((change,), outcome)

    def _get(
        self, session: SessionState, transmission: Transmission, command: cmd.Command, now: float
    ) -> Step:
        queue = self._recipient_queue(session, transmission)
        while queue.messages:
            head = queue.messages[0]
            sealed = self._sealed(queue, head)
            if sealed is not None:
                self.metrics.messages_delivered += 1
                return self._answer(session, transmission, rsp.Message(head.message_id, sealed))
        raise NoMessage("queue is empty")

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
        change = RemoveQueue(queue.record.recipient_id)
        return Step((change,), QueueDeleted(_ok(session, transmission), queue, messages))

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

    def _answer(
        self, session: SessionState, transmission: Transmission, reply: rsp.Response
    ) -> Step:
        answer = Answer(session, transmission.correlation_id, transmission.entity_id, reply)
        return Step((), answer)


def _acknowledgeable_index(queue: LiveQueue, message_id: bytes) -> int:
    """Where ``message_id`` is among the messages an ``ACK`` may name: those in flight
    to the subscriber, or the head (a ``GET`` fetched it); :class:`NoMessage` if not."""
    for index, message in enumerate(queue.messages[: max(queue.delivered, 1)]):
        if message.message_id == message_id:
            return index
    raise NoMessage("no pending message with that id")


def _ok(session: SessionState, transmission: Transmission) -> Answer:
    return Answer(session, transmission.correlation_id, transmission.entity_id, _OK)


_Handler = Callable[[SessionState, Transmission, "cmd.Command", float], Step]
_OK = rsp.Ok()
_PONG = rsp.Pong()
