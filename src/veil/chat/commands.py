"""The ``veil`` commands that use a profile: connecting, messaging, verifying.

Each command opens the profile, does one thing, prints it (as text or ``--json``)
and closes. Messages that cannot reach a relay right now stay in the encrypted
outbox and go out with the next command that runs.
"""

from __future__ import annotations

from typing import Any

import click

from veil.agent.links import render_qr
from veil.chat.app import ConnectionRelays, Messenger
from veil.chat.chat_loop import run_chat
from veil.chat.cli_support import Output, common_options, with_messenger
from veil.chat.conversation import Incoming
from veil.chat.store import Contact, StoredMessage

__all__ = ["ALL_COMMANDS"]


def _contact_json(contact: Contact) -> dict[str, Any]:
    profile = contact.profile
    return {
        "alias": contact.alias,
        "name": profile.display_name,
        "full_name": profile.full_name,
        "bio": profile.bio,
        "status": contact.status.value,
        "verified": contact.verified,
    }


def _relays_json(relays: ConnectionRelays) -> dict[str, Any]:
    return {"receive": relays.receive, "send": relays.send, "proxied": relays.proxied}


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


def _message_json(message: StoredMessage) -> dict[str, Any]:
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


def _message_text(message: StoredMessage, alias: str) -> str:
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
@click.option("--qr", is_flag=True, help="Also draw the link as a QR code.")
@with_messenger
async def invite(messenger: Messenger, output: Output, *, qr: bool) -> None:
    """Print a new one-time invitation link."""
    link = await messenger.invite()
    text = link + ("\n" + render_qr(link) if qr else "")
    output.emit({"link": link}, text + "\nSend it privately; it works once.")


@click.command()
@common_options
@click.argument("link")
@with_messenger
async def connect(messenger: Messenger, output: Output, *, link: str) -> None:
    """Connect through an invitation link or a contact address."""
    contact = await messenger.connect(link)
    output.emit(
        {"contact": _contact_json(contact)},
        f"Connecting as {contact.alias!r}; `veil receive` completes it once they answer.",
    )


@click.group()
def address() -> None:
    """Your long-lived contact address (optional, deletable at any time)."""


@address.command("create")
@common_options
@with_messenger
async def address_create(messenger: Messenger, output: Output) -> None:
    """Create your contact address and print its link."""
    link = await messenger.create_address()
    output.emit({"link": link}, link)


@address.command("show")
@common_options
@with_messenger
async def address_show(messenger: Messenger, output: Output) -> None:
    """Print your contact address link."""
    link = messenger.address()
    output.emit({"link": link}, link or "No contact address: `veil address create` makes one.")


@address.command("delete")
@common_options
@with_messenger
async def address_delete(messenger: Messenger, output: Output) -> None:
    """Delete your contact address; your contacts are kept."""
    await messenger.delete_address()
    output.emit({"deleted": True}, "Contact address deleted. Your contacts are unaffected.")


@click.command()
@common_options
@with_messenger
async def requests(messenger: Messenger, output: Output) -> None:
    """List contact requests waiting for your answer."""
    pending = messenger.requests()
    rows = [{"id": r.request_id, "name": r.profile.display_name} for r in pending]
    text = "\n".join(f"#{r['id']} {r['name']}" for r in rows) or "No pending requests."
    output.emit({"requests": rows}, text)


@click.command()
@common_options
@click.argument("request_id", type=int)
@with_messenger
async def accept(messenger: Messenger, output: Output, *, request_id: int) -> None:
    """Accept contact request ID."""
    contact = await messenger.accept(request_id)
    output.emit({"contact": _contact_json(contact)}, f"Accepted; connecting as {contact.alias!r}.")


@click.command()
@common_options
@click.argument("request_id", type=int)
@with_messenger
async def reject(messenger: Messenger, output: Output, *, request_id: int) -> None:
    """Reject contact request ID (the requester is not told)."""
    messenger.reject(request_id)
    output.emit({"rejected": request_id}, f"Rejected request #{request_id}.")


@click.command()
@common_options
@with_messenger
async def contacts(messenger: Messenger, output: Output) -> None:
    """List your contacts, their status and the relays each connection uses."""
    rows = [
        {
            **_contact_json(contact),
            "relays": [_relays_json(r) for r in messenger.relays_of(contact)],
        }
        for contact in messenger.contacts()
    ]
    text = "\n".join(
        f"{r['alias']}  ({r['status']}{', verified' if r['verified'] else ''})" for r in rows
    )
    output.emit({"contacts": rows}, text or "No contacts yet: `veil invite` or `veil connect`.")


@click.command()
@common_options
@click.argument("contact")
@click.argument("alias")
@with_messenger
async def rename(messenger: Messenger, output: Output, *, contact: str, alias: str) -> None:
    """Give CONTACT a new local ALIAS (only you see it)."""
    messenger.rename(contact, alias)
    output.emit({"contact": contact, "alias": alias}, f"{contact} is now {alias!r} here.")


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
    """Send TEXT to CONTACT (several TEXT arguments send several messages)."""
    target = messenger.contact(contact)
    stored = await messenger.conversation.send_texts(target.contact_id, list(text), reply_to)
    pending = messenger.agent.outbox.pending()
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
    """Delete message #MESSAGE_ID (for you, or --for-everyone)."""
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
    """Show the conversation with CONTACT."""
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
@click.option("--code", help="The code your contact reads to you (spaces are ignored).")
@with_messenger
async def verify(messenger: Messenger, output: Output, *, contact: str, code: str | None) -> None:
    """Compare security codes with CONTACT to rule out a man in the middle."""
    check = messenger.verify(contact, code)
    data = {
        "contact": contact,
        "code": check.ours,
        "entered": check.theirs,
        "verified": check.verified,
    }
    if code is None:
        text = f"Your security code with {contact}:\n  {check.ours}\nCompare it in person."
    elif check.verified:
        text = (
            f"  yours:  {check.ours}\n  theirs: {check.theirs}\nCodes match: {contact} is verified."
        )
    else:
        text = (
            f"  yours:  {check.ours}\n  theirs: {check.theirs}\n"
            f"WARNING: the codes DIFFER. Someone may be intercepting your conversation with "
            f"{contact}. Do not trust it; connect again with a link you exchange in person."
        )
    output.emit(data, text)


@click.command()
@common_options
@click.argument("contact")
@with_messenger
async def repair(messenger: Messenger, output: Output, *, contact: str) -> None:
    """Re-agree keys with CONTACT over your existing queues (after a desync).

    The first side to run it sends an offer; the connection is repaired when the
    other side runs it too. The security code changes: verify it again."""
    repaired = await messenger.repair(contact)
    text = (
        f"Repaired: new keys with {contact}. Compare codes again: `veil verify {contact}`."
        if repaired
        else f"Offered {contact} fresh keys; the repair completes when they run `veil repair` too."
    )
    output.emit({"contact": contact, "repaired": repaired}, text)


@click.command()
@common_options
@click.argument("contact")
@with_messenger
async def chat(messenger: Messenger, output: Output, *, contact: str) -> None:
    """Talk with CONTACT live: type a line to send it; /quit (or Ctrl-D) to leave."""
    await run_chat(messenger, messenger.contact(contact), incoming_text)


ALL_COMMANDS = [
    invite,
    connect,
    address,
    requests,
    accept,
    reject,
    contacts,
    rename,
    send,
    edit,
    delete,
    react,
    receive,
    history,
    verify,
    repair,
    chat,
]
