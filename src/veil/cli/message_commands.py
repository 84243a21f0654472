"""The ``veil`` commands about messages: sending, editing, deleting, reacting,
receiving, the history and the live chat.

Each command opens the profile, does one thing, prints it (as text or ``--json``)
and closes. Messages that cannot reach a relay right now stay in the encrypted
outbox and go out with the next command that runs.
"""

from __future__ import annotations

from typing import Any

import click

from veil.chat.app import Messenger
from veil.chat.conversation import Incoming
from veil.chat.store import MessageRecord
from veil.cli.chat_loop import run_chat
from veil.cli.group_commands import (
    Change,
    change_in_group,
    chat_in_group,
    group_history,
    send_to_group,
)
from veil.cli.support import Output, common_options, with_messenger

__all__ = ["MESSAGE_COMMANDS", "incoming_json", "incoming_text"]


def incoming_json(incoming: Incoming) -> dict[str, Any]:
    """One arrival as a JSON object."""
    return {
        "kind": incoming.kind,
        "contact": incoming.contact,
        "text": incoming.text,
        "id": incoming.row_id,
        "integrity": incoming.integrity,
        "request": incoming.request_id,
    }


def incoming_text(incoming: Incoming) -> str:
    """One arrival as a line for a person."""
    who = incoming.contact or "someone"
    mark = "" if incoming.integrity in ("ok", "late") else f"  [{incoming.integrity}]"
    lines = {
        "message": f"{who}: {incoming.text}  (#{incoming.row_id}){mark}",
        "edit": f"{who} edited #{incoming.row_id}: {incoming.text}",
        "delete": f"{who} deleted #{incoming.row_id}",
        "reaction": f"{who} reacted {incoming.text or '(removed)'} to #{incoming.row_id}",
        "profile": f"{who} is now called {incoming.text}",
        "connected": f"connected with {incoming.text} (as {who})",
        "request": f"contact request #{incoming.request_id} from {incoming.text}: "
        f"`veil accept {incoming.request_id}` or `veil reject {incoming.request_id}`",
        "desync": f"WARNING: messages from {who} no longer decrypt ({incoming.text}): "
        f"`veil repair {who}` offers {who} fresh keys",
        "repair-request": f"{who} offers fresh keys to repair your connection: "
        f"`veil repair {who}` accepts",
        "repaired": f"connection with {who} repaired with new keys; compare security codes "
        f"again (`veil verify {who}`)",
    }
    return lines.get(incoming.kind, f"{who}: {incoming.text}")


