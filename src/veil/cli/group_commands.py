"""The ``veil group`` commands: create, invite, join, sync, members, role, remove,
leave, info and list; and the group side of ``veil send`` and ``veil history``.

Groups have no API methods yet: these commands open the store in-process and refuse
beside a running ``veil serve`` (stop it first). Group logs live on the profile's first
receiving relay; the engine reaches them directly (posting through the proxy hop is
not wired yet, see groups.md).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import click

from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.policy import Role
from veil.agent.groups.relay_log import RelayGroupLog
from veil.agent.links import render_qr
from veil.chat.app import Messenger
from veil.chat.errors import RecordNotFound
from veil.chat.group_joins import GroupJoins
from veil.chat.groups import GroupChat, GroupNotice
from veil.chat.store.groups import GroupMessageRecord
from veil.cli.group_chat_loop import run_group_chat
from veil.cli.sessions import DirectSession, Session
from veil.cli.support import Output, common_options, with_local_messenger
from veil.crypto import SystemRandom
from veil.relay.client.relay_client import RelayClient

__all__ = [
    "GROUP_COMMANDS",
    "Change",
    "change_in_group",
    "chat_in_group",
    "group_history",
    "local_messenger",
    "send_to_group",
]

LOG_DELIVERY_WINDOW = 255


@dataclass
class Groups:
    """The profile's groups for one command."""

    chat: GroupChat
    joins: GroupJoins
    log: RelayGroupLog


async def _connect(address: str) -> RelayClient:
    return await RelayClient.connect(address, delivery_window=LOG_DELIVERY_WINDOW)


@contextlib.asynccontextmanager
async def open_groups(messenger: Messenger) -> AsyncIterator[Groups]:
    """Group chat over the relays, for the length of one command."""
    receiving = [str(relay.address) for relay in messenger.policy.relays if relay.receive]
    if not receiving:
        raise click.UsageError("no relay is enabled for receiving: `veil relays enable`")
    rng = SystemRandom()
    log = RelayGroupLog(_connect, receiving[0], rng)
    engine = GroupEngine(messenger.store, log, rng=rng, clock=time.time)
    chat = GroupChat(messenger.store, engine, rng, time.time)
    try:
        yield Groups(chat, GroupJoins(messenger, chat, rng, time.time), log)
    finally:
        await log.close()


def local_messenger(session: Session) -> Messenger | None:
    """The store a command holds in-process, where groups live until the API has
    group methods; None through ``veil serve``."""
    return session.messenger if isinstance(session, DirectSession) else None


def _is_group(messenger: Messenger, name: str) -> bool:
    with messenger.store.transaction() as tx:
        try:
            tx.groups.find(name)
        except RecordNotFound:
            return False
    return True


def _message_json(message: GroupMessageRecord, names: dict[bytes, str]) -> dict[str, Any]:
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


def _notice_json(notice: GroupNotice) -> dict[str, str]:
    return {
        "kind": notice.kind,
        "group": notice.group,
        "text": notice.text,
        "sender": notice.sender,
    }


async def send_to_group(messenger: Messenger, output: Output, name: str, texts: list[str]) -> bool:
    """``veil send GROUP TEXT...``: False if ``name`` is no group of ours."""
    if not _is_group(messenger, name):
        return False
    async with open_groups(messenger) as groups:
        ids = [(await groups.chat.send(name, text)).hex() for text in texts]
    output.emit({"sent": ids, "group": name}, f"Sent {len(ids)} message(s) to {name}.")
    return True


async def group_history(messenger: Messenger, output: Output, name: str, limit: int | None) -> bool:
    """``veil history GROUP``: the group's messages in log order (after a sync)."""
    if not _is_group(messenger, name):
        return False
    async with open_groups(messenger) as groups:
        await _sync(messenger, groups)
        names = {m.handle: m.display_name for m in groups.chat.members(name)}
        messages = groups.chat.history(name, limit)
    lines = [
        f"#{m.seq} {'you' if m.own else names.get(m.sender, m.sender.hex()[:8])}: "
        f"{'(deleted)' if m.deleted_by else m.text}{'  [edited]' if m.edited else ''}"
        for m in messages
    ]
    output.emit(
        {"group": name, "messages": [_message_json(m, names) for m in messages]},
        "\n".join(lines) or "(no messages yet)",
    )
    return True


