"""What the relay protocol keeps per connection, sans I/O."""

from __future__ import annotations

from veil.crypto import X25519KeyPair
from veil.relay.protocol.errors import TooManyQueues
from veil.relay.protocol.handshake import RELAY_VERSIONS
from veil.relay.protocol.queue_responses import Response, encode_response
from veil.relay.protocol.transmission import encode_reply
from veil.wire.blocks import BlockBatcher

__all__ = ["SessionState"]


class SessionState:
    """One connection: its session id and key, subscriptions, MAC-key cache and outbox.

    Answers and pushes wait in the outbox, packed into blocks, until the service
    takes them with :meth:`data_to_send`.
    """

    __slots__ = (
        "_max_cached",
        "_outbox",
        "auth_keys",
        "closed",
        "queues_created",
        "session_id",
        "session_key",
        "subscriptions",
        "version",
    )

    def __init__(
        self,
        session_id: bytes,
        session_key: X25519KeyPair,
        max_cached_auth_keys: int,
    ) -> None:
        self.session_id = session_id
        self.session_key = session_key
        self.subscriptions: set[bytes] = set()
        self.auth_keys: dict[bytes, bytes] = {}
        self.closed = False
        self.queues_created = 0
        """``NEW`` commands accepted on this connection (committed or committing)."""
        self.version = RELAY_VERSIONS.maximum
        """The relay protocol version agreed in the hello (set once it arrives), which
        says which command sets this connection may use."""
        self._max_cached = max_cached_auth_keys
        self._outbox = BlockBatcher()

    def remember_auth_key(self, auth_key: bytes, mac_key: bytes) -> None:
        """Cache a verified MAC key, evicting the oldest entry when the cache is full."""
        if len(self.auth_keys) >= self._max_cached:
            del self.auth_keys[next(iter(self.auth_keys))]
        self.auth_keys[auth_key] = mac_key

    def reserve_queue(self, limit: int) -> None:
        """Count one more ``NEW``; :class:`TooManyQueues` once ``limit`` are counted."""
        if self.queues_created >= limit:
            raise TooManyQueues("this connection created its maximum of queues")
        self.queues_created += 1

    @property
    def carrier(self) -> SessionState:
        """The session whose connection carries this one's answers: itself, here."""
        return self

    def enqueue(self, correlation_id: bytes, entity_id: bytes, response: Response) -> None:
        """Queue one response or push for the next :meth:`data_to_send`."""
        self.enqueue_body(correlation_id, entity_id, encode_response(response))

    def enqueue_body(self, correlation_id: bytes, entity_id: bytes, body: bytes) -> None:
        """Queue an already encoded response (a private-routing one)."""
        self._outbox.add(encode_reply(correlation_id, entity_id, body))

    def data_to_send(self) -> list[bytes]:
        """Take every queued transmission, packed into blocks."""
        return self._outbox.drain()
