"""Receiving: deliveries from the relays, processed in a transaction the caller opens.

The caller (the chat layer) drives one cycle per batch::

    batch = await inbox.next_batch(timeout)
    try:
        with store.transaction() as tx:
            received = inbox.process(tx, batch)   # connection state, outbox, address
            ...                                    # the caller's rows for ``received``
    except Exception:
        await inbox.redeliver(batch)
        raise
    await inbox.acknowledge(batch)

So the caller's rows commit together with the connection state that produced
them, and a message is acknowledged to the relay only once both are on disk. A
crash at any point loses nothing and duplicates nothing: an unacknowledged message
is redelivered, and a copy of a committed frame is recognised
(:mod:`veil.agent.duplicates`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from veil.agent.address import AddressState, open_contact_request
from veil.agent.connection import Phase
from veil.agent.connections import ConnectionCache
from veil.agent.duplicates import CommittedFrames
from veil.agent.events import (
    ConnectionEstablished,
    ConnectionEvent,
    ContactRequestReceived,
    DesyncDetected,
    PeerConfirmed,
    SyncRestored,
)
from veil.agent.outbox import OutboxRunner
from veil.agent.queues import ReceiveQueue
from veil.agent.relays import Delivery, RelayPort, RelayUnavailable
from veil.agent.store import AgentStore, AgentTransaction, ConnectionRecord
from veil.crypto import RandomSource
from veil.errors import ProtocolError
from veil.ratchet.errors import HeaderDecryptionFailed, MessageAuthenticationFailed

__all__ = ["DESYNC_THRESHOLD", "RECEIVE_BATCH", "Inbox", "ProfileCheck"]

_log = logging.getLogger(__name__)

#: Deliveries taken at once and committed together (group commit).
RECEIVE_BATCH = 64
_ESTABLISHED = frozenset(
    phase.value for phase in (Phase.CONNECTED, Phase.REPAIR_OFFERED, Phase.REPAIR_REQUESTED)
)
_DESYNC_ERRORS = (HeaderDecryptionFailed, MessageAuthenticationFailed)
#: Well-formed frames in a row that must fail to decrypt before a connection is
#: reported desynchronised (a relay can inject a few; a drifted peer sends on).
DESYNC_THRESHOLD = 3

ProfileCheck = Callable[[bytes], object]
"""The application's check of a peer's profile bytes (opaque to the agent): it raises
a :class:`~veil.errors.ProtocolError` for one it cannot read, and the frame that
carried it is dropped like any other malformed frame."""


class Inbox:
    """Deliveries from every receive queue, and how each one changes the agent's rows."""

    def __init__(
        self,
        store: AgentStore,
        relays: RelayPort,
        connections: ConnectionCache,
        outbox: OutboxRunner,
        *,
        check_profile: ProfileCheck,
        rng: RandomSource,
    ) -> None:
        self._store = store
        self._relays = relays
        self._connections = connections
        self._outbox = outbox
        self._check_profile = check_profile
        self._rng = rng
        self._deliveries: asyncio.Queue[Delivery] = asyncio.Queue()
        self._queues: dict[bytes, ReceiveQueue] = {}
        self._address_queue: bytes | None = None

    async def subscribe(self) -> bool:
        """Subscribe to every receive queue (connections and the contact address);
        return whether there is any."""
        with self._store.transaction() as tx:
            queues = self._connections.receive_queues(tx)
            address = tx.address.get()
        if address is not None:
            self._address_queue = address.receive_queue_id
            queues[address.receive_queue_id] = AddressState.from_bytes(address.queue_state).receive
        self._queues = queues
        if queues:
            await self._relays.subscribe(list(queues.values()), self._deliveries.put_nowait)
        return bool(queues)

    async def next_batch(self, timeout: float) -> list[Delivery]:
        """Wait up to ``timeout`` seconds for deliveries; return those waiting (at most
        :data:`RECEIVE_BATCH`), or none if the time ran out. Deliveries already waiting
        are taken at once, even with no time to wait (a timer that is due)."""
        batch: list[Delivery] = []
        if self._deliveries.empty():
            try:
                batch.append(await asyncio.wait_for(self._deliveries.get(), max(timeout, 0.0)))
            except TimeoutError:
                return []
        while len(batch) < RECEIVE_BATCH and not self._deliveries.empty():
            batch.append(self._deliveries.get_nowait())
        return batch

    def process(self, tx: AgentTransaction, batch: list[Delivery]) -> list[ConnectionEvent]:
        """Apply each delivery to its connection inside ``tx``; return what happened.

        A frame that breaks the protocol is dropped (logged, and reported as
        :class:`DesyncDetected` when an established connection stops decrypting);
        nothing else of the batch is affected.
        """
        received: list[ConnectionEvent] = []
        for delivery in batch:
            if delivery.recipient_id == self._address_queue:
                received += self._process_request(tx, delivery)
            else:
                received += self._process_frame(tx, delivery)
        return received

    async def acknowledge(self, batch: list[Delivery]) -> None:
        """Tell the relays the batch is committed (all at once: they share blocks and
        one relay commit instead of one round trip each)."""
        results = await asyncio.gather(
            *(
                self._relays.acknowledge(self._queues[delivery.recipient_id], delivery.message_id)
                for delivery in batch
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, RelayUnavailable):
                # Committed already: if the ACK is lost, the relay redelivers the
                # message and its queue state recognises it (see _process_frame).
                _log.info("acknowledgement not confirmed: %s", result)
            elif isinstance(result, BaseException):
                raise result

    async def redeliver(self, batch: list[Delivery]) -> None:
        """After a failed commit, have the relay send the batch's queues' unacknowledged
        messages again: it pushes nothing more while they fill the delivery window.
        Their deliveries still waiting here go: the new ``SUB`` sends them again too,
        in order behind those of the failed batch."""
        failed_ids = {delivery.recipient_id for delivery in batch}
        waiting = [self._deliveries.get_nowait() for _ in range(self._deliveries.qsize())]
        for delivery in waiting:
            if delivery.recipient_id not in failed_ids:
                self._deliveries.put_nowait(delivery)
        try:
            await self._relays.resubscribe([self._queues[queue_id] for queue_id in failed_ids])
        except RelayUnavailable as exc:
            # Once its connection is back, the relay client subscribes again by itself.
            _log.info("could not ask for redelivery: %s", exc)

    def _process_frame(self, tx: AgentTransaction, delivery: Delivery) -> list[ConnectionEvent]:
        record = tx.connections.by_receive_queue(delivery.recipient_id)
        connection = self._connections.load(record)
        remembered = connection.queues.delivered.admit(delivery.message_id, delivery.body)
        if remembered is None:  # a copy of a frame committed earlier (veil.agent.duplicates)
            return []
        try:
            connection, effects = connection.receive(delivery.body, self._rng)
            for event in effects.events:
                if isinstance(event, PeerConfirmed | ConnectionEstablished):
                    self._check_profile(event.profile)
        except ProtocolError as error:
            return self._report_failure(tx, record, error, remembered)
        events = list(effects.events)
        if connection.queues.undecryptable >= DESYNC_THRESHOLD:
            events.append(SyncRestored())
        connection.queues = replace(connection.queues, delivered=remembered, undecryptable=0)
        self._connections.save(tx, record, connection)
        self._outbox.enqueue(tx, record.connection_id, effects)
        return [ConnectionEvent(record.connection_id, event) for event in events]

    def _report_failure(
        self,
        tx: AgentTransaction,
        record: ConnectionRecord,
        error: ProtocolError,
        remembered: CommittedFrames,
    ) -> list[ConnectionEvent]:
        """Drop a frame. A well-formed one that does not decrypt on an established
        connection counts towards desynchronisation: the relay hosting the queue can
        make such frames, so one alone proves nothing (F3); only
        :data:`DESYNC_THRESHOLD` in a row, with no message that decrypts between
        them, mark the connection, and the next one that decrypts clears the mark."""
        _log.warning("dropped a message: %s (code %d)", type(error).__name__, error.code)
        if record.phase not in _ESTABLISHED or not isinstance(error, _DESYNC_ERRORS):
            return []
        connection = self._connections.load(record)
        count = connection.queues.undecryptable + 1
        connection = replace(
            connection,
            queues=replace(connection.queues, delivered=remembered, undecryptable=count),
        )
        self._connections.save(tx, record, connection)
        if count != DESYNC_THRESHOLD:
            return []
        return [ConnectionEvent(record.connection_id, DesyncDetected(type(error).__name__))]

    def _process_request(self, tx: AgentTransaction, delivery: Delivery) -> list[ConnectionEvent]:
        address = tx.address.get()
        if address is None or address.receive_queue_id != delivery.recipient_id:
            return []  # the address was deleted meanwhile
        state = AddressState.from_bytes(address.queue_state)
        remembered = state.delivered.admit(delivery.message_id, delivery.body)
        if remembered is None:
            return []  # a copy of a request committed earlier (see veil.agent.duplicates)
        tx.address.save_queue_state(replace(state, delivered=remembered).to_bytes())
        try:
            request = open_contact_request(state, delivery.body)
            self._check_profile(request.profile)
        except ProtocolError as error:
            _log.warning("dropped a contact request: %s", type(error).__name__)
            return []
        return [
            ConnectionEvent(None, ContactRequestReceived(request.invitation_link, request.profile))
        ]