@dataclass(frozen=True)
class Change:
    """An edit (``text``), a delete, or a reaction (``emoji``) to a group message."""

    text: str | None = None
    delete: bool = False
    emoji: str | None = None
    added: bool = True


async def change_in_group(
    messenger: Messenger, output: Output, name: str, seq: int, change: Change
) -> bool:
    """``veil edit/delete/react GROUP SEQ ...`` (a group message is named by its ``#seq``
    in ``veil history GROUP``): False if ``name`` is no group of ours."""
    if not _is_group(messenger, name):
        return False
    async with open_groups(messenger) as groups:
        found = [m for m in groups.chat.history(name) if m.seq == seq]
        if not found:
            raise click.UsageError(f"{name} has no message #{seq}: see `veil history {name}`")
        message_id = found[0].message_id
        if change.text is not None:
            await groups.chat.edit(name, message_id, change.text)
        elif change.delete:
            await groups.chat.delete(name, message_id)
        elif change.emoji is not None:
            await groups.chat.react(name, message_id, change.emoji, change.added)
    output.emit({"group": name, "seq": seq}, f"Done (#{seq} in {name}).")
    return True


async def chat_in_group(messenger: Messenger, name: str) -> bool:
    """``veil chat GROUP``: False if ``name`` is no group of ours."""
    if not _is_group(messenger, name):
        return False
    async with open_groups(messenger) as groups:
        await run_group_chat(groups.chat, name)
    return True


async def _sync(messenger: Messenger, groups: Groups, idle: float = 1.0) -> list[GroupNotice]:
    """Receive pairwise messages, move joins along, catch up with every group."""
    notices: list[GroupNotice] = []
    await messenger.receive(idle=idle, on_incoming=lambda _: None)
    await groups.joins.process()
    for alias, _ in groups.chat.aliases():
        notices += await groups.chat.sync(alias)
    await messenger.agent.outbox.flush(force=True)
    await groups.joins.process()
    return notices


@click.group("group")
def group() -> None:
    """Groups: MLS over ordered relay logs (`veil group create NAME` to start)."""


@group.command()
@common_options
@click.argument("name")
@click.option("--alias", help="Local name for the group (default: NAME).")
@with_local_messenger
async def create(messenger: Messenger, output: Output, *, name: str, alias: str | None) -> None:
    """Create a group named NAME, owned by you."""
    async with open_groups(messenger) as groups:
        group_id = await groups.chat.create(alias or name, name, messenger.profile.display_name)
    output.emit({"group": alias or name, "id": group_id.hex()}, f"Created group {alias or name}.")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@click.option("--qr", is_flag=True, help="Also print the link as a QR code.")
@click.option("--role", type=click.Choice(["member", "observer", "admin"]), default="member")
@with_local_messenger
async def invite(
    messenger: Messenger, output: Output, *, group_name: str, qr: bool, role: str
) -> None:
    """A link that lets someone ask to join GROUP (you accept their request)."""
    async with open_groups(messenger) as groups:
        link = await groups.joins.invite(group_name, Role.parse(role))
    text = link + ("\n" + render_qr(link) if qr else "")
    output.emit({"link": link, "group": group_name}, text)


@group.command()
@common_options
@click.argument("link")
@click.option("--alias", required=True, help="Local name for the group.")
@with_local_messenger
async def join(messenger: Messenger, output: Output, *, link: str, alias: str) -> None:
    """Ask to join a group by its link; `veil group sync` finishes once accepted."""
    async with open_groups(messenger) as groups:
        contact = await groups.joins.join(link, alias)
    output.emit(
        {"group": alias, "contact": contact.alias, "status": "requested"},
        f"Asked to join {alias}; run `veil group sync` after the admin accepts.",
    )


