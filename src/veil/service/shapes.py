"""Chat records as the API's JSON shapes — the one place each shape is made.

``veil ... --json`` and the API both print these, so a script that reads the CLI
and a client of the service read the same fields.
"""

from __future__ import annotations

from veil.chat.app import ConnectionRelays
from veil.chat.event_log import Arrival
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


def message_shape(message: MessageRecord, rows: dict[bytes, int]) -> MessageShape:
    """One message of a history; ``rows`` maps the history's message ids to row ids,
    so a reply names the row it replies to."""
    return {
        "id": message.row_id,
        "ref": message.message_id.hex(),
        "direction": message.direction.value,
        "text": message.text,
        "sequence": message.sequence,
        "is_reply": message.reply_to is not None,
        "reply_to": None if message.reply_to is None else rows.get(message.reply_to),
        "edited": message.edited,
        "deleted": message.deletion.value,
        "receipt": message.receipt.value,
        "integrity": message.integrity,
        "reactions": [[r.direction.value, r.emoji] for r in message.reactions],
        "sent_at": message.sent_at,
    }


def incoming_shape(arrival: Arrival) -> IncomingShape:
    """One arrival (live, or from the event log), as ``veil receive --json`` lists it."""
    return {
        "kind": arrival.kind,
        "contact": arrival.contact,
        "text": arrival.text,
        "id": arrival.row_id,
        "integrity": arrival.integrity,
        "request": arrival.request_id,
    }


def event_shape(event: EventRecord) -> EventShape:
    """One logged event, with its sequence number and time (and, in a group, the
    group's alias and the member it is about)."""
    shape: EventShape = {**incoming_shape(event), "seq": event.seq, "at": event.at}
    if event.group is not None:
        shape["group"] = event.group
        shape["sender"] = event.sender or ""
    return shape
