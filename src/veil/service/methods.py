"""The API's methods over a :class:`~veil.chat.app.Messenger`.

Each handler takes parameters already checked against its TypedDict
(:mod:`veil.service.catalog`) and returns its result shape. The CLI runs these
same handlers in-process when no service runs (:class:`LocalApi`), so
``veil ... --json`` and the API cannot drift apart. ``hello`` and ``subscribe``
belong to a connection and live in the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from veil.chat.app import Messenger
from veil.chat.roster import contact_overview, remove_contact
from veil.chat.routing import policy_file
from veil.routing.cli import list_operators, list_relays
from veil.routing.config_file import PolicyStore
from veil.service import api_types as t
from veil.service.errors import EventsPruned, UnknownMethod
from veil.service.file_methods import FILE_HANDLERS
from veil.service.group_methods import GROUP_HANDLERS, GROUP_NEW_QUEUE_METHODS
from veil.service.rpc import Request
from veil.service.schema import check_call
from veil.service.shapes import (
    contact_shape,
    event_shape,
    message_shape,
    relays_shape,
)

__all__ = ["HANDLERS", "MAX_EVENTS_PAGE", "NEW_QUEUE_METHODS", "LocalApi", "events_after"]

#: The most events one ``events`` call (or one subscription step) returns.
MAX_EVENTS_PAGE = 500
Handler = Callable[[Messenger, Any], Awaitable[Any]]


async def _contacts(messenger: Messenger, _: t.Empty) -> t.ContactsResult:
    rows: list[t.ContactRow] = [
        {
            **contact_shape(entry.contact),
            "pq": entry.pq,
            "ratchet_version": entry.ratchet_version,
            "stuck": entry.stuck,
            "relays": [relays_shape(r) for r in messenger.relays_of(entry.contact)],
        }
        for entry in contact_overview(messenger.store, messenger.agent, messenger.now())
    ]
    return {"contacts": rows}


async def _invite(messenger: Messenger, params: t.InviteParams) -> t.LinkResult:
    return {"link": await messenger.invite(short=params.get("short", False))}


async def _connect(messenger: Messenger, params: t.LinkParams) -> t.ContactResult:
    return {"contact": contact_shape(await messenger.connect(params["link"]))}


async def _address_create(messenger: Messenger, _: t.Empty) -> t.LinkResult:
    return {"link": await messenger.create_address()}


async def _address_show(messenger: Messenger, _: t.Empty) -> t.AddressResult:
    return {"link": messenger.address()}


async def _address_delete(messenger: Messenger, _: t.Empty) -> t.DeletedAddressResult:
    await messenger.delete_address()
    return {"deleted": True}


async def _requests(messenger: Messenger, _: t.Empty) -> t.RequestsResult:
    pending = messenger.requests()
    return {"requests": [{"id": r.request_id, "name": r.profile.display_name} for r in pending]}


async def _accept(messenger: Messenger, params: t.AcceptParams) -> t.ContactResult:
    return {"contact": contact_shape(await messenger.accept(params["request_id"]))}


async def _reject(messenger: Messenger, params: t.AcceptParams) -> t.RejectedResult:
    messenger.reject(params["request_id"])
    return {"rejected": params["request_id"]}


async def _rename(messenger: Messenger, params: t.RenameParams) -> t.RenameResult:
    messenger.rename(params["contact"], params["alias"])
    return {"contact": params["contact"], "alias": params["alias"]}


async def _verify(messenger: Messenger, params: t.VerifyParams) -> t.VerifyResult:
    check = messenger.verify(params["contact"], params.get("code"))
    return {
        "contact": params["contact"],
        "code": check.ours,
        "entered": check.theirs,
        "verified": check.verified,
        "pq": check.pq,
        "ratchet_version": check.ratchet_version,
        "code_version": check.code_version,
    }


async def _remove(messenger: Messenger, params: t.ContactParams) -> t.RemovedResult:
    target = messenger.contact(params["contact"])
    deleted = await remove_contact(messenger.store, messenger.agent, target, messenger.now())
    return {"removed": params["contact"], "queues_deleted": deleted}


async def _repair(messenger: Messenger, params: t.ContactParams) -> t.RepairResult:
    repaired = await messenger.repair(params["contact"])
    return {"contact": params["contact"], "repaired": repaired}


async def _send(messenger: Messenger, params: t.SendParams) -> t.SentResult:
    target = messenger.contact(params["contact"])
    stored = await messenger.conversation.send_texts(
        target.contact_id, params["texts"], params.get("reply_to")
    )
    return {"sent": [m.row_id for m in stored], "pending": messenger.pending_sends()}


async def _edit(messenger: Messenger, params: t.EditParams) -> t.EditedResult:
    target = messenger.contact(params["contact"]).contact_id
    await messenger.conversation.edit(target, params["message_id"], params["text"])
    return {"edited": params["message_id"]}


async def _delete(messenger: Messenger, params: t.DeleteParams) -> t.DeletedResult:
    target = messenger.contact(params["contact"]).contact_id
    everyone = params.get("for_everyone", False)
    await messenger.conversation.delete(target, params["message_id"], for_everyone=everyone)
    return {"deleted": params["message_id"]}


async def _react(messenger: Messenger, params: t.ReactParams) -> t.ReactedResult:
    target = messenger.contact(params["contact"]).contact_id
    added = not params.get("remove", False)
    await messenger.conversation.react(target, params["message_id"], params["emoji"], added=added)
    return {"reacted": params["message_id"], "emoji": params["emoji"], "added": added}


async def _history(messenger: Messenger, params: t.HistoryParams) -> t.HistoryResult:
    target = messenger.contact(params["contact"])
    with messenger.store.transaction() as tx:
        messages = tx.messages.history(target.contact_id, params.get("limit"))
    rows = {message.message_id: message.row_id for message in messages}
    return {"contact": target.alias, "messages": [message_shape(m, rows) for m in messages]}


def _policy_file(messenger: Messenger) -> PolicyStore:
    return policy_file(messenger.store.path.parent)


async def _relays(messenger: Messenger, _: t.Empty) -> t.RelaysResult:
    return cast(t.RelaysResult, list_relays(_policy_file(messenger))[0])


async def _operators(messenger: Messenger, _: t.Empty) -> t.OperatorsResult:
    return cast(t.OperatorsResult, list_operators(_policy_file(messenger))[0])


async def _events(messenger: Messenger, params: t.EventsParams) -> t.EventsResult:
    limit = max(1, min(params.get("limit", MAX_EVENTS_PAGE), MAX_EVENTS_PAGE))
    events, last = events_after(messenger, params["since"], limit)
    return {"events": events, "last": last}


def events_after(messenger: Messenger, since: int, limit: int) -> tuple[list[t.EventShape], int]:
    """Up to ``limit`` logged events after ``since``, and the newest sequence number.

    :class:`EventsPruned` if events after ``since`` were already dropped from the log."""
    with messenger.store.transaction() as tx:
        events = tx.events.since(since, limit)
        last, oldest = tx.events.last(), tx.events.oldest()
    if since < last and (oldest is None or oldest > since + 1):
        raise EventsPruned(
            f"events after #{since} are no longer kept (the oldest is #{oldest}): "
            "read the history, then subscribe from the last event"
        )
    return [event_shape(e) for e in events], last


#: Every method a ``Messenger`` answers by itself, by API name.
HANDLERS: dict[str, Handler] = {
    "contacts": _contacts,
    "invite": _invite,
    "connect": _connect,
    "address.create": _address_create,
    "address.show": _address_show,
    "address.delete": _address_delete,
    "requests": _requests,
    "accept": _accept,
    "reject": _reject,
    "rename": _rename,
    "verify": _verify,
    "repair": _repair,
    "remove": _remove,
    "send": _send,
    "edit": _edit,
    "delete": _delete,
    "react": _react,
    "history": _history,
    "relays": _relays,
    "operators": _operators,
    "events": _events,
    **FILE_HANDLERS,
    **GROUP_HANDLERS,
}
#: Methods after which the receive loop must subscribe a new receive queue.
NEW_QUEUE_METHODS = (
    frozenset({"invite", "connect", "accept", "address.create"}) | GROUP_NEW_QUEUE_METHODS
)


class LocalApi:
    """The API in-process, over an open :class:`Messenger` (the CLI without a service)."""

    def __init__(self, messenger: Messenger) -> None:
        self.messenger = messenger

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Check ``params`` against the method's shape and run it; return its result."""
        request = Request(None, method, params or {})
        check_call(request)
        handler = HANDLERS.get(method)
        if handler is None:  # hello and subscribe belong to a service connection
            raise UnknownMethod(f"{method!r} is a method of `veil serve` only")
        return await handler(self.messenger, request.params)
