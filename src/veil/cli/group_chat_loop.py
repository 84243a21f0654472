"""``veil chat GROUP``: a live group conversation in the terminal, through the session.

It shows the last messages, then one task reads lines from standard input (in a
worker thread) and posts each with ``group.send``, while another catches up
(``group.sync``: with ``veil serve`` running it only nudges the service, which
catches up anyway) and prints the group's new events from the event log. So it works
the same beside a running service and without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any, Protocol

import click

from veil.cli.chat_loop import HISTORY_ON_ENTRY, QUIT_COMMAND
from veil.cli.group_commands import group_history_text, notice_text
from veil.service.api_group_types import GroupNoticeShape
from veil.service.api_types import EventShape

__all__ = ["run_group_chat"]

POLL_SECONDS = 1.0


class Calls(Protocol):
    """The part of a session the group chat uses: API calls only."""

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Run one API method; return its result shape."""
        ...


#: A ``since`` past any event: ``events`` answers with no event and the newest seq.
_PAST_EVERY_EVENT = 2**53


async def run_group_chat(session: Calls, alias: str, *, as_json: bool) -> None:
    """Run the live group chat until the user quits or closes standard input."""
    recent = await session.call("group.history", {"group": alias, "limit": HISTORY_ON_ENTRY})
    last = (await session.call("events", {"since": _PAST_EVERY_EVENT}))["last"]
    if not as_json:
        click.echo(group_history_text(recent))
        click.echo(f"Chatting in {alias}. Type a message and press Enter; {QUIT_COMMAND} leaves.")
    listener = asyncio.create_task(_listen(session, alias, last, as_json))
    try:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            text = line.rstrip("\n")
            if not line or text.strip() == QUIT_COMMAND:
                return
            if text.strip():
                sent = await session.call("group.send", {"group": alias, "texts": [text]})
                _show(
                    {"kind": "sent", "group": alias, "text": text, "id": sent["sent"][0]},
                    f"you: {text}",
                    as_json,
                )
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


def _show(data: dict[str, Any], text: str, as_json: bool) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)


async def _listen(session: Calls, alias: str, cursor: int, as_json: bool) -> None:
    while True:
        await session.call("group.sync", {"idle": 0.2})
        page = await session.call("events", {"since": cursor})
        event: EventShape
        for event in page["events"]:
            cursor = event["seq"]
            if event.get("group") != alias:
                continue
            notice: GroupNoticeShape = {
                "kind": event["kind"],
                "group": alias,
                "text": event["text"],
                "sender": event.get("sender", ""),
                "contact": event["contact"],
                "message": event["id"],
            }
            _show(dict(notice), notice_text(notice), as_json)
        if not page["events"]:
            await asyncio.sleep(POLL_SECONDS)
