"""The asyncio relay client: queues, sends, subscriptions and reconnection.

Typical use::

    client = await RelayClient.connect("veil://...@relay.example")
    queue = await client.create_queue()              # recipient side
    await client.subscribe(queue)
    sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(rng))
    await client.secure_queue(queue, sender.auth.public)
    await client.send(sender, b"hello")               # returns once durable
    async for event in client.events():
        if isinstance(event, MessageReceived):
            await client.acknowledge(event)           # the relay then sends the next

Commands issued in the same event-loop turn share blocks, so subscribing to many
queues costs a few blocks, not one block per queue. If the connection drops, the
client reconnects with exponential backoff and jitter, resubscribes every queue
and reports :class:`ConnectionRestored`; commands in flight at that moment raise
:class:`ConnectionLost` (repeat them: every command but ``NEW`` is idempotent or
detectably repeated).

The work is split by responsibility: :class:`~veil.relay.client.link.RelayLink`
keeps the connection up, :class:`~veil.relay.client.subscriptions.RelaySubscriptions` holds the
subscriptions and their events, and this class issues the queue commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from veil.crypto import RandomSource, SystemRandom
from veil.relay.client.connection import CommandBuilder
from veil.relay.client.events import MessageReceived, RecipientQueue, RelayEvent, SenderQueue
from veil.relay.client.link import (
    DEFAULT_RECONNECT,
    KEEPALIVE_INTERVAL,
    Dialer,
    LinkOptions,
    ReconnectPolicy,
    RelayLink,
)
from veil.relay.client.log_client import GroupLogClient
from veil.relay.client.session import (
    ClientSession,
    QueueKeys,
    RawResponse,
    Reply,
    recipient_delivery_key,
)
from veil.relay.client.subscriptions import RelaySubscriptions, expect, open_received
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import NoMessage
from veil.relay.protocol.log_commands import LOG_RESPONSE_TAGS

__all__ = ["DEFAULT_RECONNECT", "KEEPALIVE_INTERVAL", "Dialer", "ReconnectPolicy", "RelayClient"]


class RelayClient:
    """A connection to one relay, pinned to its identity, that survives drops.

    Use :meth:`connect`. ``reconnect=None`` turns reconnection off: commands then
    raise :class:`ConnectionLost` as soon as the connection is gone. With a
    policy, commands issued while the relay is away wait for the reconnection.
    """

    def __init__(
        self,
        address: RelayAddress,
        *,
        rng: RandomSource,
        options: LinkOptions,
        delivery_window: int = 1,
    ) -> None:
        self.address = address
        self._rng = rng
        self._link = RelayLink(address, rng, options, self._take_push, self._resubscribe)
        self._subscriptions = RelaySubscriptions(self._link, delivery_window)
        self.logs = GroupLogClient(self._link, rng, delivery_window)
        """Group-log commands and subscriptions over this connection (relay version 4)."""

    @classmethod
    async def connect(
        cls,
        address: RelayAddress | str,
        *,
        rng: RandomSource | None = None,
        reconnect: ReconnectPolicy | None = DEFAULT_RECONNECT,
        connect_timeout: float = 10.0,
        keepalive: float | None = KEEPALIVE_INTERVAL,
        delivery_window: int = 1,
        dialer: Dialer | None = None,
    ) -> RelayClient:
        """Connect to the relay at ``address``, trying its hosts in order.

        ``connect_timeout`` bounds each host's TCP, TLS and hello exchange.
        ``keepalive`` pings the relay that often, so a silently dead connection
        (a NAT that forgot it, a frozen relay) is noticed and, with ``reconnect``,
        replaced; ``None`` turns pings off. ``delivery_window`` is how many
        unacknowledged messages each subscription may have in flight (the relay may
        grant fewer; acknowledge them in order); ``dialer`` opens every TCP connection
        (SOCKS5: :class:`veil.routing.socks.SocksConnector`); TLS runs over it.
        Raises :class:`InvalidAddress` for a malformed address string,
        :class:`IdentityMismatch` if the relay is not the one the address pins, or
        :class:`ConnectionLost` if no host answers.
        """
        if isinstance(address, str):
            address = RelayAddress.parse(address)
        options = LinkOptions(reconnect, connect_timeout, keepalive, dialer)
        client = cls(
            address, rng=rng or SystemRandom(), options=options, delivery_window=delivery_window
        )
        await client._link.open()
        return client

    @property
    def connected(self) -> bool:
        """True while a verified session with the relay is up."""
        return self._link.connected

    @property
    def session(self) -> ClientSession | None:
        """The current verified session (``None`` while disconnected)."""
        return self._link.session

    @property
    def identity_key(self) -> bytes:
        """The relay's Ed25519 identity key, as its certificate proved it."""
        return self._link.identity_key

    @property
    def subscriptions(self) -> tuple[RecipientQueue, ...]:
        """Queues this client receives from (kept across reconnections)."""
        return self._subscriptions.subscriptions

    async def close(self) -> None:
        """Disconnect and stop reconnecting; waiting commands raise :class:`ConnectionLost`."""
        await self._link.close()
        await self._subscriptions.close()

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- queue commands ----------------------------------------------------------

    async def create_queue(self, *, password: str | None = None) -> RecipientQueue:
        """``NEW``: make a queue with fresh keys; ``AuthFailed`` if a password is wrong."""
        keys = QueueKeys.generate(self._rng)
        secret = b"" if password is None else password.encode()
        response = await self._link.request(lambda session: session.create_queue(keys, secret))
        ids = expect(response, rsp.QueueIds)
        delivery = recipient_delivery_key(keys, ids.relay_dh_key)
        return RecipientQueue(ids.recipient_id, ids.sender_id, keys, delivery)

    async def secure_queue(self, queue: RecipientQueue, sender_auth_key: bytes) -> None:
        """``KEY``: allow only ``sender_auth_key`` to send to ``queue``."""
        await self._ok(lambda s: s.secure(queue.recipient_id, queue.keys, sender_auth_key))

    async def secure_as_sender(self, queue: SenderQueue) -> None:
        """``SKEY``: the sender secures a fresh queue with its own key (fast handshake)."""
        await self._ok(lambda session: session.sender_secure(queue.sender_id, queue.auth))

    async def send(self, queue: SenderQueue, body: bytes, *, flags: int = 0) -> None:
        """``SEND``: returns once the relay stored ``body`` durably.

        Raises :class:`QuotaExceeded` while the queue is full (retry later).
        """
        await self._ok(lambda s: s.send(queue.sender_id, queue.auth, body, flags))

    async def subscribe(self, queue: RecipientQueue) -> None:
        """``SUB``: receive ``queue``'s messages as :class:`MessageReceived` events."""
        await self._subscriptions.subscribe(queue)

    async def subscribe_all(self, queues: Sequence[RecipientQueue]) -> list[RecipientQueue]:
        """Subscribe to many queues at once (they share blocks); return those refused."""
        return await self._subscriptions.subscribe_all(queues)

    async def acknowledge(self, message: MessageReceived) -> None:
        """``ACK``: the message is handled; the relay deletes it and sends the next."""
        await self.acknowledge_id(message.queue, message.message_id)

    async def acknowledge_id(self, queue: RecipientQueue, message_id: bytes) -> None:
        """``ACK`` by id, for callers that kept only the queue and the message id."""
        await self._recipient(queue, cmd.Acknowledge(message_id))

    async def get(self, queue: RecipientQueue) -> MessageReceived | None:
        """``GET``: the oldest pending message without subscribing, or ``None``."""
        try:
            response = await self._link.request(
                lambda s: s.recipient_command(cmd.GetMessage(), queue.recipient_id, queue.keys)
            )
        except NoMessage:
            return None
        return open_received(queue, expect(response, rsp.Message))

    async def suspend(self, queue: RecipientQueue) -> None:
        """``OFF``: refuse further sends; pending messages can still be received."""
        await self._recipient(queue, cmd.SuspendQueue())

    async def delete(self, queue: RecipientQueue) -> None:
        """``DEL``: delete the queue and its pending messages."""
        await self._recipient(queue, cmd.DeleteQueue())
        self._subscriptions.forget(queue)

    async def ping(self) -> None:
        """``PING``: check that the relay answers."""
        expect(await self._link.request(lambda session: session.ping()), rsp.Pong)

    async def exchange(self, build: Callable[[], tuple[bytes, bytes]]) -> bytes:
        """Send a transmission built elsewhere; return the body of the relay's reply.

        For private routing (:mod:`veil.routing`), which reads its replies, ``ERR``
        included, itself. ``build`` returns ``(correlation_id, transmission)`` and
        runs once a connection is up. Raises :class:`ConnectionLost` as commands do.
        """
        return await self._link.exchange(build)

    def submit_raw(self, correlation_id: bytes, transmission: bytes) -> asyncio.Future[bytes]:
        """Like :meth:`exchange` without waiting: :class:`ConnectionLost` unless connected.

        A relay acting as a proxy uses it to forward on its shared sessions.
        """
        return self._link.submit_raw(correlation_id, transmission)

    def events(self) -> AsyncIterator[RelayEvent]:
        """Messages and notices, in arrival order, until the client is closed."""
        return self._subscriptions.events()

    # -- internals -----------------------------------------------------------------

    async def _recipient(self, queue: RecipientQueue, command: cmd.Command) -> None:
        await self._ok(
            lambda session: session.recipient_command(command, queue.recipient_id, queue.keys)
        )

    async def _ok(self, build: CommandBuilder) -> None:
        expect(await self._link.request(build), rsp.Ok)

    def _take_push(self, reply: Reply) -> None:
        if isinstance(reply.response, RawResponse) and reply.body[0] in LOG_RESPONSE_TAGS:
            self.logs.take_push(reply)
        else:
            self._subscriptions.take_push(reply)

    async def _resubscribe(self) -> None:
        await self._subscriptions.resubscribe()
        await self.logs.resubscribe()
