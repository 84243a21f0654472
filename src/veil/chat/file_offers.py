"""Files offered to us: a received :class:`FileOffered` becomes a stored transfer.

Runs inside the transaction that decrypted the event (like every incoming chat
event). The description is decoded strictly here; a FILE description gives the
name, type and size at once, a REDIRECT one (a description too large for a message)
only once ``veil receive-file`` has fetched it.
"""

from __future__ import annotations

from veil.chat.events import FileOffered
from veil.chat.store import Direction, Transaction
from veil.chat.store.files import FileTransferRecord, TransferState
from veil.files.description import FileDescription, decode_description

__all__ = ["AUTO_ACCEPT_SETTING", "REDIRECT_NAME", "record_offer"]

AUTO_ACCEPT_SETTING = "auto_accept_bytes"
REDIRECT_NAME = "(large file: details arrive with the download)"
_UNKNOWN_TYPE = "application/octet-stream"


def record_offer(
    tx: Transaction, contact_id: int, offer: FileOffered, now: float
) -> FileTransferRecord:
    """Store the offer; raises :class:`MalformedDescription` or :class:`DuplicateRecord`."""
    description = decode_description(offer.description)
    if isinstance(description, FileDescription):
        name, mime_type = description.name, description.mime_type
        size = description.blob.size
    else:
        name, mime_type, size = REDIRECT_NAME, _UNKNOWN_TYPE, 0
    record = FileTransferRecord(
        transfer_id=0,
        contact_id=contact_id,
        direction=Direction.RECEIVED,
        message_id=offer.message_id,
        name=name,
        mime_type=mime_type,
        size=size,
        state=TransferState.OFFERED,
        description=offer.description,
        preview=offer.preview,
        path=None,
        created_at=now,
    )
    return tx.files.add(record)
