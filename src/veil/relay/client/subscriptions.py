"""What a relay client receives: its subscriptions and the events they produce.

:class:`RelaySubscriptions` is the receiving half of
:class:`~veil.relay.client.relay_client.RelayClient`.
It keeps the queues the client subscribed to (across reconnections), turns the
relay's pushes into :data:`~veil.relay.client.events.RelayEvent` values, and
acknowledges a pushed message that can never be decrypted so the queue moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

from veil.crypto import AuthenticationFailed
from veil.errors import ProtocolError
from veil.relay.client.events import (
    ConnectionRestored,
    MessageDiscarded,
    MessageReceived,
    RecipientQueue,
    RelayEvent,
    SubscriptionLost,
)
from veil.relay.client.link import RelayLink
from veil.relay.client.session import ClientSession, Reply, open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import CommandError, UnexpectedResponse

__all__ = ["RelaySubscriptions", "expect", "open_received"]

_log = logging.getLogger("veil.relay.client")
_Response = TypeVar("_Response", bound=rsp.Response)


class RelaySubscriptions:
    """Subscriptions over one :class:`RelayLink`, and the events they deliver in order."""

    def __init__(self, link: RelayLink, delivery_window: int) -> None:
        self._link = link
        self._delivery_window = delivery_window
        self._subscriptions: dict[bytes, RecipientQueue] = {}
        self._events: asyncio.Queue[RelayEvent] = asyncio.Queue()
        self._background: set[asyncio.Task[None]] = set()
        """Acknowledgements of discarded messages, kept referenced until they finish."""

    @property
    def subscriptions(self) -> tuple[RecipientQueue, ...]:
        """Queues the client receives from (kept across reconnections)."""
        return tuple(self._subscriptions.values())

    async def events(self) -> AsyncIterator[RelayEvent]:
        """Messages and notices, in arrival order, until the client is closed."""
        while True:
            yield await self._events.get()

    async def close(self) -> None:
        """Stop acknowledging discarded messages."""
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def subscribe(self, queue: RecipientQueue) -> None:
        """``SUB``: receive ``queue``'s messages as :class:`MessageReceived` events."""
        # Registered first: the first MSG may arrive in the same block as the OK.
        self._subscriptions[queue.recipient_id] = queue
        try:
            response = await self._link.request(
                lambda session: session.recipient_command(
                    self._subscribe_command(session), queue.recipient_id, queue.keys
                )
            )
            expect(response, rsp.Ok)
        except CommandError:
            self._subscriptions.pop(queue.recipient_id, None)
            raise

    async def subscribe_all(self, queues: Sequence[RecipientQueue]) -> list[RecipientQueue]:
        """Subscribe to many queues at once (they share blocks); return those refused."""
        results = await asyncio.gather(
            *(self.subscribe(queue) for queue in queues), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, CommandError):
                raise result
        return [q for q, r in zip(queues, results, strict=True) if isinstance(r, CommandError)]

    def forget(self, queue: RecipientQueue) -> None:
        """Stop expecting ``queue``'s messages (it was deleted)."""
        self._subscriptions.pop(queue.recipient_id, None)

    async def resubscribe(self) -> None:
        """After a reconnection: say so, subscribe every queue again, report those refused."""
        queues = list(self._subscriptions.values())
        self._events.put_nowait(ConnectionRestored(len(queues)))
        for queue in await self.subscribe_all(queues):
            self._events.put_nowait(SubscriptionLost(queue))

    def take_push(self, reply: Reply) -> None:
        """A relay push (``MSG`` or ``END``) for one of our queues."""
        queue = self._subscriptions.get(reply.entity_id)
        if queue is None:
            return  # a push for a queue we dropped meanwhile; nothing to do
        if isinstance(reply.response, rsp.Message):
            try:
                self._events.put_nowait(open_received(queue, reply.response))
            except (AuthenticationFailed, UnexpectedResponse):
                self._discard(queue, reply.response.message_id)
        elif isinstance(reply.response, rsp.SubscriptionEnded):
            del self._subscriptions[reply.entity_id]
            self._events.put_nowait(SubscriptionLost(queue))

    def _subscribe_command(self, session: ClientSession) -> cmd.Subscribe:
        """``SUB`` with our delivery window, if the session's version knows windows."""
        if session.version < cmd.DELIVERY_WINDOW_VERSION:
            return cmd.Subscribe()
        return cmd.Subscribe(self._delivery_window)

    def _discard(self, queue: RecipientQueue, message_id: bytes) -> None:
        """Acknowledge a message that can never be read, so the queue moves on, and say so."""
        _log.warning("relay.undecryptable_message")
        self._events.put_nowait(MessageDiscarded(queue, message_id))
        task = asyncio.create_task(self._acknowledge_discarded(queue, message_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _acknowledge_discarded(self, queue: RecipientQueue, message_id: bytes) -> None:
        try:
            response = await self._link.request(
                lambda s: s.recipient_command(
                    cmd.Acknowledge(message_id), queue.recipient_id, queue.keys
                )
            )
            expect(response, rsp.Ok)
        except ProtocolError as exc:  # a resubscription redelivers it, and we try again
            _log.info("relay.discarded_message_not_acknowledged: %s", type(exc).__name__)


def open_received(queue: RecipientQueue, message: rsp.Message) -> MessageReceived:
    """Decrypt a delivered ``MSG`` of ``queue`` into the event the client reports."""
    opened = open_delivery(queue.delivery_key, message)
    return MessageReceived(queue, opened.message_id, opened.timestamp, opened.flags, opened.body)


def expect(response: rsp.Response, kind: type[_Response]) -> _Response:
    """``response`` as a ``kind``; :class:`UnexpectedResponse` if it is another one."""
    if not isinstance(response, kind):
        raise UnexpectedResponse(f"expected {kind.__name__}, got {type(response).__name__}")
    return response