@group.command()
@common_options
@click.option("--idle", type=float, default=1.0, help="Seconds of quiet before stopping.")
@with_local_messenger
async def sync(messenger: Messenger, output: Output, *, idle: float) -> None:
    """Receive, move joins along, and catch up with every group."""
    async with open_groups(messenger) as groups:
        notices = await _sync(messenger, groups, idle)
    lines = [
        f"[{n.group}] {n.kind}: {n.sender + ': ' if n.sender else ''}{n.text}" for n in notices
    ]
    output.emit({"notices": [_notice_json(n) for n in notices]}, "\n".join(lines))


@group.command("list")
@common_options
@with_local_messenger
async def list_groups(messenger: Messenger, output: Output) -> None:
    """The groups you are in."""
    async with open_groups(messenger) as groups:
        aliases = [alias for alias, _ in groups.chat.aliases()]
    output.emit({"groups": aliases}, "\n".join(aliases) or "(no groups)")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@with_local_messenger
async def members(messenger: Messenger, output: Output, *, group_name: str) -> None:
    """GROUP's members with their roles."""
    async with open_groups(messenger) as groups:
        views = groups.chat.members(group_name)
    rows = [
        {
            "handle": m.handle.hex(),
            "name": m.display_name,
            "role": m.role.name.lower(),
            "you": m.you,
            "contact": m.contact,
            "verified": m.contact is not None,
        }
        for m in views
    ]
    lines = [
        f"{v.display_name or '?'} ({v.role.name.lower()}) {v.handle.hex()[:8]}"
        + (" (you)" if v.you else "")
        + (f" = your contact {v.contact} (verified)" if v.contact else "")
        for v in views
    ]
    output.emit({"group": group_name, "members": rows}, "\n".join(lines))


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@click.argument("member")
@click.argument("role", type=click.Choice(["owner", "admin", "member", "observer"]))
@with_local_messenger
async def role(
    messenger: Messenger, output: Output, *, group_name: str, member: str, role: str
) -> None:
    """Give MEMBER a ROLE in GROUP (owner transfers ownership)."""
    async with open_groups(messenger) as groups:
        handle = groups.chat.find_member(group_name, member)
        await groups.chat.engine.set_role(
            groups.chat.group_id(group_name), handle, Role.parse(role)
        )
    output.emit(
        {"group": group_name, "member": member, "role": role},
        f"{member} is now {role} (once committed).",
    )


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@click.argument("member")
@with_local_messenger
async def remove(messenger: Messenger, output: Output, *, group_name: str, member: str) -> None:
    """Remove MEMBER from GROUP."""
    async with open_groups(messenger) as groups:
        handle = groups.chat.find_member(group_name, member)
        await groups.chat.engine.remove(groups.chat.group_id(group_name), handle)
    output.emit({"group": group_name, "removed": member}, f"Removing {member} from {group_name}.")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@with_local_messenger
async def leave(messenger: Messenger, output: Output, *, group_name: str) -> None:
    """Leave GROUP (an owner transfers ownership first)."""
    async with open_groups(messenger) as groups:
        await groups.chat.engine.leave(groups.chat.group_id(group_name))
    output.emit({"group": group_name, "left": True}, f"Leaving {group_name}; an admin commits it.")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@with_local_messenger
async def info(messenger: Messenger, output: Output, *, group_name: str) -> None:
    """GROUP's name, description, epoch, size and your role."""
    async with open_groups(messenger) as groups:
        member = groups.chat.engine.member(groups.chat.group_id(group_name))
        policy = member.policy
        data = {
            "group": group_name,
            "name": policy.name,
            "description": policy.description,
            "epoch": member.mls.context.epoch,
            "members": len(member.mls.tree.members()),
            "role": member.role.name.lower(),
            "status": member.status.name.lower(),
            "public": policy.public,
        }
    output.emit(data, "\n".join(f"{key}: {value}" for key, value in data.items()))


GROUP_COMMANDS = (group,)
