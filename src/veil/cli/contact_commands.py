"""The ``veil`` commands about contacts: inviting, connecting, the contact address,
requests, renaming, verifying security codes and repairing a connection.

Each command is one API method (:mod:`veil.service.methods`), run by the profile's
``veil serve`` if one is running, else in-process on the store; ``--json`` prints
the method's result as it is, and the text for a person is made from it.
Handshake frames that cannot reach a relay right now stay in the encrypted outbox
and go out with the next command that runs (or the service's next retry).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from veil.agent.links import render_qr
from veil.cli.sessions import Session
from veil.cli.support import Output, common_options, with_session

__all__ = ["CONTACT_COMMANDS"]


@click.command()
@common_options
@click.option("--qr", is_flag=True, help="Also draw a short link to the invitation as a QR code.")
@click.option(
    "--short", is_flag=True, help="Print a short link (the invitation waits on your relay)."
)
@with_session
async def invite(session: Session, output: Output, *, qr: bool, short: bool) -> None:
    """Print a new one-time invitation link."""
    result = await session.call("invite", {"short": short or qr})
    link = result["link"]
    text = link + ("\n" + render_qr(link) if qr else "")
    output.emit(result, text + "\nSend it privately; it works once.")


@click.command()
@common_options
@click.argument("link")
@with_session
async def connect(session: Session, output: Output, *, link: str) -> None:
    """Connect through an invitation link or a contact address."""
    result = await session.call("connect", {"link": link})
    alias = result["contact"]["alias"]
    output.emit(result, f"Connecting as {alias!r}; `veil receive` completes it once they answer.")


@click.group()
def address() -> None:
    """Your long-lived contact address (optional, deletable at any time)."""


@address.command("create")
@common_options
@with_session
async def address_create(session: Session, output: Output) -> None:
    """Create your contact address and print its link."""
    result = await session.call("address.create")
    output.emit(result, result["link"])


@address.command("show")
@common_options
@with_session
async def address_show(session: Session, output: Output) -> None:
    """Print your contact address link."""
    result = await session.call("address.show")
    output.emit(result, result["link"] or "No contact address: `veil address create` makes one.")


@address.command("delete")
@common_options
@with_session
async def address_delete(session: Session, output: Output) -> None:
    """Delete your contact address; your contacts are kept."""
    result = await session.call("address.delete")
    output.emit(result, "Contact address deleted. Your contacts are unaffected.")


@click.command()
@common_options
@with_session
async def requests(session: Session, output: Output) -> None:
    """List contact requests waiting for your answer."""
    result = await session.call("requests")
    rows = result["requests"]
    text = "\n".join(f"#{r['id']} {r['name']}" for r in rows) or "No pending requests."
    output.emit(result, text)


@click.command()
@common_options
@click.argument("request_id", type=int)
@with_session
async def accept(session: Session, output: Output, *, request_id: int) -> None:
    """Accept contact request ID."""
    result = await session.call("accept", {"request_id": request_id})
    output.emit(result, f"Accepted; connecting as {result['contact']['alias']!r}.")


@click.command()
@common_options
@click.argument("request_id", type=int)
@with_session
async def reject(session: Session, output: Output, *, request_id: int) -> None:
    """Reject contact request ID (the requester is not told)."""
    result = await session.call("reject", {"request_id": request_id})
    output.emit(result, f"Rejected request #{request_id}.")


@click.command()
@common_options
@with_session
async def contacts(session: Session, output: Output) -> None:
    """List your contacts, their status, their protection and the relays each uses."""
    result = await session.call("contacts")
    output.emit(
        result,
        "\n".join(_contact_line(row) for row in result["contacts"])
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
@with_session
async def remove(session: Session, output: Output, *, contact: str) -> None:
    """Remove CONTACT with the conversation, and delete its queues (they are not told)."""
    result = await session.call("remove", {"contact": contact})
    output.emit(
        result, f"Removed {contact} and your conversation. To talk again, exchange a new link."
    )


@click.command()
@common_options
@click.argument("contact")
@click.argument("alias")
@with_session
async def rename(session: Session, output: Output, *, contact: str, alias: str) -> None:
    """Give CONTACT a new local ALIAS (only you see it)."""
    result = await session.call("rename", {"contact": contact, "alias": alias})
    output.emit(result, f"{contact} is now {alias!r} here.")


@click.command()
@common_options
@click.argument("contact")
@click.option("--code", help="The code your contact reads to you (spaces are ignored).")
@with_session
async def verify(session: Session, output: Output, *, contact: str, code: str | None) -> None:
    """Compare security codes with CONTACT to rule out a man in the middle."""
    result = await session.call("verify", {"contact": contact, "code": code})
    ours, theirs = result["code"], result["entered"]
    protection = _protection(result)
    if code is None:
        text = f"Your security code with {contact}:\n  {ours}\n{protection}\nCompare it in person."
    elif result["verified"]:
        text = (
            f"  yours:  {ours}\n  theirs: {theirs}\n{protection}\n"
            f"Codes match: {contact} is verified."
        )
    else:
        text = (
            f"  yours:  {ours}\n  theirs: {theirs}\n"
            f"WARNING: the codes DIFFER. Someone may be intercepting your conversation with "
            f"{contact}. Do not trust it; connect again with a link you exchange in person."
        )
    output.emit(result, text)
    if code is not None and not result["verified"]:
        sys.exit(1)  # scripts must not mistake a mismatch for success


def _protection(result: dict[str, Any]) -> str:
    kem = "post-quantum (ML-KEM-768 + X25519)" if result["pq"] else "classical (X25519 only)"
    scope = "the whole key agreement" if result["code_version"] >= 2 else "the identity keys only"
    return f"Keys: {kem}, ratchet v{result['ratchet_version']}; the code covers {scope}."


@click.command()
@common_options
@click.argument("contact")
@with_session
async def repair(session: Session, output: Output, *, contact: str) -> None:
    """Re-agree keys with CONTACT over your existing queues (after a desync).

    The first side to run it sends an offer; the connection is repaired when the
    other side runs it too. The security code changes: verify it again."""
    result = await session.call("repair", {"contact": contact})
    text = (
        f"Repaired: new keys with {contact}. Compare codes again: `veil verify {contact}`."
        if result["repaired"]
        else f"Offered {contact} fresh keys; the repair completes when they run `veil repair` too."
    )
    output.emit(result, text)


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
