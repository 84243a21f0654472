"""Veil's encrypted client store (SQLCipher, keyed from the passphrase with Argon2id).

Its :class:`Transaction` implements the agent's store protocol
(:class:`veil.agent.store.AgentTransaction`), so the chat layer commits a received
message with the agent state that decrypted it::

    with store.transaction() as tx:
        received = agent.inbox.process(tx, batch)      # connection state, outbox
        tx.messages.add(contact_id=..., message_id=..., direction=Direction.RECEIVED, ...)

Either all of it is on disk when the ``with`` block ends, or none of it is.
"""

from veil.chat.store.database import ChatStore, Transaction, header_path
from veil.chat.store.header import KdfParams, StoreHeader
from veil.chat.store.records import (
    Contact,
    ContactRequestRecord,
    ContactStatus,
    Deletion,
    Direction,
    MessageRecord,
    OwnProfile,
    Reaction,
    Receipt,
    RequestStatus,
)
from veil.chat.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "ChatStore",
    "Contact",
    "ContactRequestRecord",
    "ContactStatus",
    "Deletion",
    "Direction",
    "KdfParams",
    "MessageRecord",
    "OwnProfile",
    "Reaction",
    "Receipt",
    "RequestStatus",
    "StoreHeader",
    "Transaction",
    "header_path",
]
