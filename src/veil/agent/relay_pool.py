"""The agent's relays: one :class:`~veil.relay.client.relay_client.RelayClient` per relay address.

:class:`RelayPool` implements :class:`~veil.agent.relays.RelayPort`. Clients are
opened on first use and kept; each reconnects and resubscribes by itself. Every
relay failure — unreachable, connection lost mid-command, a refused command —
surfaces as :class:`~veil.agent.relays.RelayUnavailable`, which the outbox answers
by retrying later.

Sending never shares a TLS session with receiving (review finding F4): commands
on our own queues (``NEW``, ``KEY``, ``SUB``, ``ACK``, ``DEL``) use one client per
relay, ``SKEY`` and ``SEND`` to peers' queues another, so a relay cannot link the
queues a user receives on to the queues the user sends to. With
``isolate_contacts`` every peer queue gets a client of its own (one TLS session
per contact per relay: more connections and handshakes, in exchange for the relay
not linking a user's contacts to each other either).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from veil.agent.queues import ReceiveQueue, SendQueue
from veil.agent.relays import Delivery, RelayUnavailable
from veil.crypto import RandomSource, X25519KeyPair
from veil.relay.client.events import MessageReceived, RecipientQueue, SenderQueue
from veil.relay.client.relay_client import Dialer, RelayClient
from veil.relay.client.session import QueueKeys
from veil.relay.protocol.errors import AuthFailed, RelayError

__all__ = ["COMMAND_TIMEOUT_SECONDS", "DELIVERY_WINDOW", "RelayPool"]


#: A command the relay has not answered in this time counts as failed (and is retried).
COMMAND_TIMEOUT_SECONDS = 10.0
#: Unacknowledged messages in flight per subscribed queue: the runtime commits what
#: arrived together in one transaction, so a wider window means fewer commits.
DELIVERY_WINDOW = 32
_RECEIVING, _SENDING = b"receiving", b"sending"  # client roles (peer sender ids are 24 bytes)
_TAKING = b"taking"  # a short link's fetch never shares a session with our queues
#: Relay-layer views of our queues kept ready (building one costs two X25519 key loads).
_QUEUE_VIEW_CACHE = 4096


@contextlib.asynccontextmanager
async def _relay_failures(relay: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT_SECONDS):
            yield
    except (RelayError, OSError, TimeoutError) as exc:
        raise RelayUnavailable(
            f"relay {relay} is unavailable ({type(exc).__name__}: {exc}); check that it runs "
            "and try again (messages you send meanwhile wait in your encrypted outbox)"
        ) from exc


@functools.lru_cache(maxsize=_QUEUE_VIEW_CACHE)
def _recipient_queue(queue: ReceiveQueue) -> RecipientQueue:
    keys = QueueKeys(X25519KeyPair(queue.recipient_auth_key), X25519KeyPair(queue.recipient_dh_key))
    return RecipientQueue(queue.recipient_id, queue.sender_id, keys, queue.delivery_key)


@functools.lru_cache(maxsize=_QUEUE_VIEW_CACHE)
def _sender_queue(queue: SendQueue) -> SenderQueue:
    return SenderQueue(queue.address.sender_id, X25519KeyPair(queue.sender_auth_key))


def _by_relay(queues: Sequence[ReceiveQueue]) -> dict[str, list[ReceiveQueue]]:
    by_relay: dict[str, list[ReceiveQueue]] = {}
    for queue in queues:
        by_relay.setdefault(queue.relay, []).append(queue)
    return by_relay


class RelayPool:
    """Lazily opened relay clients, keyed by relay address."""

    def __init__(
        self,
        rng: RandomSource,
        *,
        connect_timeout: float = 5.0,
        dialer: Dialer | None = None,
        isolate_contacts: bool = False,
        passwords: Mapping[str, str] | None = None,
    ) -> None:
        self._rng = rng
        self._connect_timeout = connect_timeout
        self._dialer = dialer
        self._isolate_contacts = isolate_contacts
        self._passwords = dict(passwords or {})
        """Private relays' passwords by relay address, sent with ``NEW``."""
        self._clients: dict[tuple[str, bytes], RelayClient] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()

    async def _client(self, relay: str, role: bytes = _RECEIVING) -> RelayClient:
        """The client for ``relay`` in ``role``: :data:`_RECEIVING` for our own queues,
        anything else names a sending session (shared, or one per peer queue)."""
        async with self._lock:
            client = self._clients.get((relay, role))
            if client is None:
                async with _relay_failures(relay):
                    client = await RelayClient.connect(
                        relay,
                        rng=self._rng,
                        connect_timeout=self._connect_timeout,
                        delivery_window=DELIVERY_WINDOW,
                        dialer=self._dialer,
                    )
                self._clients[relay, role] = client
            return client

    def _sending_role(self, queue: SendQueue) -> bytes:
        return queue.address.sender_id if self._isolate_contacts else _SENDING

    async def client(self, relay: str) -> RelayClient:
        """The sending client for ``relay``, connected on first use (private routing
        forwards sends through it, so it never carries our subscriptions)."""
        return await self._client(relay, _SENDING)

    async def receiving_client(self, relay: str) -> RelayClient:
        """The client that holds our queues at ``relay`` (subscriptions, ``ACK``)."""
        return await self._client(relay)

    async def create_queue(self, relay: str) -> ReceiveQueue:
        """``NEW`` on ``relay``."""
        client = await self._client(relay)
        async with _relay_failures(relay):
            queue = await client.create_queue(password=self._passwords.get(relay))
        return ReceiveQueue(
            relay,
            queue.recipient_id,
            queue.sender_id,
            queue.keys.auth.private,
            queue.keys.dh.private,
            queue.delivery_key,
        )

    async def secure_own_queue(self, queue: ReceiveQueue, sender_auth_public: bytes) -> None:
        """``KEY`` on one of our queues."""
        client = await self._client(queue.relay)
        async with _relay_failures(queue.relay):
            await client.secure_queue(_recipient_queue(queue), sender_auth_public)

    async def secure_peer_queue(self, queue: SendQueue) -> None:
        """``SKEY`` on the peer's queue (the relay answers OK again for the same key)."""
        client = await self._client(queue.address.relay, self._sending_role(queue))
        async with _relay_failures(queue.address.relay):
            await client.secure_as_sender(_sender_queue(queue))

    async def send(self, queue: SendQueue, body: bytes) -> None:
        """``SEND``; returns once the relay stored it durably."""
        client = await self._client(queue.address.relay, self._sending_role(queue))
        async with _relay_failures(queue.address.relay):
            await client.send(_sender_queue(queue), body)

    async def subscribe(
        self, queues: Sequence[ReceiveQueue], on_delivery: Callable[[Delivery], None]
    ) -> None:
        """``SUB`` to every queue not subscribed yet, one batch per relay, and pump
        deliveries out."""
        for relay, group in _by_relay(queues).items():
            client = await self._client(relay)
            subscribed = {queue.recipient_id for queue in client.subscriptions}
            fresh = [_recipient_queue(q) for q in group if q.recipient_id not in subscribed]
            async with _relay_failures(relay):
                await client.subscribe_all(fresh)
            if relay not in self._pumps:
                self._pumps[relay] = asyncio.create_task(self._pump(client, on_delivery))

    async def resubscribe(self, queues: Sequence[ReceiveQueue]) -> None:
        """``SUB`` again to queues subscribed already, one batch per relay."""
        for relay, group in _by_relay(queues).items():
            client = await self._client(relay)
            async with _relay_failures(relay):
                await client.subscribe_all([_recipient_queue(queue) for queue in group])

    @staticmethod
    async def _pump(client: RelayClient, on_delivery: Callable[[Delivery], None]) -> None:
        async for event in client.events():
            if isinstance(event, MessageReceived):
                on_delivery(Delivery(event.queue.recipient_id, event.message_id, event.body))

    async def acknowledge(self, queue: ReceiveQueue, message_id: bytes) -> None:
        """``ACK`` one delivered message."""
        client = await self._client(queue.relay)
        async with _relay_failures(queue.relay):
            await client.acknowledge_id(_recipient_queue(queue), message_id)

    async def delete_queue(self, queue: ReceiveQueue) -> None:
        """``DEL`` one of our queues."""
        client = await self._client(queue.relay)
        async with _relay_failures(queue.relay):
            await client.delete(_recipient_queue(queue))

    async def take_once(self, queue: ReceiveQueue) -> bytes | None:
        """``GET`` the waiting message of a queue we were given, then ``DEL`` the queue;
        ``None`` if the relay no longer has it (the relay answers a missing queue
        with ``AuthFailed``)."""
        client = await self._client(queue.relay, _TAKING)
        recipient = _recipient_queue(queue)
        async with _relay_failures(queue.relay):
            try:
                message = await client.get(recipient)
            except AuthFailed:
                return None
            if message is not None:
                await client.delete(recipient)
        return None if message is None else message.body

    async def close(self) -> None:
        """Stop the pumps and close every client."""
        for task in self._pumps.values():
            task.cancel()
        for task in self._pumps.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self._clients.values():
            await client.close()
        self._pumps.clear()
        self._clients.clear()
