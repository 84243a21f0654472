"""The API's catalog: each method's name, parameter and result shapes, and summary.

The service binds a handler to every name here (:mod:`veil.service.methods`), the
schema is generated from it (:mod:`veil.service.schema`), and ``docs/api.md`` from
the schema. Method names follow the CLI's commands (``address create`` becomes
``address.create``).
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.service import api_file_types as ft
from veil.service import api_types as t
from veil.service.group_catalog import GROUP_METHODS

__all__ = ["EVENT_NOTIFICATION", "METHODS", "MethodSpec"]

#: The notification method that carries each event to a subscriber.
EVENT_NOTIFICATION = "event"


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One API method: what it takes, what it returns, what it does."""

    params: type
    result: type
    summary: str


METHODS: dict[str, MethodSpec] = {
    "hello": MethodSpec(
        t.HelloParams,
        t.HelloResult,
        "Authenticate with the profile's token and agree on an API version; must come first.",
    ),
    "contacts": MethodSpec(
        t.Empty, t.ContactsResult, "Every contact: status, protection, stuck or not, relays."
    ),
    "invite": MethodSpec(t.InviteParams, t.LinkResult, "A new one-time invitation link."),
    "connect": MethodSpec(
        t.LinkParams, t.ContactResult, "Join an invitation or send a request to an address."
    ),
    "address.create": MethodSpec(t.Empty, t.LinkResult, "Create the contact address."),
    "address.show": MethodSpec(t.Empty, t.AddressResult, "The contact address, if any."),
    "address.delete": MethodSpec(t.Empty, t.DeletedAddressResult, "Delete the contact address."),
    "requests": MethodSpec(t.Empty, t.RequestsResult, "Contact requests waiting for an answer."),
    "accept": MethodSpec(t.AcceptParams, t.ContactResult, "Accept a contact request."),
    "reject": MethodSpec(t.AcceptParams, t.RejectedResult, "Reject a contact request."),
    "rename": MethodSpec(t.RenameParams, t.RenameResult, "Give a contact a new local alias."),
    "verify": MethodSpec(
        t.VerifyParams, t.VerifyResult, "Show the security code, or compare the one given."
    ),
    "remove": MethodSpec(
        t.ContactParams,
        t.RemovedResult,
        "Remove a contact with the conversation and delete its queues (it is not told).",
    ),
    "repair": MethodSpec(t.ContactParams, t.RepairResult, "Offer or accept fresh keys."),
    "send": MethodSpec(t.SendParams, t.SentResult, "Send one message per text."),
    "edit": MethodSpec(t.EditParams, t.EditedResult, "Replace the text of one of your messages."),
    "delete": MethodSpec(t.DeleteParams, t.DeletedResult, "Delete a message (for you or all)."),
    "react": MethodSpec(t.ReactParams, t.ReactedResult, "Set or withdraw a reaction."),
    "history": MethodSpec(t.HistoryParams, t.HistoryResult, "The conversation with a contact."),
    "relays": MethodSpec(
        t.Empty, t.RelaysResult, "The routing policy file: mode, SOCKS5 proxy, relays."
    ),
    "operators": MethodSpec(t.Empty, t.OperatorsResult, "Operators and their relays."),
    "events": MethodSpec(
        t.EventsParams, t.EventsResult, "Logged events after sequence number `since`."
    ),
    "file.send": MethodSpec(
        ft.FileSendParams,
        ft.FileShape,
        "Upload a file and offer it to a contact; resumes an interrupted send.",
    ),
    "file.list": MethodSpec(
        t.Empty, ft.FileListResult, "File transfers, sends under way, the acceptance limit."
    ),
    "file.receive": MethodSpec(
        ft.FileReceiveParams,
        ft.FileReceiveResult,
        "Download an offered file (or every one within the limit); resumes.",
    ),
    "file.settings": MethodSpec(
        ft.FileSettingsParams,
        ft.FileSettingsResult,
        "Read or set the size up to which offers download as they arrive.",
    ),
    "subscribe": MethodSpec(
        t.SubscribeParams,
        t.SubscribeResult,
        "Stream every event after `since` as `event` notifications, then each new one.",
    ),
}
METHODS.update({name: MethodSpec(*spec) for name, spec in GROUP_METHODS.items()})
