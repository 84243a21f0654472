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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from veil.crypto import AuthenticationFailed, RandomSource, SystemRandom
from veil.errors import ProtocolError
from veil.relay.client.connection import ClientConnection, CommandBuilder
from veil.relay.client.events import (
    ConnectionRestored,
    MessageDiscarded,
    MessageReceived,
    RecipientQueue,
    RelayEvent,
    SenderQueue,
    SubscriptionLost,
)
from veil.relay.client.session import (
    ClientSession,
    QueueKeys,
    Reply,
    open_delivery,
    recipient_delivery_key,
)
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import (
    CommandError,
    ConnectionLost,
    NoMessage,
    UnexpectedResponse,
)
from veil.relay.transport.tls import client_context

__all__ = ["DEFAULT_RECONNECT", "KEEPALIVE_INTERVAL", "Dialer", "ReconnectPolicy", "RelayClient"]

_log = logging.getLogger("veil.relay.client.relay_client")
_Response = TypeVar("_Response", bound=cmd.Response)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with jitter: delay ``n`` is ``first * factor**n`` capped at
    ``maximum``, then scaled by a random factor in ``[1 - jitter, 1]`` so that many
    clients cut off together do not all come back in the same instant."""

    first_delay: float = 0.25
    maximum_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: RandomSource) -> float:
        """Seconds to wait before reconnection attempt ``attempt`` (0-based)."""
        # The exponent is capped so a days-long outage cannot overflow the float.
        base = min(self.maximum_delay, self.first_delay * self.factor ** min(attempt, 64))
        unit = int.from_bytes(rng.random_bytes(2), "big") / 0xFFFF
        return base * (1 - self.jitter * unit)


class Dialer(Protocol):
    """Opens the TCP connection to a relay host some other way (e.g. through SOCKS5)."""

    def hosts(self, address: RelayAddress) -> tuple[str, ...]:
        """The hosts of ``address`` to try through this dialer, in order."""
        ...

    async def connect(self, host: str, port: int) -> socket.socket:
        """Return a connected socket to ``host:port``; :class:`OSError` if unreachable."""
        ...


DEFAULT_RECONNECT = ReconnectPolicy()
KEEPALIVE_INTERVAL = 60.0
"""Seconds between keepalive pings; a ping unanswered for as long closes the connection."""


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
        reconnect: ReconnectPolicy | None,
        connect_timeout: float,
        keepalive: float | None,
        delivery_window: int = 1,
        dialer: Dialer | None = None,
    ) -> None:
        self.address = address
        self._dialer = dialer
        self._rng = rng
        self._policy = reconnect
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive
        self._delivery_window = delivery_window
        self._keepalive_task: asyncio.Task[None] | None = None
        self._context = client_context()
        self._connection: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False
        self._subscriptions: dict[bytes, RecipientQueue] = {}
        self._events: asyncio.Queue[RelayEvent] = asyncio.Queue()
        self._background: set[asyncio.Task[None]] = set()
        """Acknowledgements of discarded messages, kept referenced until they finish."""

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
        client = cls(
            address,
            rng=rng or SystemRandom(),
            reconnect=reconnect,
            connect_timeout=connect_timeout,
            keepalive=keepalive,
            delivery_window=delivery_window,
            dialer=dialer,
        )
        client._adopt(await client._open())
        return client

    @property
    def connected(self) -> bool:
        """True while a verified session with the relay is up."""
        return self._connection is not None and self._connection.established

    @property
    def session(self) -> ClientSession | None:
        """The current verified session (``None`` while disconnected)."""
        connection = self._connection
        return connection.session if connection is not None and connection.established else None

    @property
    def identity_key(self) -> bytes:
        """The relay's Ed25519 identity key, as its certificate proved it."""
        return b"" if self._connection is None else self._connection.identity_key

    @property
    def subscriptions(self) -> tuple[RecipientQueue, ...]:
        """Queues this client receives from (kept across reconnections)."""
        return tuple(self._subscriptions.values())

    async def close(self) -> None:
        """Disconnect and stop reconnecting; waiting commands raise :class:`ConnectionLost`."""
        self._closed = True
        self._connected.set()  # wake commands waiting for a reconnection, so they fail
        for task in (self._reconnecting, self._keepalive_task, *self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._connection is not None:
            self._connection.close()

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- queue commands ----------------------------------------------------------

    async def create_queue(self, *, password: str | None = None) -> RecipientQueue:
        """``NEW``: make a queue with fresh keys; ``AuthFailed`` if a password is wrong."""
        keys = QueueKeys.generate(self._rng)
        secret = b"" if password is None else password.encode()
        response = await self._request(lambda session: session.create_queue(keys, secret))
        ids = _expect(response, cmd.QueueIds)
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
        # Registered first: the first MSG may arrive in the same block as the OK.
        self._subscriptions[queue.recipient_id] = queue
        try:
            await self._ok(
                lambda session: session.recipient_command(
                    self._subscribe_command(session), queue.recipient_id, queue.keys
                )
            )
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

    async def acknowledge(self, message: MessageReceived) -> None:
        """``ACK``: the message is handled; the relay deletes it and sends the next."""
        await self.acknowledge_id(message.queue, message.message_id)

    async def acknowledge_id(self, queue: RecipientQueue, message_id: bytes) -> None:
        """``ACK`` by id, for callers that kept only the queue and the message id."""
        await self._recipient(queue, cmd.Acknowledge(message_id))

    async def get(self, queue: RecipientQueue) -> MessageReceived | None:
        """``GET``: the oldest pending message without subscribing, or ``None``."""
        try:
            response = await self._request(
                lambda s: s.recipient_command(cmd.GetMessage(), queue.recipient_id, queue.keys)
            )
        except NoMessage:
            return None
        return _open(queue, _expect(response, cmd.Message))

    async def suspend(self, queue: RecipientQueue) -> None:
        """``OFF``: refuse further sends; pending messages can still be received."""
        await self._recipient(queue, cmd.SuspendQueue())

    async def delete(self, queue: RecipientQueue) -> None:
        """``DEL``: delete the queue and its pending messages."""
        await self._recipient(queue, cmd.DeleteQueue())
        self._subscriptions.pop(queue.recipient_id, None)

    async def ping(self) -> None:
        """``PING``: check that the relay answers."""
        _expect(await self._request(lambda session: session.ping()), cmd.Pong)

    async def exchange(self, build: Callable[[], tuple[bytes, bytes]]) -> bytes:
        """Send a transmission built elsewhere; return the body of the relay's reply.

        For private routing (:mod:`veil.routing`), which reads its replies, ``ERR``
        included, itself. ``build`` returns ``(correlation_id, transmission)`` and
        runs once a connection is up. Raises :class:`ConnectionLost` as commands do.
        """
        while True:
            connection = self._connection
            if connection is not None and connection.established:
                return await connection.submit_raw(*build())
            if self._closed or self._policy is None:
                raise ConnectionLost("not connected to the relay")
            await self._connected.wait()

    def submit_raw(self, correlation_id: bytes, transmission: bytes) -> asyncio.Future[bytes]:
        """Like :meth:`exchange` without waiting: :class:`ConnectionLost` unless connected.

        A relay acting as a proxy uses it to forward on its shared sessions.
        """
        connection = self._connection
        if connection is None or not connection.established:
            raise ConnectionLost("not connected to the relay")
        return connection.submit_raw(correlation_id, transmission)

    async def events(self) -> AsyncIterator[RelayEvent]:
        """Messages and notices, in arrival order, until the client is closed."""
        while True:
            yield await self._events.get()

    # -- internals -----------------------------------------------------------------

    async def _recipient(self, queue: RecipientQueue, command: cmd.Command) -> None:
        await self._ok(
            lambda session: session.recipient_command(command, queue.recipient_id, queue.keys)
        )

    def _subscribe_command(self, session: ClientSession) -> cmd.Subscribe:
        """``SUB`` with our delivery window, if the session's version knows windows."""
        if session.version < cmd.DELIVERY_WINDOW_VERSION:
            return cmd.Subscribe()
        return cmd.Subscribe(self._delivery_window)

    async def _ok(self, build: CommandBuilder) -> None:
        _expect(await self._request(build), cmd.Ok)

    async def _request(self, build: CommandBuilder) -> cmd.Response:
        """Send a command now, or once reconnected; commands wait while the relay is away."""
        while True:
            connection = self._connection
            if connection is not None and connection.established:
                return await connection.submit(build)
            if self._closed or self._policy is None:
                raise ConnectionLost("not connected to the relay")
            await self._connected.wait()

    async def _open(self) -> ClientConnection:
        """Connect to the first host of the address that answers and proves its identity.

        A host that cannot be reached is skipped; any other failure (an identity
        mismatch above all) is raised at once.
        """
        failure = ConnectionLost("relay address has only .onion hosts: configure SOCKS5 (Tor)")
        if self._dialer is None:
            hosts = self.address.hosts_in_order(through_socks=False)
        else:
            hosts = self._dialer.hosts(self.address)
        for host in hosts:
            try:
                return await self._open_host(host)
            except (OSError, TimeoutError, ConnectionLost) as exc:
                failure = ConnectionLost(f"cannot reach {host}: {type(exc).__name__}")
        raise failure

    async def _open_host(self, host: str) -> ClientConnection:
        loop = asyncio.get_running_loop()
        connection: ClientConnection | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._dialer is None:
                    _, connection = await loop.create_connection(
                        self._make_connection, host, self.address.port
                    )
                else:
                    sock = await self._dialer.connect(host, self.address.port)
                    _, connection = await loop.create_connection(self._make_connection, sock=sock)
                await connection.ready
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return connection

    def _make_connection(self) -> ClientConnection:
        pinned = self.address.fingerprint_digest
        return ClientConnection(self._context, pinned, self._rng, self._on_push, self._on_lost)

    def _adopt(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._connected.set()
        if self._keepalive is not None and self._keepalive_task is None:
            self._keepalive_task = asyncio.create_task(self._keep_alive(self._keepalive))

    async def _keep_alive(self, interval: float) -> None:
        """Ping every ``interval``; close a connection whose relay stays silent as long."""
        while not self._closed:
            await asyncio.sleep(interval)
            connection = self._connection
            if connection is None or not connection.established:
                continue  # a reconnection is under way
            try:
                async with asyncio.timeout(interval):
                    await connection.submit(lambda session: session.ping())
            except TimeoutError:
                connection.close(TimeoutError("relay did not answer a keepalive ping"))
            except ProtocolError:
                continue  # the connection ended meanwhile; reconnection takes over

    def _on_lost(self, connection: ClientConnection) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        self._connected.clear()
        # While a reconnection is under way its loop notices the loss itself.
        if not self._closed and self._policy is not None and self._reconnecting is None:
            self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        assert self._policy is not None
        attempt = 0
        try:
            while not self._closed:
                await asyncio.sleep(self._policy.delay(attempt, self._rng))
                attempt += 1
                try:
                    self._adopt(await self._open())
                    queues = list(self._subscriptions.values())
                    self._events.put_nowait(ConnectionRestored(len(queues)))
                    # Bounded: if this connection drops before the SUBs go out, they would
                    # wait for a reconnection that only this loop can make.
                    async with asyncio.timeout(self._connect_timeout):
                        failed = await self.subscribe_all(queues)
                except Exception as exc:
                    # Unreachable, impostor, bad hello, or a bug: whatever it was, a
                    # client that stops trying never comes back, so back off and retry.
                    if isinstance(exc, ProtocolError):
                        _log.info("relay reconnection failed: %s", type(exc).__name__)
                    else:
                        _log.exception("relay reconnection failed unexpectedly")
                    self._drop_connection()
                    continue
                for queue in failed:
                    self._events.put_nowait(SubscriptionLost(queue))
                return
        finally:
            self._reconnecting = None  # so the next loss starts a new loop, however this ended

    def _drop_connection(self) -> None:
        """Forget and close the current connection without starting a reconnection."""
        connection, self._connection = self._connection, None
        self._connected.clear()
        if connection is not None:
            connection.close()

    def _on_push(self, reply: Reply) -> None:
        queue = self._subscriptions.get(reply.entity_id)
        if queue is None:
            return  # a push for a queue we dropped meanwhile; nothing to do
        if isinstance(reply.response, cmd.Message):
            try:
                self._events.put_nowait(_open(queue, reply.response))
            except (AuthenticationFailed, UnexpectedResponse):
                self._discard(queue, reply.response.message_id)
        elif isinstance(reply.response, cmd.SubscriptionEnded):
            del self._subscriptions[reply.entity_id]
            self._events.put_nowait(SubscriptionLost(queue))

    def _discard(self, queue: RecipientQueue, message_id: bytes) -> None:
        """Acknowledge a message that can never be read, so the queue moves on, and say so."""
        _log.warning("relay.undecryptable_message")
        self._events.put_nowait(MessageDiscarded(queue, message_id))
        task = asyncio.create_task(self._acknowledge_discarded(queue, message_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _acknowledge_discarded(self, queue: RecipientQueue, message_id: bytes) -> None:
        try:
            await self.acknowledge_id(queue, message_id)
        except ProtocolError as exc:  # a resubscription redelivers it, and we try again
            _log.info("relay.discarded_message_not_acknowledged: %s", type(exc).__name__)


def _open(queue: RecipientQueue, message: cmd.Message) -> MessageReceived:
    opened = open_delivery(queue.delivery_key, message)
    return MessageReceived(queue, opened.message_id, opened.timestamp, opened.flags, opened.body)


def _expect(response: cmd.Response, kind: type[_Response]) -> _Response:
    if not isinstance(response, kind):
        raise UnexpectedResponse(f"expected {kind.__name__}, got {type(response).__name__}")
    return response
