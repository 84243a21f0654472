"""What the agent needs from a store, declared by the agent and implemented above it.

The agent persists three things: each connection's state, the outbox of relay
actions waiting to run, and the contact address. It does not own a database: the
layer above (the chat store) implements these protocols, and the caller opens the
transaction — so an application commits its own rows in the same transaction as
the agent state that produced them, and the agent never sees those rows.

The records below are the agent's; their state fields are opaque bytes whose
formats the agent versions (``QueueState``, ``EnvelopeTracker``, ``Ratchet``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AddressRecord",
    "AddressRows",
    "AgentStore",
    "AgentTransaction",
    "ConnectionRecord",
    "ConnectionRows",
    "OutboxRows",
    "PendingSend",
]


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """The persisted state of one connection (a pair of one-way queues).

    ``receive_queue_id`` is the recipient id of the queue we receive on, so an
    incoming message finds its connection.
    """

    connection_id: int
    phase: str
    agent_version: int
    receive_queue_id: bytes
    ratchet_state: bytes | None
    queue_state: bytes
    envelope_state: bytes
    updated_at: float


@dataclass(frozen=True, slots=True)
class PendingSend:
    """An outbox entry waiting for the relay to accept it; retried with backoff."""

    send_id: int
    connection_id: int
    body: bytes
    attempts: int
    next_attempt_at: float
    created_at: float


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """The user's long-lived contact address: its link and its receive queue."""

    link: str
    receive_queue_id: bytes
    queue_state: bytes
    created_at: float


class ConnectionRows(Protocol):
    """Connection state, found by id or by receive queue."""

    def add(
        self,
        *,
        phase: str,
        agent_version: int,
        receive_queue_id: bytes,
        queue_state: bytes,
        envelope_state: bytes,
        now: float,
        ratchet_state: bytes | None = None,
    ) -> ConnectionRecord:
        """Insert a new connection and return it with its id."""

    def save(self, record: ConnectionRecord) -> None:
        """Write back every state field of ``record``."""

    def get(self, connection_id: int) -> ConnectionRecord:
        """The connection with this id (a ``LocalError`` if there is none)."""

    def find(self, connection_id: int) -> ConnectionRecord | None:
        """The connection with this id, or ``None``."""

    def by_receive_queue(self, receive_queue_id: bytes) -> ConnectionRecord:
        """The connection that receives on this queue."""

    def list(self) -> list[ConnectionRecord]:
        """Every connection, oldest first."""


class OutboxRows(Protocol):
    """Relay actions waiting to run; they survive restarts."""

    def enqueue(self, connection_id: int, body: bytes, now: float) -> PendingSend:
        """Queue ``body`` (already encrypted, so every retry sends the same bytes)."""

    def due(self, now: float, limit: int = 100) -> list[PendingSend]:
        """Entries whose next attempt is due, in the order they were queued."""

    def retry_later(self, send_id: int, next_attempt_at: float) -> None:
        """Count a failed attempt and schedule the next one."""

    def remove(self, send_id: int) -> None:
        """Drop an entry the relay accepted."""


class AddressRows(Protocol):
    """The contact address (at most one at a time)."""

    def create(
        self, link: str, receive_queue_id: bytes, queue_state: bytes, now: float
    ) -> AddressRecord:
        """Store a new address."""

    def get(self) -> AddressRecord | None:
        """The current address, or ``None``."""

    def save_queue_state(self, queue_state: bytes) -> None:
        """Replace the address queue's state."""

    def delete(self) -> None:
        """Delete the address."""


class AgentTransaction(Protocol):
    """The agent's rows inside one open transaction of the caller's store."""

    @property
    def connections(self) -> ConnectionRows:
        """Connection state."""

    @property
    def outbox(self) -> OutboxRows:
        """Pending relay actions."""

    @property
    def address(self) -> AddressRows:
        """The contact address."""


class AgentStore(Protocol):
    """A store that can open a transaction over the agent's rows."""

    def transaction(self) -> AbstractContextManager[AgentTransaction]:
        """Open a transaction: everything written in it commits together or not at all."""
