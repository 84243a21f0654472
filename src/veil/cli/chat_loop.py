"""``veil chat CONTACT``: a live conversation in the terminal.

Two tasks share the event loop: one listens through the session and prints what
arrives (including from other contacts, marked by name), the other takes the lines
the user types (:mod:`veil.cli.chat_input`) and sends each as a message through
the session (the profile's ``veil serve``, or the store in-process), or runs a
slash command. With ``--json`` every arrival and every sent message is one JSON
object per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable
from typing import Any

from veil.cli.chat_input import COMMANDS, Command, Terminal, parse_line
from veil.cli.sessions import Session
from veil.errors import VeilError
from veil.service.api_types import IncomingShape, MessageShape

__all__ = ["HISTORY_ON_ENTRY", "QUIT_COMMAND", "run_chat"]

QUIT_COMMAND = "/quit"
HISTORY_ON_ENTRY = 10
#: A live chat waits for messages this long between checks for new subscriptions.
_LISTEN_SECONDS = 3600.0


class _Chat:
    def __init__(
        self,
        session: Session,
        alias: str,
        terminal: Terminal,
        describe: Callable[[IncomingShape], str],
        as_json: bool,
    ) -> None:
        self.session, self.alias, self.terminal = session, alias, terminal
        self.describe, self.as_json = describe, as_json

    def emit(self, data: dict[str, Any], text: str) -> None:
        self.terminal.show(json.dumps(data, ensure_ascii=False) if self.as_json else text)

    def arrived(self, incoming: IncomingShape) -> None:
        data = {
            "kind": incoming["kind"],
            "contact": incoming["contact"],
            "text": incoming["text"],
            "id": incoming["id"],
        }
        self.emit(data, self.describe(incoming))

    def own(self, message: MessageShape) -> None:
        row, text, status = message["id"], message["text"], message["receipt"]
        data = {"kind": "sent", "id": row, "text": text, "status": status}
        self.emit(data, f"#{row} you: {text}  [{status}]")

    async def history(self) -> None:
        params = {"contact": self.alias, "limit": HISTORY_ON_ENTRY}
        for message in (await self.session.call("history", params))["messages"]:
            if message["direction"] == "sent":
                self.own(message)
            else:
                self.emit(
                    {
                        "kind": "message",
                        "contact": self.alias,
                        "text": message["text"],
                        "id": message["id"],
                    },
                    f"#{message['id']} {self.alias}: {message['text']}",
                )

    async def command(self, command: Command) -> bool:
        """Run a slash command; False to leave."""
        if command.name == QUIT_COMMAND:
            return False
        if command.name == "/history":
            await self.history()
        elif command.known:
            for name, meaning in COMMANDS.items():
                self.emit({"command": name, "help": meaning}, f"  {name:9} {meaning}")
            self.emit(
                {"command": "//", "help": "send a line starting with /"},
                "  //text    send a line that starts with '/'",
            )
        else:
            self.emit(
                {"error": f"unknown command {command.name}"},
                f"unknown command {command.name} (not sent): /help lists them",
            )
        return True

    async def send(self, text: str) -> None:
        try:
            sent = await self.session.call("send", {"contact": self.alias, "texts": [text]})
            rows = set(sent["sent"])
            # a few more than were sent, in case messages arrived in between
            recent = {"contact": self.alias, "limit": len(rows) + HISTORY_ON_ENTRY}
            messages = (await self.session.call("history", recent))["messages"]
        except (VeilError, ValueError) as error:
            self.emit({"error": str(error)}, f"not sent: {error}")
            return
        for message in messages:
            if message["id"] in rows:  # with its status: sent, or pending at the relay
                self.own(message)


async def run_chat(
    session: Session,
    alias: str,
    describe: Callable[[IncomingShape], str],
    *,
    as_json: bool = False,
) -> None:
    """Run the live chat with the contact ``alias`` until the user quits, closes
    standard input or presses Ctrl-C."""
    terminal = Terminal()
    chat = _Chat(session, alias, terminal, describe, as_json)
    if not as_json:
        terminal.show(
            f"Chatting with {alias}. Type a message and press Enter; "
            f"/help lists commands, {QUIT_COMMAND} leaves."
        )
    await chat.history()
    listener = asyncio.create_task(session.listen(_LISTEN_SECONDS, chat.arrived))
    # Ctrl-C ends the chat like /quit, whatever the reader thread is doing.
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, terminal.lines.put_nowait, None)
    terminal.start()
    try:
        while (line := await terminal.lines.get()) is not None:
            parsed = parse_line(line)
            if isinstance(parsed, Command):
                if not await chat.command(parsed):
                    return
            elif parsed is not None:
                await chat.send(parsed.text)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
