"""The ``veil group`` commands: create, invite, join, sync, members, role, remove,
leave, info and list; and the group side of ``veil send/edit/delete/react/history``.

Each is one ``group.*`` API call through the session: the profile's ``veil serve``
(which holds the groups and catches up with them all the time) or, with none
running, the same handlers in-process. ``--json`` prints the API's shapes
(:mod:`veil.service.api_group_types`). Group logs live on the profile's first
receiving relay.
"""

from __future__ import annotations

import click

from veil.agent.links import render_qr
from veil.cli.sessions import Session
from veil.cli.support import Output, common_options, with_session
from veil.service.api_group_types import GroupHistoryResult, GroupNoticeShape

__all__ = ["GROUP_COMMANDS", "group_history_text", "is_group", "notice_text"]


async def is_group(session: Session, name: str) -> bool:
    """Whether ``name`` is the alias of one of our groups (a group wins over a contact)."""
    return name in (await session.call("group.list"))["groups"]


def notice_text(notice: GroupNoticeShape) -> str:
    """One group happening as a line for a person."""
    who, text, kind = notice["sender"] or "someone", notice["text"], notice["kind"]
    seq = f"#{notice['message']}"
    lines = {
        "message": f"{who}: {text}  ({seq})",
        "edit": f"{who} edited {seq}: {text}",
        "delete": f"{who} deleted {seq}",
        "reaction": f"{who} reacted {text or '(removed)'} to {seq}",
        "member-joined": f"{who} joined",
        "member-left": f"{who} left",
        "member-removed": f"{who} was removed by {text or 'an admin'}",
        "role-changed": f"{who} is now {text}",
        "group-joined": "you joined",
        "group-left": "you left",
        "group-removed": f"you were removed{' by ' + text if text else ''}",
    }
    return f"[{notice['group']}] {lines.get(kind, f'{kind}: {text}')}"


def group_history_text(result: GroupHistoryResult) -> str:
    """A group's history as lines for a person."""
    lines = [
        f"#{m['seq']} {'you' if m['own'] else m['name'] or m['sender'][:8]}: "
        f"{'(deleted)' if m['deleted'] else m['text']}{'  [edited]' if m['edited'] else ''}"
        + ("  " + " ".join(emoji for _, emoji in m["reactions"]) if m["reactions"] else "")
        for m in result["messages"]
    ]
    return "\n".join(lines) or "(no messages yet)"


@click.group("group")
def group() -> None:
    """Groups: MLS over ordered relay logs (`veil group create NAME` to start)."""


@group.command()
@common_options
@click.argument("name")
@click.option("--alias", help="Local name for the group (default: NAME).")
@with_session
async def create(session: Session, output: Output, *, name: str, alias: str | None) -> None:
    """Create a group named NAME, owned by you."""
    result = await session.call("group.create", {"name": name, "alias": alias})
    output.emit(result, f"Created group {result['group']}.")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@click.option("--qr", is_flag=True, help="Also print the link as a QR code.")
@click.option("--role", type=click.Choice(["member", "observer", "admin"]), default="member")
@with_session
async def invite(session: Session, output: Output, *, group_name: str, qr: bool, role: str) -> None:
    """A link that lets someone ask to join GROUP (you accept their request)."""
    result = await session.call("group.invite", {"group": group_name, "role": role})
    link = result["link"]
    output.emit(result, link + ("\n" + render_qr(link) if qr else ""))


@group.command()
@common_options
@click.argument("link")
@click.option("--alias", required=True, help="Local name for the group.")
@with_session
async def join(session: Session, output: Output, *, link: str, alias: str) -> None:
    """Ask to join a group by its link; it appears once the admin accepts (a running
    `veil serve` finishes the join by itself; without one, `veil group sync`)."""
    result = await session.call("group.join", {"link": link, "alias": alias})
    output.emit(result, f"Asked to join {alias}; it appears once the admin accepts.")


@group.command()
@common_options
@click.option("--idle", type=float, default=1.0, help="Seconds of quiet before stopping.")
@with_session
async def sync(session: Session, output: Output, *, idle: float) -> None:
    """Receive, move joins along, and catch up with every group."""
    result = await session.call("group.sync", {"idle": idle})
    output.emit(result, "\n".join(notice_text(n) for n in result["notices"]))


@group.command("list")
@common_options
@with_session
async def list_groups(session: Session, output: Output) -> None:
    """The groups you are in."""
    result = await session.call("group.list")
    output.emit(result, "\n".join(result["groups"]) or "(no groups)")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@with_session
async def members(session: Session, output: Output, *, group_name: str) -> None:
    """GROUP's members with their roles."""
    result = await session.call("group.members", {"group": group_name})
    lines = [
        f"{m['name'] or '?'} ({m['role']}) {m['handle'][:8]}"
        + (" (you)" if m["you"] else "")
        + (f" = your contact {m['contact']} (verified)" if m["contact"] else "")
        for m in result["members"]
    ]
    output.emit(result, "\n".join(lines))


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@click.argument("member")
@click.argument("role", type=click.Choice(["owner", "admin", "member", "observer"]))
@with_session
async def role(
    session: Session, output: Output, *, group_name: str, member: str, role: str
) -> None:
    """Give MEMBER a ROLE in GROUP (owner transfers ownership)."""
    params = {"group": group_name, "member": member, "role": role}
    output.emit(
        await session.call("group.role", params), f"{member} is now {role} (once committed)."
    )


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@click.argument("member")
@with_session
async def remove(session: Session, output: Output, *, group_name: str, member: str) -> None:
    """Remove MEMBER from GROUP."""
    result = await session.call("group.remove", {"group": group_name, "member": member})
    output.emit(result, f"Removing {member} from {group_name}.")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@with_session
async def leave(session: Session, output: Output, *, group_name: str) -> None:
    """Leave GROUP (an owner transfers ownership first)."""
    result = await session.call("group.leave", {"group": group_name})
    output.emit(result, f"Leaving {group_name}; an admin commits it.")


@group.command()
@common_options
@click.argument("group_name", metavar="GROUP")
@with_session
async def info(session: Session, output: Output, *, group_name: str) -> None:
    """GROUP's name, description, epoch, size and your role."""
    result = await session.call("group.info", {"group": group_name})
    output.emit(result, "\n".join(f"{key}: {value}" for key, value in result.items()))


GROUP_COMMANDS = (group,)
