"""The API's ``group.*`` methods over a messenger's :class:`~veil.chat.group_host.GroupHost`.

Like :mod:`veil.service.methods`, each handler takes checked parameters and returns
its shape (:mod:`veil.service.api_group_types`), and the CLI runs the same handlers
in-process when no service runs. Under ``veil serve`` the host lives as long as the
service and its receive loop catches up with every group, so ``group.history``
reads the store as it is; in-process, ``group.history`` and ``group.sync`` catch up
first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from veil.agent.groups.policy import Role
from veil.chat.app import Messenger
from veil.chat.group_host import groups_of
from veil.chat.groups import GroupNotice
from veil.chat.store.groups import GroupMessageRecord
from veil.service import api_group_types as g

__all__ = ["GROUP_HANDLERS", "GROUP_NEW_QUEUE_METHODS", "group_message_shape", "group_notice_shape"]

#: How long ``group.sync`` and ``group.history`` receive in-process by default.
DEFAULT_IDLE = 1.0


def group_message_shape(
    message: GroupMessageRecord, names: dict[bytes, str]
) -> g.GroupMessageShape:
    """One group message; ``names`` maps handles to display names."""
    return {
        "seq": message.seq,
        "id": message.message_id.hex(),
        "sender": message.sender.hex(),
        "name": names.get(message.sender, ""),
        "own": message.own,
        "text": message.text,
        "reply_to": message.reply_to.hex() if message.reply_to else None,
        "edited": message.edited,
        "deleted": message.deleted_by is not None,
        "reactions": [[sender.hex(), emoji] for sender, emoji in message.reactions],
    }


def group_notice_shape(notice: GroupNotice) -> g.GroupNoticeShape:
    """One notice of ``group.sync``."""
    return {
        "kind": notice.kind,
        "group": notice.group,
        "text": notice.text,
        "sender": notice.sender,
        "contact": notice.contact,
        "message": notice.message,
    }


async def _create(messenger: Messenger, params: g.GroupCreateParams) -> g.GroupCreatedResult:
    alias = params.get("alias") or params["name"]
    chat = groups_of(messenger).chat
    group_id = await chat.create(alias, params["name"], messenger.profile.display_name)
    return {"group": alias, "id": group_id.hex()}


async def _invite(messenger: Messenger, params: g.GroupInviteParams) -> g.GroupLinkResult:
    role = Role.parse(params.get("role", "member"))
    link = await groups_of(messenger).joins.invite(params["group"], role)
    return {"group": params["group"], "link": link}


async def _join(messenger: Messenger, params: g.GroupJoinParams) -> g.GroupJoinResult:
    contact = await groups_of(messenger).joins.join(params["link"], params["alias"])
    return {"group": params["alias"], "contact": contact.alias, "status": "requested"}


async def _sync(messenger: Messenger, params: g.GroupSyncParams) -> g.GroupSyncResult:
    notices = await groups_of(messenger).sync(params.get("idle", DEFAULT_IDLE))
    return {"notices": [group_notice_shape(n) for n in notices]}


async def _list(messenger: Messenger, _: Any) -> g.GroupListResult:
    # From the store alone: the CLI asks on every send, a profile without groups too.
    with messenger.store.transaction() as tx:
        return {"groups": [alias for alias, _ in tx.groups.aliases()]}


async def _info(messenger: Messenger, params: g.GroupParams) -> g.GroupInfoResult:
    chat = groups_of(messenger).chat
    member = chat.engine.member(chat.group_id(params["group"]))
    policy = member.policy
    return {
        "group": params["group"],
        "name": policy.name,
        "description": policy.description,
        "epoch": member.mls.context.epoch,
        "members": len(member.mls.tree.members()),
        "role": _role(member.role),
        "status": member.status.name.lower(),
        "public": policy.public,
    }


async def _members(messenger: Messenger, params: g.GroupParams) -> g.GroupMembersResult:
    views = groups_of(messenger).chat.members(params["group"])
    rows: list[g.GroupMemberShape] = [
        {
            "handle": view.handle.hex(),
            "name": view.display_name,
            "role": _role(view.role),
            "you": view.you,
            "contact": view.contact,
            "verified": view.contact is not None,
        }
        for view in views
    ]
    return {"group": params["group"], "members": rows}


async def _role_method(messenger: Messenger, params: g.GroupRoleParams) -> g.GroupRoleResult:
    chat = groups_of(messenger).chat
    handle = chat.find_member(params["group"], params["member"])
    await chat.engine.set_role(chat.group_id(params["group"]), handle, Role.parse(params["role"]))
    return {"group": params["group"], "member": params["member"], "role": params["role"]}


async def _remove(messenger: Messenger, params: g.GroupMemberParams) -> g.GroupRemovedResult:
    chat = groups_of(messenger).chat
    handle = chat.find_member(params["group"], params["member"])
    await chat.engine.remove(chat.group_id(params["group"]), handle)
    return {"group": params["group"], "removed": params["member"]}


async def _leave(messenger: Messenger, params: g.GroupParams) -> g.GroupLeftResult:
    chat = groups_of(messenger).chat
    await chat.engine.leave(chat.group_id(params["group"]))
    return {"group": params["group"], "left": True}


async def _send(messenger: Messenger, params: g.GroupSendParams) -> g.GroupSentResult:
    chat, alias = groups_of(messenger).chat, params["group"]
    seq = params.get("reply_to")
    reply_to = None if seq is None else chat.message_at(alias, seq)
    sent = [(await chat.send(alias, text, reply_to)).hex() for text in params["texts"]]
    return {"group": alias, "sent": sent}


async def _history(messenger: Messenger, params: g.GroupHistoryParams) -> g.GroupHistoryResult:
    host = groups_of(messenger)
    alias = params["group"]
    host.chat.group_id(alias)  # an unknown group fails before any waiting
    if not host.receives_elsewhere:
        await host.sync(DEFAULT_IDLE)
    names = {m.handle: m.display_name for m in host.chat.members(alias)}
    messages = host.chat.history(alias, params.get("limit"))
    return {"group": alias, "messages": [group_message_shape(m, names) for m in messages]}


async def _edit(messenger: Messenger, params: g.GroupEditParams) -> g.GroupChangedResult:
    chat, alias = groups_of(messenger).chat, params["group"]
    await chat.edit(alias, chat.message_at(alias, params["seq"]), params["text"])
    return {"group": alias, "seq": params["seq"]}


async def _delete(messenger: Messenger, params: g.GroupDeleteParams) -> g.GroupChangedResult:
    chat, alias = groups_of(messenger).chat, params["group"]
    await chat.delete(alias, chat.message_at(alias, params["seq"]))
    return {"group": alias, "seq": params["seq"]}


async def _react(messenger: Messenger, params: g.GroupReactParams) -> g.GroupReactedResult:
    chat, alias = groups_of(messenger).chat, params["group"]
    added = not params.get("remove", False)
    await chat.react(alias, chat.message_at(alias, params["seq"]), params["emoji"], added)
    return {"group": alias, "seq": params["seq"], "emoji": params["emoji"], "added": added}


def _role(role: Role) -> g.GroupRoleName:
    return cast(g.GroupRoleName, role.name.lower())


#: The ``group.*`` methods, by API name (merged into ``HANDLERS``).
GROUP_HANDLERS: dict[str, Callable[[Messenger, Any], Awaitable[Any]]] = {
    "group.create": _create,
    "group.invite": _invite,
    "group.join": _join,
    "group.sync": _sync,
    "group.list": _list,
    "group.info": _info,
    "group.members": _members,
    "group.role": _role_method,
    "group.remove": _remove,
    "group.leave": _leave,
    "group.send": _send,
    "group.history": _history,
    "group.edit": _edit,
    "group.delete": _delete,
    "group.react": _react,
}
#: Group methods that may make a receive queue (a contact address, a connection).
GROUP_NEW_QUEUE_METHODS = frozenset({"group.invite", "group.join"})
