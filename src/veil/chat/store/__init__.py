"""Veil's encrypted client store (SQLCipher, keyed from the passphrase with Argon2id).

Typical use by the agent, committing a received message with the state it changed::

    with store.transaction() as tx:
        tx.messages.add(contact_id=..., message_id=..., direction=Direction.RECEIVED, ...)
        tx.connections.save(replace(connection, ratchet_state=..., envelope_state=...))

Either all of it is on disk when the ``with`` block ends, or none of it is.
"""

from veil.chat.store.database import ChatStore, Transaction, header_path
from veil.chat.store.header import KdfParams, StoreHeader
from veil.chat.store.records import (
    Connection,
    Contact,
    ContactAddress,
    ContactRequest,
    ContactStatus,
    Deletion,
    Direction,
    OwnProfile,
    PendingSend,
    Reaction,
    Receipt,
    RequestStatus,
    StoredMessage,
)
from veil.chat.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "ChatStore",
    "Connection",
    "Contact",
    "ContactAddress",
    "ContactRequest",
    "ContactStatus",
    "Deletion",
    "Direction",
    "KdfParams",
    "OwnProfile",
    "PendingSend",
    "Reaction",
    "Receipt",
    "RequestStatus",
    "StoreHeader",
    "StoredMessage",
    "Transaction",
    "header_path",
]
