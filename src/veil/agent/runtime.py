"""The agent runtime: sans-I/O connections driven over relays and the client store.

:class:`Agent` is the asyncio edge of the agent layer. It loads each
:class:`~veil.agent.connection.Connection` from the store, feeds it frames from the
relays, and commits everything one input changed — ratchet state, queue state,
envelope state, the chat layer's own rows, and the relay actions to run next — in
**one** store transaction. Only after that commit does it acknowledge a message to
the relay or run the actions (from the outbox, see :mod:`veil.agent.delivery`).
A crash at any point therefore loses nothing and duplicates nothing: an
unacknowledged message is redelivered, and a copy of a committed frame is recognised
(:mod:`veil.agent.duplicates`); an action still in the outbox runs on the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from veil.agent.address import (
    AddressState,
    address_sender_key,
    open_contact_request,
    seal_contact_request,
)
from veil.agent.connection import (
    AGENT_VERSIONS,
    Connection,
    Invitation,
    Phase,
    SecureQueue,
    Step,
)
from veil.agent.contacts import PENDING_CONTACT_NAME, apply_contact_events, mark_repaired
from veil.agent.delivery import ActionKind, OutboxEntry
from veil.agent.envelope import EnvelopeTracker
from veil.agent.events import (
    AgentEvent,
    ContactRequestReceived,
    DesyncDetected,
)
from veil.agent.failures import UnexpectedFrame
from veil.agent.invitations import address_link, invitation_from_link, invitation_to_link
from veil.agent.links import ContactAddressLink, InvitationLink, decode_link, encode_link
from veil.agent.outbox import OutboxRunner
from veil.agent.payloads import ContactRequest, QueueAddress
from veil.agent.queues import QueueState, ReceiveQueue
from veil.agent.relays import Delivery, RelayPort, RelayUnavailable
from veil.chat.profile import Profile
from veil.chat.store import ChatStore, Transaction
from veil.chat.store.records import Connection as ConnectionRecord
from veil.chat.store.records import ContactStatus, RequestStatus
from veil.crypto import RandomSource
from veil.errors import ProtocolError
from veil.ratchet.double_ratchet import Ratchet
from veil.ratchet.errors import HeaderDecryptionFailed, MessageAuthenticationFailed
from veil.ratchet.security_code import SecurityCode
from veil.routing.errors import NoRouteAvailable
from veil.routing.policy import random_index

__all__ = ["Agent", "EventHandler"]

_log = logging.getLogger(__name__)

EventHandler = Callable[[Transaction, int | None, AgentEvent], None]
"""Called inside the store transaction of each input, with the contact it concerns."""

#: Deliveries taken from the inbox at once and committed together (group commit).
_RECEIVE_BATCH = 64
#: While receiving, pending sends whose backoff expired are retried this often.
_RETRY_TICK_SECONDS = 1.0
_ESTABLISHED = frozenset(
    phase.value for phase in (Phase.CONNECTED, Phase.REPAIR_OFFERED, Phase.REPAIR_REQUESTED)
)
_DESYNC_ERRORS = (HeaderDecryptionFailed, MessageAuthenticationFailed)


@dataclass(slots=True)
class _Loaded:
    record: ConnectionRecord
    connection: Connection


class Agent:
    """One user's connections, run over relays and persisted in their store."""

    def __init__(
        self,
        store: ChatStore,
        relays: RelayPort,
        profile: Profile,
        own_relays: Sequence[str],
        *,
        rng: RandomSource,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._relays = relays
        self._profile = profile
        self._own_relays = tuple(own_relays)
        self._rng = rng
        self._clock = clock
        self._cache: dict[int, _Loaded] = {}
        self._inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        self._address_queues: set[bytes] = set()
        self.outbox = OutboxRunner(store, relays, self._send_queue_of, rng=rng, clock=clock)

    @property
    def store(self) -> ChatStore:
        """The store this agent commits to."""
        return self._store

    # -- starting connections --------------------------------------------------

    def _pick_relay(self) -> str:
        """A relay for a new receive queue, uniformly at random (none: ``NoRouteAvailable``)."""
        if not self._own_relays:
            raise NoRouteAvailable("no relay is enabled for receiving: `veil relays enable`")
        return self._own_relays[random_index(self._rng, len(self._own_relays))]

    async def invite(self, *, pq: bool = True) -> tuple[int, Invitation]:
        """Create a receive queue and a one-time invitation; return the connection id."""
        receive = await self._relays.create_queue(self._pick_relay())
        connection, invitation = Connection.invite(receive, self._profile, self._rng, pq=pq)
        with self._store.transaction() as tx:
            record = self._add_record(tx, connection, contact_id=None)
        return record.connection_id, invitation

    async def join(self, invitation: Invitation, contact_name: str = PENDING_CONTACT_NAME) -> int:
        """Join a peer's invitation; return the new contact's id (status CONNECTING)."""
        receive = await self._relays.create_queue(self._pick_relay())
        connection, step = Connection.join(invitation, receive, self._profile, self._rng)
        with self._store.transaction() as tx:
            contact = tx.contacts.add(
                Profile(contact_name), ContactStatus.CONNECTING, self._clock()
            )
            record = self._add_record(tx, connection, contact_id=contact.contact_id)
            self._enqueue(tx, record.connection_id, step)
        await self.outbox.flush(force=True)
        return contact.contact_id

    async def request_contact(self, address: ContactAddressLink) -> int:
        """Ask the owner of a contact address to connect: send them a fresh one-time
        invitation with our profile. Return the new contact's id (status CONNECTING)."""
        AGENT_VERSIONS.agree(address.agent_versions)
        target = address.queues[0]
        connection_id, invitation = await self.invite()
        link = encode_link(invitation_to_link(invitation))
        frame = seal_contact_request(
            target.link_key, ContactRequest(link, self._profile), self._rng
        )
        entry = OutboxEntry(
            ActionKind.SEND_TO_ADDRESS,
            frame,
            QueueAddress(target.relay, target.sender_id),
            target.link_key,
        )
        with self._store.transaction() as tx:
            contact = tx.contacts.add(
                Profile(PENDING_CONTACT_NAME), ContactStatus.CONNECTING, self._clock()
            )
            tx.connections.save(
                replace(tx.connections.get(connection_id), contact_id=contact.contact_id)
            )
            tx.outbox.enqueue(connection_id, entry.to_bytes(), self._clock())
        self.outbox.wake()
        self._cache.pop(connection_id, None)
        await self.outbox.flush(force=True)
        return contact.contact_id

    async def accept_request(self, request_id: int) -> int:
        """Accept a contact request: join the invitation it carries; return the contact id."""
        with self._store.transaction() as tx:
            request = tx.requests.get(request_id)
        if request.status is not RequestStatus.PENDING:
            raise ValueError(f"request {request_id} was already {request.status.value}")
        link = decode_link(request.invitation.decode("utf-8"))
        if not isinstance(link, InvitationLink):
            raise UnexpectedFrame("a contact request must carry a one-time invitation")
        contact_id = await self.join(invitation_from_link(link), request.profile.display_name)
        with self._store.transaction() as tx:
            tx.requests.set_status(request_id, RequestStatus.ACCEPTED)
        return contact_id

    async def create_address(self) -> str:
        """Create our contact address (a long-lived queue); return its link text."""
        receive = await self._relays.create_queue(self._pick_relay())
        state = AddressState.create(receive, self._rng)
        sender = address_sender_key(state.address_key_public)
        await self._relays.secure_own_queue(receive, sender.public)
        link = encode_link(address_link(receive.address, state.address_key_public))
        with self._store.transaction() as tx:
            tx.address.create(link, receive.recipient_id, state.to_bytes(), self._clock())
        return link

    async def delete_address(self) -> None:
        """Delete the address queue at its relay, then locally; contacts stay intact."""
        with self._store.transaction() as tx:
            address = tx.address.get()
        if address is None:
            raise ValueError("there is no contact address to delete")
        await self._relays.delete_queue(AddressState.from_bytes(address.queue_state).receive)
        with self._store.transaction() as tx:
            tx.address.delete()

    def _add_record(
        self, tx: Transaction, connection: Connection, *, contact_id: int | None
    ) -> ConnectionRecord:
        return tx.connections.add(
            contact_id=contact_id,
            phase=connection.phase.value,
            agent_version=connection.agent_version,
            receive_queue_id=connection.queues.receive.recipient_id,
            queue_state=connection.queues.to_bytes(),
            envelope_state=connection.tracker.to_bytes(),
            ratchet_state=None if connection.ratchet is None else connection.ratchet.to_bytes(),
            now=self._clock(),
        )

    def _enqueue(self, tx: Transaction, connection_id: int, step: Step) -> None:
        now = self._clock()
        if step.actions:
            self.outbox.wake()
        for action in step.actions:
            if isinstance(action, SecureQueue):
                entry = OutboxEntry(ActionKind.SECURE_PEER_QUEUE)
            else:
                entry = OutboxEntry(ActionKind.SEND_FRAME, action.frame)
            tx.outbox.enqueue(connection_id, entry.to_bytes(), now)

    # -- loading and saving connections -----------------------------------------

    def _load(self, record: ConnectionRecord) -> _Loaded:
        cached = self._cache.get(record.connection_id)
        # Another process on the same profile (a `veil send` beside a `veil chat`) may
        # have moved the ratchet on: the cache is used only if the row is unchanged.
        if cached is not None and cached.record == record:
            return cached
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
        loaded = _Loaded(record, connection)
        self._cache[record.connection_id] = loaded
        return loaded

    def _save(self, tx: Transaction, loaded: _Loaded, contact_id: int | None) -> None:
        connection = loaded.connection
        loaded.record = replace(
            loaded.record,
            contact_id=contact_id,
            phase=connection.phase.value,
            agent_version=connection.agent_version,
            ratchet_state=None if connection.ratchet is None else connection.ratchet.to_bytes(),
            queue_state=connection.queues.to_bytes(),
            envelope_state=connection.tracker.to_bytes(),
            updated_at=self._clock(),
        )
        tx.connections.save(loaded.record)

    def _send_queue_of(self, connection_id: int) -> QueueState:
        with self._store.transaction() as tx:
            record = tx.connections.get(connection_id)
        return self._load(record).connection.queues

    def connection_for(self, contact_id: int) -> Connection:
        """The (newest) connection to a contact, loaded from the store."""
        with self._store.transaction() as tx:
            records = tx.connections.for_contact(contact_id)
        if not records:
            raise UnexpectedFrame(f"contact {contact_id} has no connection")
        return self._load(records[-1]).connection

    def security_code(self, contact_id: int) -> SecurityCode:
        """The security code of the connection to ``contact_id``."""
        return self.connection_for(contact_id).security_code()

    async def repair(self, contact_id: int) -> bool:
        """Re-agree keys with a contact over the existing queues, with the user's consent.

        If the contact offered a repair, accept it (keys are re-agreed now: returns
        True); otherwise send our offer (returns False; the contact must consent).
        """
        with self._store.transaction() as tx:
            records = tx.connections.for_contact(contact_id)
            if not records:
                raise UnexpectedFrame(f"contact {contact_id} has no connection")
            loaded = self._load(records[-1])
            connection = loaded.connection
            try:
                accepting = connection.phase is Phase.REPAIR_REQUESTED
                step = (connection.accept_repair if accepting else connection.offer_repair)(
                    self._rng
                )
                self._save(tx, loaded, contact_id)
                self._enqueue(tx, loaded.record.connection_id, step)
                if accepting:
                    mark_repaired(tx, contact_id)
            except BaseException:
                self._cache.pop(loaded.record.connection_id, None)
                raise
        await self.outbox.flush(force=True)
        return accepting

    # -- sending ------------------------------------------------------------------

    async def send(
        self,
        contact_id: int,
        events: Sequence[bytes],
        record: Callable[[Transaction, list[int]], None],
        *,
        flush: bool = True,
    ) -> None:
        """Encrypt chat ``events`` for a contact and queue them in one transaction with
        the rows ``record`` writes (it gets the envelope sequence number of each event);
        then try to deliver them (unless ``flush`` is false)."""
        with self._store.transaction() as tx:
            records = tx.connections.for_contact(contact_id)
            if not records:
                raise UnexpectedFrame(f"contact {contact_id} has no connection")
            loaded = self._load(records[-1])
            try:
                sequences = []
                self.outbox.wake()
                for event in events:
                    entry = OutboxEntry(
                        ActionKind.SEND_FRAME, loaded.connection.send_chat(event).frame
                    )
                    tx.outbox.enqueue(loaded.record.connection_id, entry.to_bytes(), self._clock())
                    sequences.append(loaded.connection.tracker.last_sent)
                self._save(tx, loaded, contact_id)
                record(tx, sequences)
            except BaseException:
                self._cache.pop(loaded.record.connection_id, None)
                raise
        if flush:
            await self.outbox.flush(force=True)

    # -- receiving ----------------------------------------------------------------

    def _receive_queues(self) -> dict[bytes, ReceiveQueue]:
        with self._store.transaction() as tx:
            records = tx.connections.list()
            address = tx.address.get()
        queues = {
            record.receive_queue_id: QueueState.from_bytes(record.queue_state).receive
            for record in records
        }
        if address is not None:
            queues[address.receive_queue_id] = AddressState.from_bytes(address.queue_state).receive
            self._address_queues.add(address.receive_queue_id)
        return queues

    async def receive(
        self,
        handler: EventHandler,
        *,
        idle: float,
        on_tick: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Subscribe to every receive queue and process what arrives until ``idle``
        seconds pass without a delivery; return how many deliveries were processed.

        ``on_tick`` runs after each batch is committed and acknowledged, and at least
        every :data:`_RETRY_TICK_SECONDS` while quiet (the chat layer sends its delivery
        receipts there)."""
        await self.outbox.flush(force=True)
        queues = self._receive_queues()
        if not queues:
            return 0
        await self._relays.subscribe(list(queues.values()), self._inbox.put_nowait)
        processed, quiet = 0, 0.0
        while True:
            wait = min(_RETRY_TICK_SECONDS, idle - quiet)
            try:
                first = await asyncio.wait_for(self._inbox.get(), max(wait, 0.0))
            except TimeoutError:
                quiet += wait
                if quiet >= idle:
                    return processed
                # Quiet moments are when sends that failed earlier get retried.
                await self.outbox.flush()
                if on_tick is not None:
                    await on_tick()
                continue
            quiet = 0.0
            batch = [first]
            while len(batch) < _RECEIVE_BATCH and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            await self._process_batch(batch, queues, handler)
            processed += len(batch)
            if on_tick is not None:
                await on_tick()

    async def _process_batch(
        self, batch: list[Delivery], queues: dict[bytes, ReceiveQueue], handler: EventHandler
    ) -> None:
        try:
            with self._store.transaction() as tx:
                for delivery in batch:
                    self._process(tx, delivery, handler)
        except BaseException as failure:
            # Rolled back: cached connections may hold changes the store never saw.
            self._cache.clear()
            if isinstance(failure, Exception):
                await self._ask_again({queues[d.recipient_id] for d in batch})
            raise
        # All at once: they share blocks and one relay commit instead of one round
        # trip each (the relay takes ACKs of its in-flight messages in any order).
        results = await asyncio.gather(
            *(
                self._relays.acknowledge(queues[delivery.recipient_id], delivery.message_id)
                for delivery in batch
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, RelayUnavailable):
                # Committed already: if the ACK is lost, the relay redelivers the
                # message and its queue state recognises it (see _process).
                _log.info("acknowledgement not confirmed: %s", result)
            elif isinstance(result, BaseException):
                raise result
        await self.outbox.flush()

    async def _ask_again(self, failed: set[ReceiveQueue]) -> None:
        """After a failed commit, have the relay send the queues' unacknowledged
        messages again: it pushes nothing more while they fill the delivery window.
        Their deliveries still in the inbox go: the new ``SUB`` sends them again too,
        in order behind those of the failed batch."""
        failed_ids = {queue.recipient_id for queue in failed}
        for delivery in [self._inbox.get_nowait() for _ in range(self._inbox.qsize())]:
            if delivery.recipient_id not in failed_ids:
                self._inbox.put_nowait(delivery)
        try:
            await self._relays.resubscribe(list(failed))
        except RelayUnavailable as exc:
            # Once its connection is back, the relay client subscribes again by itself.
            _log.info("could not ask for redelivery: %s", exc)

    def _process(self, tx: Transaction, delivery: Delivery, handler: EventHandler) -> None:
        if delivery.recipient_id in self._address_queues:
            self._process_request(tx, delivery, handler)
            return
        record = tx.connections.by_receive_queue(delivery.recipient_id)
        loaded = self._load(record)
        connection = loaded.connection
        remembered = connection.queues.delivered.admit(delivery.message_id, delivery.body)
        if remembered is None:  # a copy of a frame committed earlier (veil.agent.duplicates)
            return
        try:
            step = connection.receive(delivery.body, self._rng)
        except ProtocolError as error:
            # The object may be half-changed: forget it, the store has the truth.
            self._cache.pop(record.connection_id, None)
            self._report_failure(tx, record, error, handler)
            return
        connection.queues = replace(connection.queues, delivered=remembered)
        contact_id = apply_contact_events(tx, record.contact_id, step.events, self._clock())
        self._save(tx, loaded, contact_id)
        self._enqueue(tx, record.connection_id, step)
        for event in step.events:
            handler(tx, contact_id, event)

    def _report_failure(
        self, tx: Transaction, record: ConnectionRecord, error: ProtocolError, handler: EventHandler
    ) -> None:
        _log.warning("dropped a message: %s (code %d)", type(error).__name__, error.code)
        if record.phase in _ESTABLISHED and isinstance(error, _DESYNC_ERRORS):
            if record.contact_id is not None:
                tx.contacts.set_status(record.contact_id, ContactStatus.DESYNCHRONISED)
            handler(tx, record.contact_id, DesyncDetected(type(error).__name__))

    def _process_request(self, tx: Transaction, delivery: Delivery, handler: EventHandler) -> None:
        address = tx.address.get()
        if address is None or address.receive_queue_id != delivery.recipient_id:
            return  # the address was deleted meanwhile
        state = AddressState.from_bytes(address.queue_state)
        remembered = state.delivered.admit(delivery.message_id, delivery.body)
        if remembered is None:
            return  # a copy of a request committed earlier (see veil.agent.duplicates)
        tx.address.save_queue_state(replace(state, delivered=remembered).to_bytes())
        try:
            request = open_contact_request(state, delivery.body)
        except ProtocolError as error:
            _log.warning("dropped a contact request: %s", type(error).__name__)
            return
        stored = tx.requests.add(
            request.profile, request.invitation_link.encode("utf-8"), self._clock()
        )
        handler(tx, None, ContactRequestReceived(stored.request_id, request.profile))
