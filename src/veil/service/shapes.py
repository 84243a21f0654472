"""Chat records as the API's JSON shapes — the one place each shape is made.

``veil ... --json`` and the API both print these, so a script that reads the CLI
and a client of the service read the same fields.
"""

from __future__ import annotations

from veil.chat.app import ConnectionRelays
from veil.chat.conversation import Incoming
from veil.chat.store import Contact, MessageRecord
from veil.chat.store.events import EventRecord
from veil.service.api_types import (
    ContactShape,
    EventShape,
    IncomingShape,
    MessageShape,
    RelaysShape,
)

__all__ = ["contact_shape", "event_shape", "incoming_shape", "message_shape", "relays_shape"]


def contact_shape(contact: Contact) -> ContactShape:
    """A contact as the API and ``--json`` show it."""
    profile = contact.profile
    return {
        "alias": contact.alias,
        "name": profile.display_name,
        "full_name": profile.full_name,
        "bio": profile.bio,
        "status": contact.status.value,
        "verified": contact.verified,
    }


def relays_shape(relays: ConnectionRelays) -> RelaysShape:
    """The relays of one connection."""
    return {"receive": relays.receive, "send": relays.send, "proxied": relays.proxied}


def message_shape(message: MessageRecord) -> MessageShape:
    """One message of a history."""
    return {
        "id": message.row_id,
        "ref": message.message_id.hex(),
        "direction": message.direction.value,
        "text": message.text,
        "sequence": message.sequence,
        "reply_to": message.reply_to.hex() if message.reply_to else None,
        "edited": message.edited,
        "deleted": message.deletion.value,
        "receipt": message.receipt.value,
        "integrity": message.integrity,
        "reactions": [[r.direction.value, r.emoji] for r in message.reactions],
        "sent_at": message.sent_at,
    }


def incoming_shape(incoming: Incoming) -> IncomingShape:
    """One arrival, as ``veil receive --json`` lists it."""
    return {
        "kind": incoming.kind,
        "contact": incoming.contact,
        "text": incoming.text,
        "id": incoming.row_id,
        "integrity": incoming.integrity,
        "request": incoming.request_id,
    }


def event_shape(event: EventRecord) -> EventShape:
    """One logged event, with its sequence number."""
    return {
        "seq": event.seq,
        "kind": event.kind,
        "contact": event.contact,
        "text": event.text,
        "id": event.row_id,
        "integrity": event.integrity,
        "request": event.request_id,
        "at": event.at,
    }
