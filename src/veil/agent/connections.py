"""Loading and saving connections: the store's records to sans-I/O :class:`Connection`
values and back, with a cache that needs no eviction.

A connection never changes in place (each input returns a new one), so a cached
value is always the state some record held. The cache is used only while the
stored record is byte for byte the one it came from: after a rollback, or after
another process on the same profile (a ``veil send`` beside a ``veil chat``) moved
the ratchet on, the record differs and the connection is loaded again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from veil.agent.connection import Connection, Phase
from veil.agent.envelope import EnvelopeTracker
from veil.agent.queues import QueueState, ReceiveQueue
from veil.agent.store import AgentTransaction, ConnectionRecord
from veil.crypto import RandomSource
from veil.ratchet.double_ratchet import Ratchet

__all__ = ["ConnectionCache"]


class ConnectionCache:
    """Connections by id, as last loaded or saved."""

    def __init__(self, profile: bytes, rng: RandomSource, clock: Callable[[], float]) -> None:
        self._profile = profile
        self._rng = rng
        self._clock = clock
        self._loaded: dict[int, tuple[ConnectionRecord, Connection]] = {}

    def load(self, record: ConnectionRecord) -> Connection:
        """The connection ``record`` holds."""
        cached = self._loaded.get(record.connection_id)
        if cached is not None and cached[0] == record:
            return cached[1]
        ratchet = None
        if record.ratchet_state is not None:
            ratchet = Ratchet.from_bytes(record.ratchet_state, self._rng)
        connection = Connection(
            Phase(record.phase),
            QueueState.from_bytes(record.queue_state),
            self._profile,
            record.agent_version,
            ratchet,
            EnvelopeTracker.from_bytes(record.envelope_state),
        )
        self._loaded[record.connection_id] = (record, connection)
        return connection

    def add(self, tx: AgentTransaction, connection: Connection) -> int:
        """Store a new connection; return its id."""
        record = tx.connections.add(
            phase=connection.phase.value,
            agent_version=connection.agent_version,
            receive_queue_id=connection.queues.receive.recipient_id,
            queue_state=connection.queues.to_bytes(),
            envelope_state=connection.tracker.to_bytes(),
            ratchet_state=None if connection.ratchet is None else connection.ratchet.to_bytes(),
            now=self._clock(),
        )
        self._loaded[record.connection_id] = (record, connection)
        return record.connection_id

    def save(self, tx: AgentTransaction, record: ConnectionRecord, connection: Connection) -> None:
        """Write ``connection`` as the new state of ``record``'s connection."""
        saved = replace(
            record,
            phase=connection.phase.value,
            agent_version=connection.agent_version,
            ratchet_state=None if connection.ratchet is None else connection.ratchet.to_bytes(),
            queue_state=connection.queues.to_bytes(),
            envelope_state=connection.tracker.to_bytes(),
            updated_at=self._clock(),
        )
        tx.connections.save(saved)
        self._loaded[record.connection_id] = (saved, connection)

    @staticmethod
    def receive_queues(tx: AgentTransaction) -> dict[bytes, ReceiveQueue]:
        """Every connection's receive queue, by recipient id."""
        return {
            record.receive_queue_id: QueueState.from_bytes(record.queue_state).receive
            for record in tx.connections.list()
        }
