"""The ``veil`` commands about messages: sending, editing, deleting, reacting,
receiving, the history and the live chat.

Each command opens the profile, does one thing, prints it (as text or ``--json``)
and closes. Messages that cannot reach a relay right now stay in the encrypted
outbox and go out with the next command that runs.
"""

from __future__ import annotations

import click

from veil.cli.chat_loop import run_chat
from veil.cli.group_chat_loop import run_group_chat
from veil.cli.group_commands import group_history_text, is_group, notice_text
from veil.cli.sessions import Session
from veil.cli.support import Output, common_options, with_session
from veil.service.api_types import IncomingShape, MessageShape

__all__ = ["MESSAGE_COMMANDS", "incoming_text"]


def incoming_text(incoming: IncomingShape) -> str:
    """One arrival as a line for a person."""
    group = incoming.get("group")
    if group is not None:
        return notice_text(
            {
                "kind": incoming["kind"],
                "group": group,
                "text": incoming["text"],
                "sender": incoming.get("sender", ""),
                "contact": incoming["contact"],
                "message": incoming["id"],
            }
        )
    who = incoming["contact"] or "someone"
    row, text, request = incoming["id"], incoming["text"], incoming["request"]
    integrity = incoming["integrity"]
    mark = "" if integrity in ("ok", "late") else f"  [{integrity}]"
    lines = {
        "message": f"{who}: {text}  (#{row}){mark}",
        "edit": f"{who} edited #{row}: {text}",
        "delete": f"{who} deleted #{row}",
        "reaction": f"{who} reacted {text or '(removed)'} to #{row}",
        "profile": f"{who} is now called {text}",
        "connected": f"connected with {text} (as {who})",
        "request": f"contact request #{request} from {text}: "
        f"`veil accept {request}` or `veil reject {request}`",
        "desync": f"WARNING: messages from {who} no longer decrypt ({text}): "
        f"`veil repair {who}` offers {who} fresh keys",
        "repair-request": f"{who} offers fresh keys to repair your connection: "
        f"`veil repair {who}` accepts",
        "repaired": f"connection with {who} repaired with new keys; compare security codes "
        f"again (`veil verify {who}`)",
        "file-done": f"file #{row} with {who} done: {text}",
        "file-failed": f"file #{row} with {who} stopped: {text} (run the same command again)",
        "delivery-failed": f"WARNING: not delivered to {who}: {text}",
        "relay-unreachable": f"relay {text} cannot be reached; sends wait in the outbox",
        "relay-reachable": f"relay {text} is reachable again",
    }
    return lines.get(incoming["kind"], f"{who}: {text}")


def _message_text(message: MessageShape, alias: str) -> str:
    sent = message["direction"] == "sent"
    who = "you" if sent else alias
    text = "(deleted)" if message["deleted"] != "none" else message["text"]
    replied = message["reply_to"]
    if message["is_reply"]:
        text = f"(reply to {'#' + str(replied) if replied else 'an older message'}) {text}"
    notes = ["edited"] if message["edited"] else []
    if sent:
        notes.append(message["receipt"])
    if message["integrity"] not in ("ok", "late"):
        notes.append(message["integrity"])
    reactions = " ".join(emoji for _, emoji in message["reactions"])
    extra = f"  [{', '.join(notes)}]" if notes else ""
    return f"#{message['id']} {who}: {text}{extra}{'  ' + reactions if reactions else ''}"


@click.command()
@common_options
@click.argument("contact")
@click.argument("text", nargs=-1, required=True)
@click.option("--reply-to", type=int, metavar="ID", help="Reply to message #ID.")
@with_session
async def send(
    session: Session,
    output: Output,
    *,
    contact: str,
    text: tuple[str, ...],
    reply_to: int | None,
) -> None:
    """Send TEXT to CONTACT or GROUP (several TEXT arguments send several messages)."""
    if await is_group(session, contact):
        params = {"group": contact, "texts": list(text), "reply_to": reply_to}
        result = await session.call("group.send", params)
        output.emit(result, f"Sent {len(result['sent'])} message(s) to {contact}.")
        return
    params = {"contact": contact, "texts": list(text), "reply_to": reply_to}
    result = await session.call("send", params)
    pending = result["pending"]
    note = (
        f" ({pending} waiting for the relay; they go out with the next command)" if pending else ""
    )
    output.emit(result, f"Sent {len(result['sent'])} message(s) to {contact}{note}.")


