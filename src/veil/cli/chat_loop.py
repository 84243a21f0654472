"""``veil chat CONTACT``: a live conversation in the terminal.

Two tasks share the event loop: one receives and prints what arrives (including
from other contacts, marked by name), the other reads lines from standard input
and sends each as a message. Reading the terminal happens in a worker thread so
the loop keeps receiving while the user types; every store access stays on the
loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable

import click

from veil.cli.sessions import Session
from veil.service.api_types import IncomingShape

__all__ = ["QUIT_COMMAND", "run_chat"]

QUIT_COMMAND = "/quit"
#: A live chat waits for messages this long between checks for new subscriptions.
_LISTEN_SECONDS = 3600.0


async def run_chat(session: Session, alias: str, describe: Callable[[IncomingShape], str]) -> None:
    """Run the live chat with the contact ``alias`` until the user quits or closes
    standard input."""
    click.echo(f"Chatting with {alias}. Type a message and press Enter; {QUIT_COMMAND} leaves.")
    listener = asyncio.create_task(
        session.listen(_LISTEN_SECONDS, lambda incoming: click.echo(describe(incoming)))
    )
    try:
        await _read_and_send(session, alias)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _read_and_send(session: Session, alias: str) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        text = line.rstrip("\n")
        if not line or text.strip() == QUIT_COMMAND:
            return
        if text.strip():
            await session.call("send", {"contact": alias, "texts": [text]})
