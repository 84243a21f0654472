"""The ``veil`` commands about contacts: inviting, connecting, the contact address,
requests, renaming, verifying security codes and repairing a connection.

Each command opens the profile, does one thing, prints it (as text or ``--json``)
and closes. Handshake frames that cannot reach a relay right now stay in the
encrypted outbox and go out with the next command that runs.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from veil.agent.links import render_qr
from veil.chat.app import CodeCheck, ConnectionRelays, Messenger
from veil.chat.roster import contact_overview, remove_contact
from veil.chat.store import Contact
from veil.cli.support import Output, common_options, with_messenger

__all__ = ["CONTACT_COMMANDS"]


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


@click.command()
@common_options
@click.option("--qr", is_flag=True, help="Also draw a short link to the invitation as a QR code.")
@click.option(
    "--short", is_flag=True, help="Print a short link (the invitation waits on your relay)."
)
@with_messenger
async def invite(messenger: Messenger, output: Output, *, qr: bool, short: bool) -> None:
    """Print a new one-time invitation link."""
    link = await messenger.invite(short=short or qr)
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
    """List your contacts, their status, their protection and the relays each uses."""
    rows = [
        {
            **_contact_json(entry.contact),
            "pq": entry.pq,
            "ratchet_version": entry.ratchet_version,
            "stuck": entry.stuck,
            "relays": [_relays_json(r) for r in messenger.relays_of(entry.contact)],
        }
        for entry in contact_overview(messenger.store, messenger.agent, time.time())
    ]
    output.emit(
        {"contacts": rows},
        "\n".join(_contact_line(row) for row in rows)
        or "No contacts yet: `veil invite` or `veil connect`.",
    )


def _contact_line(row: dict[str, Any]) -> str:
    notes = [row["status"]] + (["verified"] if row["verified"] else [])
    if row["pq"] is not None:
        notes.append("post-quantum" if row["pq"] else "classical keys only")
    line = f"{row['alias']}  ({', '.join(notes)})"
    if row["stuck"]:
        line += (
            "\n  still connecting after a day: the link may have been used before, or they"
            f" never came online. Ask for a new link; `veil remove {row['alias']}` drops this one."
        )
    return line


@click.command()
@common_options
@click.argument("contact")
@with_messenger
async def remove(messenger: Messenger, output: Output, *, contact: str) -> None:
    """Remove CONTACT with the conversation, and delete its queues (they are not told)."""
    deleted = await remove_contact(messenger.store, messenger.agent, messenger.contact(contact))
    output.emit(
        {"removed": contact, "queues_deleted": deleted},
        f"Removed {contact} and your conversation. To talk again, exchange a new link.",
    )


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
        "pq": check.pq,
        "ratchet_version": check.ratchet_version,
        "code_version": check.code_version,
    }
    protection = _protection(check)
    if code is None:
        text = (
            f"Your security code with {contact}:\n  {check.ours}\n{protection}\n"
            "Compare it in person."
        )
    elif check.verified:
        text = (
            f"  yours:  {check.ours}\n  theirs: {check.theirs}\n{protection}\n"
            f"Codes match: {contact} is verified."
        )
    else:
        text = (
            f"  yours:  {check.ours}\n  theirs: {check.theirs}\n"
            f"WARNING: the codes DIFFER. Someone may be intercepting your conversation with "
            f"{contact}. Do not trust it; connect again with a link you exchange in person."
        )
    output.emit(data, text)
    if code is not None and not check.verified:
        sys.exit(1)  # scripts must not mistake a mismatch for success


def _protection(check: CodeCheck) -> str:
    kem = "post-quantum (ML-KEM-768 + X25519)" if check.pq else "classical (X25519 only)"
    scope = "the whole key agreement" if check.code_version >= 2 else "the identity keys only"
    return f"Keys: {kem}, ratchet v{check.ratchet_version}; the code covers {scope}."


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


CONTACT_COMMANDS = [
    invite,
    connect,
    address,
    requests,
    accept,
    reject,
    contacts,
    rename,
    verify,
    repair,
    remove,
]
