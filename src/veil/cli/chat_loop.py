"""``veil chat CONTACT``: a live conversation in the terminal.

Two tasks share the event loop: one receives and prints what arrives (including
from other contacts, marked by name), the other takes the lines the user types
(:mod:`veil.cli.chat_input`) and sends each as a message, or runs a slash command.
Every store access stays on the loop's thread. With ``--json`` every arrival and
every sent message is one JSON object per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable
from typing import Any

from veil.chat.app import Messenger
from veil.chat.conversation import Incoming
from veil.chat.errors import ChatError
from veil.chat.store import Contact, MessageRecord
from veil.cli.chat_input import COMMANDS, Command, Terminal, parse_line

__all__ = ["HISTORY_ON_ENTRY", "QUIT_COMMAND", "run_chat"]

QUIT_COMMAND = "/quit"
HISTORY_ON_ENTRY = 10
#: A live chat waits for messages this long between checks for new subscriptions.
_LISTEN_SECONDS = 3600.0


class _Chat:
    def __init__(
        self,
        messenger: Messenger,
        contact: Contact,
        terminal: Terminal,
        describe: Callable[[Incoming], str],
        as_json: bool,
    ) -> None:
        self.messenger, self.contact, self.terminal = messenger, contact, terminal
        self.describe, self.as_json = describe, as_json

    def emit(self, data: dict[str, Any], text: str) -> None:
        self.terminal.show(json.dumps(data, ensure_ascii=False) if self.as_json else text)

    def arrived(self, incoming: Incoming) -> None:
        data = {
            "kind": incoming.kind,
            "contact": incoming.contact,
            "text": incoming.text,
            "id": incoming.row_id,
        }
        self.emit(data, self.describe(incoming))

    def own(self, message: MessageRecord) -> None:
        data = {
            "kind": "sent",
            "id": message.row_id,
            "text": message.text,
            "status": message.receipt.value,
        }
        self.emit(data, f"#{message.row_id} you: {message.text}  [{message.receipt.value}]")

    def history(self) -> None:
        with self.messenger.store.transaction() as tx:
            messages = tx.messages.history(self.contact.contact_id, HISTORY_ON_ENTRY)
        for message in messages:
            if message.direction.value == "sent":
                self.own(message)
            else:
                self.emit(
                    {
                        "kind": "message",
                        "contact": self.contact.alias,
                        "text": message.text,
                        "id": message.row_id,
                    },
                    f"#{message.row_id} {self.contact.alias}: {message.text}",
                )

    def command(self, command: Command) -> bool:
        """Run a slash command; False to leave."""
        if command.name == QUIT_COMMAND:
            return False
        if command.name == "/history":
            self.history()
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
            stored = await self.messenger.conversation.send_texts(self.contact.contact_id, [text])
        except (ChatError, ValueError) as error:
            self.emit({"error": str(error)}, f"not sent: {error}")
            return
        for message in stored:
            self.own(message)


async def run_chat(
    messenger: Messenger,
    contact: Contact,
    describe: Callable[[Incoming], str],
    *,
    as_json: bool = False,
) -> None:
    """Run the live chat until the user quits, closes standard input or presses Ctrl-C."""
    terminal = Terminal()
    chat = _Chat(messenger, contact, terminal, describe, as_json)
    if not as_json:
        terminal.show(
            f"Chatting with {contact.alias}. Type a message and press Enter; "
            f"/help lists commands, {QUIT_COMMAND} leaves."
        )
    chat.history()
    listener = asyncio.create_task(
        messenger.receive(idle=_LISTEN_SECONDS, on_incoming=chat.arrived)
    )
    # Ctrl-C ends the chat like /quit, whatever the reader thread is doing.
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, terminal.lines.put_nowait, None)
    terminal.start()
    try:
        while (line := await terminal.lines.get()) is not None:
            parsed = parse_line(line)
            if isinstance(parsed, Command):
                if not chat.command(parsed):
                    return
            elif parsed is not None:
                await chat.send(parsed.text)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
