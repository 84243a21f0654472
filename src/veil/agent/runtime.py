"""The agent runtime: sans-I/O connections driven over relays and the caller's store.

:class:`Agent` puts the agent's parts together over one store and one set of
relays. Each part has one job:

* :attr:`Agent.handshakes` (:mod:`veil.agent.handshakes`) starts connections;
* :attr:`Agent.inbox` (:mod:`veil.agent.inbox`) processes what arrives;
* :attr:`Agent.outbox` (:mod:`veil.agent.outbox`) runs pending relay actions;
* :class:`Agent` itself encrypts outgoing events and repairs connections.

Every method that changes a connection takes the caller's open transaction
(:class:`~veil.agent.store.AgentTransaction`): the caller commits its own rows in
it, and runs the outbox after the commit. The agent knows nothing of what the
caller keeps; its profile is the caller's opaque bytes, and ``check_profile`` is
the caller's check of the profiles peers send (a frame with one it cannot read
is dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from veil.agent import repair_flow
from veil.agent.connection import Connection, Phase
from veil.agent.connections import ConnectionCache
from veil.agent.effects import Effects
from veil.agent.errors import UnknownConnection
from veil.agent.handshakes import Handshakes
from veil.agent.inbox import Inbox, ProfileCheck
from veil.agent.outbox import OutboxRunner
from veil.agent.queues import QueueState, ReceiveQueue
from veil.agent.relays import RelayPort, RelayUnavailable
from veil.agent.security import ConnectionSecurity, security_of
from veil.agent.store import AgentStore, AgentTransaction, ConnectionRecord
from veil.crypto import RandomSource
from veil.ratchet.security_code import SecurityCode

__all__ = ["Agent"]


class Agent:
    """One user's connections, run over relays and persisted in the caller's store."""

    def __init__(
        self,
        store: AgentStore,
        relays: RelayPort,
        profile: bytes,
        own_relays: Sequence[str],
        *,
        check_profile: ProfileCheck,
        rng: RandomSource,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._relays = relays
        self._rng = rng
        self._connections = ConnectionCache(profile, rng, clock)
        self.outbox = OutboxRunner(store, relays, self.queues_of, rng=rng, clock=clock)
        self.handshakes = Handshakes(
            store,
            relays,
            self._connections,
            self.outbox,
            profile=profile,
            own_relays=own_relays,
            rng=rng,
            clock=clock,
        )
        self.inbox = Inbox(
            store,
            relays,
            self._connections,
            self.outbox,
            check_profile=check_profile,
            rng=rng,
        )

    # -- the one timer ------------------------------------------------------------------

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` has work next (``None``: not until something happens)."""
        return self.outbox.next_timer()

    async def handle_timer(self, now: float) -> None:
        """Do the work due at ``now``: retry the pending relay actions whose backoff expired."""
        await self.outbox.handle_timer(now)

    # -- one connection -----------------------------------------------------------------

    def connection(self, connection_id: int) -> Connection:
        """The connection's current state, loaded from the store."""
        with self._store.transaction() as tx:
            return self._get(tx, connection_id)[1]

    def queues_of(self, connection_id: int) -> QueueState:
        """The queues the connection receives and sends on."""
        return self.connection(connection_id).queues

    def security_code(self, connection_id: int) -> SecurityCode:
        """The code both users compare out of band to rule out a man in the middle."""
        return self.connection(connection_id).security_code()

    def security(self, connection_id: int) -> ConnectionSecurity:
        """The code, PQ status and ratchet version of a connection."""
        return security_of(self.connection(connection_id))

    def send(self, tx: AgentTransaction, connection_id: int, events: Sequence[bytes]) -> list[int]:
        """Encrypt ``events`` for the peer and queue them in ``tx``; return each one's
        envelope sequence number. They go out when the caller flushes the outbox."""
        record, connection = self._get(tx, connection_id)
        connection, sent = connection.send_chats(events, self._rng)
        self._connections.save(tx, record, connection)
        self.outbox.enqueue(tx, connection_id, Effects(tuple(frame for _, frame in sent)))
        return [sequence for sequence, _ in sent]

    def repair(self, tx: AgentTransaction, connection_id: int) -> bool:
        """Re-agree keys over the existing queues, with the user's consent.

        If the peer offered a repair, accept it (keys are re-agreed now: returns
        True); otherwise queue our offer (returns False; the peer must consent).
        """
        record, connection = self._get(tx, connection_id)
        accepting = connection.phase is Phase.REPAIR_REQUESTED
        change = connection.accept_repair if accepting else connection.offer_repair
        connection, effects = change(self._rng)
        self._connections.save(tx, record, connection)
        self.outbox.enqueue(tx, connection_id, effects)
        return accepting

    def restore(self, tx: AgentTransaction) -> int:
        """Apply the restore rule to every connection of a profile just restored from a
        backup (:func:`veil.agent.repair_flow.restore`): no ratchet sends from its old
        chain, and each established connection offers its peer an automatic repair.
        Returns how many offers were queued; they go out when the outbox is flushed."""
        offers = 0
        for record in tx.connections.list():
            connection, effects = repair_flow.restore(self._connections.load(record), self._rng)
            self._connections.save(tx, record, connection)
            self.outbox.enqueue(tx, record.connection_id, effects)
            offers += len(effects.actions)
        return offers

    async def delete_queues(self, queues: Sequence[ReceiveQueue]) -> int:
        """``DEL`` receive queues of connections the caller removed; return how many
        went (at a relay that cannot be reached now, what the queue holds expires
        with the relay's retention)."""
        deleted = 0
        for queue in queues:
            try:
                await self._relays.delete_queue(queue)
            except RelayUnavailable:
                continue
            deleted += 1
        return deleted

    def _get(self, tx: AgentTransaction, connection_id: int) -> tuple[ConnectionRecord, Connection]:
        record = tx.connections.find(connection_id)
        if record is None:
            raise UnknownConnection(
                f"there is no connection {connection_id}: connect again with a new invitation"
            )
        return record, self._connections.load(record)
