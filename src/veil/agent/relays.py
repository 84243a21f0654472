"""What the agent runtime needs from relays, as one small interface.

:class:`RelayPort` is the seam between the agent and the network: the runtime
speaks only in the agent's own queue types (:class:`~veil.agent.queues.ReceiveQueue`,
:class:`~veil.agent.queues.SendQueue`), and :mod:`veil.agent.relay_pool` implements
it over :class:`veil.relay.client.relay_client.RelayClient`, one client per relay address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from veil.agent.errors import RelayUnavailable
from veil.agent.queues import ReceiveQueue, SendQueue

__all__ = ["Delivery", "RelayPort", "RelayUnavailable"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message delivered on a receive queue (already decrypted by the relay layer)."""

    recipient_id: bytes
    message_id: bytes
    body: bytes


class RelayPort(Protocol):
    """Relay operations the agent runs, each on the relay the queue lives on."""

    async def create_queue(self, relay: str) -> ReceiveQueue:
        """``NEW`` on ``relay``: a fresh queue with fresh keys."""
        ...

    async def secure_own_queue(self, queue: ReceiveQueue, sender_auth_public: bytes) -> None:
        """``KEY``: let the holder of ``sender_auth_public`` send to our queue."""
        ...

    async def secure_peer_queue(self, queue: SendQueue) -> None:
        """``SKEY``: secure the peer's queue with our sender key (idempotent)."""
        ...

    async def send(self, queue: SendQueue, body: bytes) -> None:
        """``SEND``: returns once the relay has stored the message durably."""
        ...

    async def subscribe(
        self, queues: Sequence[ReceiveQueue], on_delivery: Callable[[Delivery], None]
    ) -> None:
        """``SUB`` to ``queues``; each message that arrives is passed to ``on_delivery``.

        Deliveries of one queue arrive in order; the relay keeps at most a delivery
        window of them unacknowledged and sends the next as each is acknowledged.
        After a reconnection (the client resubscribes by itself) the relay sends the
        unacknowledged ones again, so the same message may arrive twice. A queue
        subscribed already is left as it is (see :meth:`resubscribe`).
        """
        ...

    async def resubscribe(self, queues: Sequence[ReceiveQueue]) -> None:
        """``SUB`` again to queues subscribed already: the relay sends every message
        still unacknowledged again, oldest first (to where ``subscribe`` sends them).

        For messages that arrived but could not be committed: until they are
        acknowledged, the relay sends nothing more on their queue.
        """
        ...

    async def acknowledge(self, queue: ReceiveQueue, message_id: bytes) -> None:
        """``ACK``: the message is committed locally; the relay may drop it."""
        ...

    async def delete_queue(self, queue: ReceiveQueue) -> None:
        """``DEL``: remove the queue and everything in it."""
        ...

    async def take_once(self, queue: ReceiveQueue) -> bytes | None:
        """``GET`` the message waiting on a queue we were given the keys of, then
        ``DEL`` the queue (a short link's invitation); ``None`` if it is gone."""
        ...

    async def close(self) -> None:
        """Close every relay connection."""
        ...
