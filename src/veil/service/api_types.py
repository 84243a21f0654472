"""The API's shapes: every method's parameters and result, and every event.

These TypedDicts are the single definition of the JSON that ``veil ... --json``
prints and the API sends; the JSON Schema in ``docs/api/schema.json`` is generated
from them (:mod:`veil.service.schema`) and a test keeps the file in step. This
module imports nothing from the chat layer, so the API client can use it alone.
"""

# No ``from __future__ import annotations``: TypedDict must see ``NotRequired`` itself.
from typing import Literal, NotRequired, TypedDict

__all__ = [
    "API_VERSIONS",
    "AcceptParams",
    "AddressResult",
    "ContactParams",
    "ContactResult",
    "ContactRow",
    "ContactShape",
    "ContactsResult",
    "DeleteParams",
    "DeletedAddressResult",
    "DeletedResult",
    "DeletionName",
    "DirectionName",
    "EditParams",
    "EditedResult",
    "Empty",
    "EventShape",
    "EventsParams",
    "EventsResult",
    "HelloParams",
    "HelloResult",
    "HistoryParams",
    "HistoryResult",
    "IncomingShape",
    "InviteParams",
    "LinkParams",
    "LinkResult",
    "MessageShape",
    "OperatorShape",
    "OperatorsResult",
    "ReactParams",
    "ReactedResult",
    "ReceiptName",
    "RejectedResult",
    "RelayEntryShape",
    "RelaysResult",
    "RelaysShape",
    "RemovedResult",
    "RenameParams",
    "RenameResult",
    "RepairResult",
    "RequestRow",
    "RequestsResult",
    "SendParams",
    "SentResult",
    "StatusName",
    "SubscribeParams",
    "SubscribeResult",
    "VerifyParams",
    "VerifyResult",
]

StatusName = Literal["connecting", "connected", "desynchronised", "deleted"]
DirectionName = Literal["sent", "received"]
DeletionName = Literal["none", "for_me", "for_everyone"]
ReceiptName = Literal["pending", "sent", "delivered", "read"]

#: The API versions this code speaks (lowest, highest); ``hello`` agrees on one.
API_VERSIONS = (1, 1)


class Empty(TypedDict):
    """No parameters."""


class HelloParams(TypedDict):
    """Authenticate the connection and agree on an API version."""

    token: str
    min_version: int
    max_version: int


class HelloResult(TypedDict):
    version: int
    min_version: int
    max_version: int
    last_event: int


class RelaysShape(TypedDict):
    receive: str
    send: str | None
    proxied: bool


class ContactShape(TypedDict):
    alias: str
    name: str
    full_name: str | None
    bio: str | None
    status: StatusName
    verified: bool


class ContactRow(ContactShape):
    """A contact in the list: ``pq`` and ``ratchet_version`` are what its newest
    connection rests on (``None`` before keys are agreed); ``stuck``: still connecting
    after a day (ask for a new link, or ``remove`` it)."""

    pq: bool | None
    ratchet_version: int | None
    stuck: bool
    relays: list[RelaysShape]


class ContactsResult(TypedDict):
    contacts: list[ContactRow]


class ContactResult(TypedDict):
    contact: ContactShape


class InviteParams(TypedDict):
    """``short``: keep the invitation on our relay behind a short link that scans as a
    small QR code."""

    short: NotRequired[bool]


class LinkParams(TypedDict):
    link: str


class LinkResult(TypedDict):
    link: str


class AddressResult(TypedDict):
    link: str | None


class DeletedAddressResult(TypedDict):
    deleted: bool


class RequestRow(TypedDict):
    id: int
    name: str


class RequestsResult(TypedDict):
    requests: list[RequestRow]


class AcceptParams(TypedDict):
    request_id: int


class RejectedResult(TypedDict):
    rejected: int


class ContactParams(TypedDict):
    contact: str


class RenameParams(TypedDict):
    contact: str
    alias: str


class RenameResult(TypedDict):
    contact: str
    alias: str


class VerifyParams(TypedDict):
    contact: str
    code: NotRequired[str | None]


