"""``veil chat GROUP``: a live group conversation in the terminal.

One task catches up with the group's log every second and prints what arrived; the
other reads lines from standard input (in a worker thread) and posts each one. The
engine serialises the two per group, and every store access stays on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import click

from veil.chat.groups import GroupChat, GroupNotice
from veil.cli.chat_loop import QUIT_COMMAND

__all__ = ["run_group_chat"]

POLL_SECONDS = 1.0


def describe(notice: GroupNotice, names: dict[str, str]) -> str:
    """One line for a person."""
    who = names.get(notice.sender, notice.sender)
    if notice.kind == "message":
        return f"{who}: {notice.text}"
    return f"[{notice.kind}] {who} {notice.text}".replace("  ", " ")


async def run_group_chat(chat: GroupChat, alias: str) -> None:
    """Run the live group chat until the user quits or closes standard input."""
    click.echo(f"Chatting in {alias}. Type a message and press Enter; {QUIT_COMMAND} leaves.")
    listener = asyncio.create_task(_listen(chat, alias))
    try:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            text = line.rstrip("\n")
            if not line or text.strip() == QUIT_COMMAND:
                return
            if text.strip():
                await chat.send(alias, text)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _listen(chat: GroupChat, alias: str) -> None:
    while True:
        names = {m.handle.hex()[:8]: m.display_name for m in chat.members(alias)}
        for notice in await chat.sync(alias):
            click.echo(describe(notice, names))
        await asyncio.sleep(POLL_SECONDS)
