"""Conversations: chat events out to a contact, and chat events in, applied to the store.

Outgoing: each user action becomes one chat event (:mod:`veil.chat.events`) that
the agent encrypts and queues in the same transaction as the row recording it.
Incoming: :meth:`Conversation.apply` runs inside the transaction in which the agent
processed the batch, so a message's row commits with the ratchet state that
decrypted it. Delivery
receipts for received messages are gathered per batch and sent as one
``ReceiptIssued`` event per contact (up to :data:`MAX_RECEIPT_IDS` ids each).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from veil.agent.events import ChatEventReceived
from veil.agent.runtime import Agent
from veil.chat.contacts import connection_of
from veil.chat.errors import ChatProtocolError, DuplicateRecord, RecordNotFound
from veil.chat.event_log import record_receipt
from veil.chat.events import (
    MAX_RECEIPT_IDS,
    ChatEvent,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ProfileUpdated,
    ReactionChanged,
    ReceiptIssued,
    ReceiptStatus,
    decode_event,
    encode_event,
    new_message_id,
)
from veil.chat.store import (
    ChatStore,
    Deletion,
    Direction,
    MessageRecord,
    Reaction,
    Receipt,
    Transaction,
)
from veil.crypto import RandomSource

__all__ = ["RECEIPT_DELAY_SECONDS", "Conversation", "Incoming"]

_log = logging.getLogger(__name__)
#: A delivery receipt waits at most about this long for others to share its message.
RECEIPT_DELAY_SECONDS = 0.2
_RECEIPTS = {ReceiptStatus.DELIVERED: Receipt.DELIVERED, ReceiptStatus.READ: Receipt.READ}


@dataclass(frozen=True, slots=True)
class Incoming:
    """Something that arrived, as the CLI shows it.

    ``kind`` is one of ``message``, ``edit``, ``delete``, ``reaction``, ``receipt``,
    ``profile``, ``connected``, ``request``, ``desync`` or ``error``.
    """

    kind: str
    contact: str | None
    text: str
    row_id: int | None = None
    integrity: str = "ok"
    request_id: int | None = None


class Conversation:
    """Sends and applies chat events for every contact of one user."""

    def __init__(
        self, store: ChatStore, agent: Agent, rng: RandomSource, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._agent = agent
        self._rng = rng
        self._clock = clock
        self._receipts: dict[int, list[bytes]] = {}
        self._receipts_since = 0.0

    # -- sending ----------------------------------------------------------------------

    async def send_texts(
        self, contact_id: int, texts: list[str], reply_to: int | None = None
    ) -> list[MessageRecord]:
        """Post ``texts`` (optionally all replying to the message in row ``reply_to``)."""
        quoted = None if reply_to is None else self._message(contact_id, reply_to).message_id
        now_ms = int(self._clock() * 1000)
        posts = [MessagePosted(new_message_id(self._rng), text, now_ms, quoted) for text in texts]
        with self._store.transaction() as tx:
            sequences = self._send(tx, contact_id, posts)
            stored = [
                tx.messages.add(
                    contact_id=contact_id,
                    message_id=post.message_id,
                    direction=Direction.SENT,
                    sequence=sequence,
                    text=post.text,
                    sent_at=post.sent_at_ms / 1000,
                    receipt=Receipt.PENDING,
                    reply_to=post.reply_to,
                )
                for post, sequence in zip(posts, sequences, strict=True)
            ]
        await self._agent.outbox.flush(force=True)
        return stored

    async def edit(self, contact_id: int, row_id: int, text: str) -> None:
        """Replace the text of one of our messages, here and at the contact."""
        message = self._own_message(contact_id, row_id)
        if message.deletion is not Deletion.NONE:
            raise ValueError(f"message #{row_id} was deleted; it cannot be edited")
        with self._store.transaction() as tx:
            self._send(tx, contact_id, [MessageEdited(message.message_id, text)])
            tx.messages.edit(row_id, text)
        await self._agent.outbox.flush(force=True)

    async def delete(self, contact_id: int, row_id: int, *, for_everyone: bool) -> None:
        """Delete a message for me only, or (one of ours) for everyone."""
        if not for_everyone:
            self._message(contact_id, row_id)
            with self._store.transaction() as tx:
                tx.messages.delete(row_id, Deletion.FOR_ME)
            return
        message = self._own_message(contact_id, row_id)
        with self._store.transaction() as tx:
            self._send(tx, contact_id, [MessageDeleted(message.message_id)])
            tx.messages.delete(row_id, Deletion.FOR_EVERYONE)
        await self._agent.outbox.flush(force=True)

    async def react(self, contact_id: int, row_id: int, emoji: str, *, added: bool) -> None:
        """Set (or withdraw) our reaction on a message."""
        message = self._message(contact_id, row_id)
        with self._store.transaction() as tx:
            self._send(tx, contact_id, [ReactionChanged(message.message_id, emoji, added)])
            tx.messages.react(row_id, Reaction(Direction.SENT, emoji), added)
        await self._agent.outbox.flush(force=True)

    def _send(self, tx: Transaction, contact_id: int, events: Sequence[ChatEvent]) -> list[int]:
        """Encrypt ``events`` for the contact in ``tx``; return their sequence numbers."""
        encoded = [encode_event(event) for event in events]
        return self._agent.send(tx, connection_of(tx, contact_id), encoded)

    def next_timer(self) -> float | None:
        """When gathered delivery receipts are due to go out (``None``: none gathered)."""
        if not self._receipts:
            return None
        return self._receipts_since + RECEIPT_DELAY_SECONDS

    async def handle_timer(self, now: float) -> None:
        """Send the delivery receipts that are due."""
        await self.flush_receipts()

    async def flush_receipts(self, *, force: bool = False) -> None:
        """Send the delivery receipts gathered so far, once there are enough of them
        (or the oldest has waited :data:`RECEIPT_DELAY_SECONDS`, or ``force``).

        Receipts ride in as few messages as possible: a stream of messages costs
        one receipt message per :data:`MAX_RECEIPT_IDS`, not one per message."""
        gathered = sum(len(ids) for ids in self._receipts.values())
        waited = self._clock() - self._receipts_since
        if not gathered or (
            not force and gathered < MAX_RECEIPT_IDS and waited < RECEIPT_DELAY_SECONDS
        ):
            return
        receipts, self._receipts = self._receipts, {}
        for contact_id, ids in receipts.items():
            events: list[ChatEvent] = [
                ReceiptIssued(ReceiptStatus.DELIVERED, tuple(ids[i : i + MAX_RECEIPT_IDS]))
                for i in range(0, len(ids), MAX_RECEIPT_IDS)
            ]
            with self._store.transaction() as tx:
                self._send(tx, contact_id, events)
        await self._agent.outbox.flush()

    def _message(self, contact_id: int, row_id: int) -> MessageRecord:
        with self._store.transaction() as tx:
            message = tx.messages.get(row_id)
        if message.contact_id != contact_id:
            raise RecordNotFound(f"message #{row_id} is not in this conversation")
        return message

    def _own_message(self, contact_id: int, row_id: int) -> MessageRecord:
        message = self._message(contact_id, row_id)
        if message.direction is not Direction.SENT:
            raise ValueError(f"message #{row_id} is the contact's; only your own can change")
        return message

    # -- receiving ----------------------------------------------------------------------

    def apply(
        self, tx: Transaction, contact_id: int, alias: str, received: ChatEventReceived
    ) -> Incoming | None:
        """Apply one incoming chat event to the store; describe it for the user."""
        try:
            event = decode_event(received.event)
        except ChatProtocolError as error:
            _log.warning("dropped a chat event: %s", type(error).__name__)
            return Incoming("error", alias, f"an unreadable message was dropped ({error.code})")
        try:
            return self._apply_event(tx, contact_id, alias, event, received)
        except RecordNotFound:
            return Incoming("error", alias, f"a {type(event).__name__} named an unknown message")

    def _apply_event(
        self,
        tx: Transaction,
        contact_id: int,
        alias: str,
        event: ChatEvent,
        received: ChatEventReceived,
    ) -> Incoming | None:
        if isinstance(event, MessagePosted):
            return self._apply_post(tx, contact_id, alias, event, received)
        if isinstance(event, MessageEdited):
            row = tx.messages.find(contact_id, Direction.RECEIVED, event.target_id).row_id
            tx.messages.edit(row, event.text)
            return Incoming("edit", alias, event.text, row)
        if isinstance(event, MessageDeleted):
            row = tx.messages.find(contact_id, Direction.RECEIVED, event.target_id).row_id
            tx.messages.delete(row, Deletion.FOR_EVERYONE)
            return Incoming("delete", alias, "", row)
        if isinstance(event, ReactionChanged):
            row = self._find_either(tx, contact_id, event.target_id).row_id
            tx.messages.react(row, Reaction(Direction.RECEIVED, event.emoji), event.added)
            return Incoming("reaction", alias, event.emoji if event.added else "", row)
        if isinstance(event, ReceiptIssued):
            for message_id in event.message_ids:
                row = tx.messages.find(contact_id, Direction.SENT, message_id).row_id
                tx.messages.set_receipt(row, _RECEIPTS[event.status])
                record_receipt(tx, alias, _RECEIPTS[event.status].value, row, self._clock())
            return None
        assert isinstance(event, ProfileUpdated)
        tx.contacts.set_profile(contact_id, event.profile)
        return Incoming("profile", alias, event.profile.display_name)

    def _apply_post(
        self,
        tx: Transaction,
        contact_id: int,
        alias: str,
        post: MessagePosted,
        received: ChatEventReceived,
    ) -> Incoming | None:
        try:
            stored = tx.messages.add(
                contact_id=contact_id,
                message_id=post.message_id,
                direction=Direction.RECEIVED,
                sequence=received.sequence,
                text=post.text,
                sent_at=post.sent_at_ms / 1000,
                receipt=Receipt.DELIVERED,
                reply_to=post.reply_to,
                received_at=self._clock(),
                integrity=str(received.integrity),
            )
        except DuplicateRecord:
            return None
        if not self._receipts:
            self._receipts_since = self._clock()
        self._receipts.setdefault(contact_id, []).append(post.message_id)
        return Incoming("message", alias, post.text, stored.row_id, str(received.integrity))

    @staticmethod
    def _find_either(tx: Transaction, contact_id: int, message_id: bytes) -> MessageRecord:
        try:
            return tx.messages.find(contact_id, Direction.SENT, message_id)
        except RecordNotFound:
            return tx.messages.find(contact_id, Direction.RECEIVED, message_id)
