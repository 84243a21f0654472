"""An in-memory relay behind the agent's :class:`RelayPort`, for runtime unit tests.

It keeps the relay semantics the agent relies on — a queue accepts ``SEND`` only
from the sender key that secured it, holds at most ``quota`` messages, delivers the
head of a queue to its subscriber and the next one only after ``ACK``, leaves a
queue subscribed already alone on ``subscribe`` (as the relay pool does) and sends the
message in flight again on ``resubscribe`` — and lets a test take the relay down or
redeliver a message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from veil.agent.queues import ReceiveQueue, SendQueue
from veil.agent.relays import Delivery, RelayUnavailable
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.protocol.errors import AuthFailed, QuotaExceeded


@dataclass
class _Queue:
    recipient_id: bytes
    sender_key: bytes | None = None
    messages: deque[tuple[bytes, bytes]] = field(default_factory=deque)
    subscriber: Callable[[Delivery], None] | None = None
    in_flight: bytes | None = None


class FakeRelay:
    """Every relay address maps to this one in-memory relay."""

    def __init__(self, quota: int = 128) -> None:
        self.quota = quota
        self.down = False
        self.answers_lost = False
        """``SEND`` stores the message but fails, as if the sender crashed before the answer."""
        self.queues: dict[bytes, _Queue] = {}
        self.history: list[Delivery] = []
        """Every delivery made, in order (a test may make the relay send one again)."""
        self._by_sender: dict[bytes, _Queue] = {}
        self._rng = SystemRandom()

    def _check_up(self) -> None:
        if self.down:
            raise RelayUnavailable("fake relay is down")

    async def create_queue(self, relay: str) -> ReceiveQueue:
        self._check_up()
        recipient_id, sender_id = self._rng.random_bytes(24), self._rng.random_bytes(24)
        queue = _Queue(recipient_id)
        self.queues[recipient_id] = self._by_sender[sender_id] = queue
        keys = [X25519KeyPair.generate(self._rng).private for _ in range(3)]
        return ReceiveQueue(relay, recipient_id, sender_id, *keys)

    async def secure_own_queue(self, queue: ReceiveQueue, sender_auth_public: bytes) -> None:
        self._check_up()
        self.queues[queue.recipient_id].sender_key = sender_auth_public

    async def secure_peer_queue(self, queue: SendQueue) -> None:
        self._check_up()
        target = self._by_sender[queue.address.sender_id]
        public = X25519KeyPair(queue.sender_auth_key).public
        if target.sender_key not in (None, public):
            raise RelayUnavailable("queue secured with another key")
        target.sender_key = public

    async def send(self, queue: SendQueue, body: bytes) -> None:
        self._check_up()
        target = self._by_sender[queue.address.sender_id]
        # Refusals come as the relay pool raises them: from the relay's answer.
        if target.sender_key != X25519KeyPair(queue.sender_auth_key).public:
            raise RelayUnavailable("AUTH") from AuthFailed("AUTH")
        if len(target.messages) >= self.quota:
            raise RelayUnavailable("QUOTA") from QuotaExceeded("QUOTA")
        self.arrive(target.recipient_id, self._rng.random_bytes(24), body)
        if self.answers_lost:
            raise RelayUnavailable("the answer to SEND was lost")

    def arrive(self, recipient_id: bytes, message_id: bytes, body: bytes) -> None:
        """Store a message as ``SEND`` does, with the id and bytes a test chooses."""
        queue = self.queues[recipient_id]
        queue.messages.append((message_id, body))
        self._deliver(queue)

    async def subscribe(
        self, queues: Sequence[ReceiveQueue], on_delivery: Callable[[Delivery], None]
    ) -> None:
        self._check_up()
        for queue in queues:
            target = self.queues[queue.recipient_id]
            if target.subscriber is None:
                target.subscriber = on_delivery
                self._deliver(target)

    async def resubscribe(self, queues: Sequence[ReceiveQueue]) -> None:
        self._check_up()
        for queue in queues:
            self.redeliver(queue.recipient_id)

    def _deliver(self, queue: _Queue) -> None:
        if queue.subscriber is None or not queue.messages or queue.in_flight is not None:
            return
        message_id, body = queue.messages[0]
        queue.in_flight = message_id
        delivery = Delivery(queue.recipient_id, message_id, body)
        self.history.append(delivery)
        queue.subscriber(delivery)

    def redeliver(self, recipient_id: bytes) -> None:
        """Push the head message again, as a relay does after a reconnection."""
        queue = self.queues[recipient_id]
        queue.in_flight = None
        self._deliver(queue)

    async def acknowledge(self, queue: ReceiveQueue, message_id: bytes) -> None:
        self._check_up()
        target = self.queues[queue.recipient_id]
        if not target.messages or target.messages[0][0] != message_id:
            raise RelayUnavailable("NO_MSG")
        target.messages.popleft()
        target.in_flight = None
        self._deliver(target)

    async def delete_queue(self, queue: ReceiveQueue) -> None:
        self._check_up()
        self.queues.pop(queue.recipient_id)

    async def take_once(self, queue: ReceiveQueue) -> bytes | None:
        self._check_up()
        target = self.queues.pop(queue.recipient_id, None)
        return target.messages[0][1] if target is not None and target.messages else None

    def drop_subscribers(self) -> None:
        """Forget every subscriber, as a relay does when a client's connections die
        (a wiped machine); messages in flight go to the next subscriber."""
        for queue in self.queues.values():
            queue.subscriber = queue.in_flight = None

    async def close(self) -> None:
        """Nothing to close in memory."""