class VerifyResult(TypedDict):
    """``pq``: ML-KEM-768 protects the connection; ``code_version``: the code covers
    the identity keys only (1) or the whole key agreement (2)."""

    contact: str
    code: str
    entered: str | None
    verified: bool
    pq: bool
    ratchet_version: int
    code_version: int


class RemovedResult(TypedDict):
    """The contact removed, and how many of its receive queues the relays deleted."""

    removed: str
    queues_deleted: int


class RepairResult(TypedDict):
    contact: str
    repaired: bool


class SendParams(TypedDict):
    contact: str
    texts: list[str]
    reply_to: NotRequired[int | None]


class SentResult(TypedDict):
    sent: list[int]
    pending: int


class EditParams(TypedDict):
    contact: str
    message_id: int
    text: str


class EditedResult(TypedDict):
    edited: int


class DeleteParams(TypedDict):
    contact: str
    message_id: int
    for_everyone: NotRequired[bool]


class DeletedResult(TypedDict):
    deleted: int


class ReactParams(TypedDict):
    contact: str
    message_id: int
    emoji: str
    remove: NotRequired[bool]


class ReactedResult(TypedDict):
    reacted: int
    emoji: str
    added: bool


class HistoryParams(TypedDict):
    contact: str
    limit: NotRequired[int | None]


class MessageShape(TypedDict):
    """One message. ``id`` is this store's row (for edit, react, reply); ``ref`` is the
    id both sides share. ``is_reply``: it replies to another, whose row ``reply_to``
    gives when that one is in the listed history (else ``None``)."""

    id: int
    ref: str
    direction: DirectionName
    text: str | None
    sequence: int
    is_reply: bool
    reply_to: int | None
    edited: bool
    deleted: DeletionName
    receipt: ReceiptName
    integrity: str
    reactions: list[list[str]]
    sent_at: float


class HistoryResult(TypedDict):
    contact: str
    messages: list[MessageShape]


class RelayEntryShape(TypedDict):
    """A relay of the routing policy, as ``veil relays list --json`` shows it."""

    address: str
    fingerprint: str
    operator: str
    own: bool
    receive: bool
    proxy: bool


class RelaysResult(TypedDict):
    """The routing policy: its mode, the SOCKS5 proxy and the relays."""

    mode: str
    socks: str | None
    relays: list[RelayEntryShape]


class OperatorShape(TypedDict):
    name: str
    relays: list[RelayEntryShape]


class OperatorsResult(TypedDict):
    operators: list[OperatorShape]


class IncomingShape(TypedDict):
    """Something that arrived, as ``veil receive --json`` lists it."""

    kind: str
    contact: str | None
    text: str
    id: int | None
    integrity: str
    request: int | None
    group: NotRequired[str]
    sender: NotRequired[str]


class EventShape(IncomingShape):
    """An arrival from the event log, with its sequence number and time.

    ``kind``: message, edit, delete, reaction, profile, connected, request, desync,
    repair-request, repaired, error, or receipt (``text`` is the status, ``id`` our
    message's row); file (an offer: ``id`` its transfer), file-progress,
    file-done, file-failed; connection (``text``: the contact's new status),
    relay-unreachable, relay-reachable (``text``: the relay), delivery-failed
    (``id``: our oldest message still pending).

    In a group, ``group`` is the group's alias and ``sender`` the display name of the
    member the event is about (``contact`` is null: ``group.members`` tells who is a
    contact), and ``id`` is the seq of the message it is about. Kinds: message, edit,
    delete, reaction (``text``: the emoji, empty when withdrawn), member-joined,
    member-left, member-removed (``text``: who removed them), role-changed (``text``:
    the new role), group-joined, group-left, group-removed (``text``: by whom),
    group-retention, and error (an entry every member skipped). Our own posts are not
    logged. See docs/protocol/service.md."""

    seq: int
    at: float


class EventsParams(TypedDict):
    since: int
    limit: NotRequired[int]


class EventsResult(TypedDict):
    events: list[EventShape]
    last: int


class SubscribeParams(TypedDict):
    """Stream the events after ``since`` (0: all that are kept)."""

    since: int


class SubscribeResult(TypedDict):
    """Events after ``since`` follow as ``event`` notifications, oldest first."""

    since: int
    last: int