@click.command()
@common_options
@click.argument("contact")
@click.argument("message_id", type=int)
@click.argument("text")
@with_session
async def edit(
    session: Session, output: Output, *, contact: str, message_id: int, text: str
) -> None:
    """Replace the text of your message #MESSAGE_ID."""
    if await is_group(session, contact):
        params = {"group": contact, "seq": message_id, "text": text}
        output.emit(await session.call("group.edit", params), f"Edited #{message_id}.")
        return
    params = {"contact": contact, "message_id": message_id, "text": text}
    output.emit(await session.call("edit", params), f"Edited #{message_id}.")


@click.command()
@common_options
@click.argument("contact")
@click.argument("message_id", type=int)
@click.option("--for-everyone", is_flag=True, help="Also delete it at the contact (yours only).")
@with_session
async def delete(
    session: Session, output: Output, *, contact: str, message_id: int, for_everyone: bool
) -> None:
    """Delete message #MESSAGE_ID (for you, or --for-everyone; in a group, for everyone)."""
    if await is_group(session, contact):
        params = {"group": contact, "seq": message_id}
        output.emit(await session.call("group.delete", params), f"Deleted #{message_id}.")
        return
    params = {"contact": contact, "message_id": message_id, "for_everyone": for_everyone}
    output.emit(await session.call("delete", params), f"Deleted #{message_id}.")


@click.command()
@common_options
@click.argument("contact")
@click.argument("message_id", type=int)
@click.argument("emoji")
@click.option("--remove", is_flag=True, help="Withdraw the reaction.")
@with_session
async def react(
    session: Session, output: Output, *, contact: str, message_id: int, emoji: str, remove: bool
) -> None:
    """React to message #MESSAGE_ID with EMOJI."""
    if await is_group(session, contact):
        params = {"group": contact, "seq": message_id, "emoji": emoji, "remove": remove}
        output.emit(await session.call("group.react", params), "Done.")
        return
    params = {"contact": contact, "message_id": message_id, "emoji": emoji, "remove": remove}
    output.emit(await session.call("react", params), "Done.")


@click.command()
@common_options
@click.option(
    "--wait",
    type=float,
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop after this many quiet seconds.",
)
@with_session
async def receive(session: Session, output: Output, *, wait: float) -> None:
    """Process pending handshakes and messages, and print what arrived.

    With ``veil serve`` running, print what it received since the last ``veil receive``."""
    arrived: list[IncomingShape] = []

    def show(incoming: IncomingShape) -> None:
        arrived.append(incoming)
        if not output.as_json:
            click.echo(incoming_text(incoming))

    with session.receiving():
        await session.listen(wait, show)
    output.emit({"events": arrived}, "" if arrived else "Nothing new.")


@click.command()
@common_options
@click.argument("contact")
@click.option("--limit", type=int, help="Only the last N messages.")
@with_session
async def history(session: Session, output: Output, *, contact: str, limit: int | None) -> None:
    """Show the conversation with CONTACT, or GROUP's messages in the group's order."""
    if await is_group(session, contact):
        found = await session.call("group.history", {"group": contact, "limit": limit})
        output.emit(found, group_history_text(found))
        return
    result = await session.call("history", {"contact": contact, "limit": limit})
    alias = result["contact"]
    output.emit(
        result,
        "\n".join(_message_text(m, alias) for m in result["messages"]) or "No messages yet.",
    )


@click.command()
@common_options
@click.argument("contact")
@with_session
async def chat(session: Session, output: Output, *, contact: str) -> None:
    """Talk with CONTACT (or in GROUP) live: type a line to send it; /help for commands,
    /quit (or Ctrl-D, Ctrl-C) to leave."""
    if await is_group(session, contact):
        await run_group_chat(session, contact, as_json=output.as_json)
        return
    with session.receiving():
        alias = (await session.call("history", {"contact": contact, "limit": 1}))["contact"]
        await run_chat(session, alias, incoming_text, as_json=output.as_json)


MESSAGE_COMMANDS = [
    send,
    edit,
    delete,
    react,
    receive,
    history,
    chat,
]