def _message_json(message: MessageRecord) -> dict[str, Any]:
    return {
        "id": message.row_id,
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


def _message_text(message: MessageRecord, alias: str) -> str:
    who = "you" if message.direction.value == "sent" else alias
    text = "(deleted)" if message.deletion.value != "none" else message.text
    notes = [n for n in ("edited" if message.edited else "",) if n]
    if message.direction.value == "sent":
        notes.append(message.receipt.value)
    if message.integrity not in ("ok", "late"):
        notes.append(message.integrity)
    reactions = " ".join(r.emoji for r in message.reactions)
    extra = f"  [{', '.join(notes)}]" if notes else ""
    return f"#{message.row_id} {who}: {text}{extra}{'  ' + reactions if reactions else ''}"


@click.command()
@common_options
@click.argument("contact")
@click.argument("text", nargs=-1, required=True)
@click.option("--reply-to", type=int, metavar="ID", help="Reply to message #ID.")
@with_messenger
async def send(
    messenger: Messenger,
    output: Output,
    *,
    contact: str,
    text: tuple[str, ...],
    reply_to: int | None,
) -> None:
    """Send TEXT to CONTACT or GROUP (several TEXT arguments send several messages)."""
    if await send_to_group(messenger, output, contact, list(text)):
        return
    target = messenger.contact(contact)
    stored = await messenger.conversation.send_texts(target.contact_id, list(text), reply_to)
    pending = messenger.pending_sends()
    note = (
        f" ({pending} waiting for the relay; they go out with the next command)" if pending else ""
    )
    output.emit(
        {"sent": [m.row_id for m in stored], "pending": pending},
        f"Sent {len(stored)} message(s) to {target.alias}{note}.",
    )


@click.command()
@common_options
@click.argument("contact")
@click.argument("message_id", type=int)
@click.argument("text")
@with_messenger
async def edit(
    messenger: Messenger, output: Output, *, contact: str, message_id: int, text: str
) -> None:
    """Replace the text of your message #MESSAGE_ID."""
    if await change_in_group(messenger, output, contact, message_id, Change(text=text)):
        return
    await messenger.conversation.edit(messenger.contact(contact).contact_id, message_id, text)
    output.emit({"edited": message_id}, f"Edited #{message_id}.")


@click.command()
@common_options
@click.argument("contact")
@click.argument("message_id", type=int)
@click.option("--for-everyone", is_flag=True, help="Also delete it at the contact (yours only).")
@with_messenger
async def delete(
    messenger: Messenger, output: Output, *, contact: str, message_id: int, for_everyone: bool
) -> None:
    """Delete message #MESSAGE_ID (for you, or --for-everyone; in a group, for everyone)."""
    if await change_in_group(messenger, output, contact, message_id, Change(delete=True)):
        return
    target = messenger.contact(contact).contact_id
    await messenger.conversation.delete(target, message_id, for_everyone=for_everyone)
    output.emit({"deleted": message_id}, f"Deleted #{message_id}.")


@click.command()
@common_options
@click.argument("contact")
@click.argument("message_id", type=int)
@click.argument("emoji")
@click.option("--remove", is_flag=True, help="Withdraw the reaction.")
@with_messenger
async def react(
    messenger: Messenger, output: Output, *, contact: str, message_id: int, emoji: str, remove: bool
) -> None:
    """React to message #MESSAGE_ID with EMOJI."""
    change = Change(emoji=emoji, added=not remove)
    if await change_in_group(messenger, output, contact, message_id, change):
        return
    target = messenger.contact(contact).contact_id
    await messenger.conversation.react(target, message_id, emoji, added=not remove)
    output.emit({"reacted": message_id, "emoji": emoji, "added": not remove}, "Done.")


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
@with_messenger
async def receive(messenger: Messenger, output: Output, *, wait: float) -> None:
    """Process pending handshakes and messages, and print what arrived."""
    arrived: list[Incoming] = []

    def show(incoming: Incoming) -> None:
        arrived.append(incoming)
        if not output.as_json:
            click.echo(incoming_text(incoming))

    await messenger.receive(idle=wait, on_incoming=show)
    output.emit({"events": [incoming_json(i) for i in arrived]}, "" if arrived else "Nothing new.")


@click.command()
@common_options
@click.argument("contact")
@click.option("--limit", type=int, help="Only the last N messages.")
@with_messenger
async def history(messenger: Messenger, output: Output, *, contact: str, limit: int | None) -> None:
    """Show the conversation with CONTACT, or GROUP's messages in the group's order."""
    if await group_history(messenger, output, contact, limit):
        return
    target = messenger.contact(contact)
    with messenger.store.transaction() as tx:
        messages = tx.messages.history(target.contact_id, limit)
    output.emit(
        {"contact": target.alias, "messages": [_message_json(m) for m in messages]},
        "\n".join(_message_text(m, target.alias) for m in messages) or "No messages yet.",
    )


@click.command()
@common_options
@click.argument("contact")
@with_messenger
async def chat(messenger: Messenger, output: Output, *, contact: str) -> None:
    """Talk with CONTACT (or in GROUP) live: type a line to send it; /quit (or Ctrl-D) to leave."""
    if await chat_in_group(messenger, contact):
        return
    await run_chat(messenger, messenger.contact(contact), incoming_text)


MESSAGE_COMMANDS = [
    send,
    edit,
    delete,
    react,
    receive,
    history,
    chat,
]
