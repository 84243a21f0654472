"""The Veil bot SDK: a bot in a few lines over a running ``veil serve``.

::

    from veil.bot import Bot, Command, main

    bot = Bot("echo")

    @bot.command("echo", help="repeat what follows")
    async def echo(command: Command) -> None:
        await command.reply(command.args)

    if __name__ == "__main__":
        main(bot)       # python echo.py --home PROFILE

* :mod:`veil.bot.bot` — :class:`Bot`: decorators for commands and events, the
  automatic acceptance of contact requests, the event loop.
* :mod:`veil.bot.events` — :class:`Event`, :class:`Message`, :class:`Command`.
* :mod:`veil.bot.actions` — send, reply, react, accept over the API.
* :mod:`veil.bot.cursor` — the last handled event, kept on disk.
* :mod:`veil.bot.run` — connecting, reconnecting, the command line.

The SDK uses only the API client (:mod:`veil.service.client`), so a bot never
opens the profile's store; docs/bots.md is the tutorial.
"""

from veil.bot.actions import Actions, ApiClient
from veil.bot.bot import ANY_EVENT, Bot
from veil.bot.cursor import Cursor
from veil.bot.errors import (
    BotAlreadyRunning,
    BotError,
    BotLocalError,
    BotProtocolError,
    CommandTaken,
    CursorTooOld,
    CursorUnreadable,
    MalformedEvent,
    NoServiceGiven,
)
from veil.bot.events import Command, Event, Message
from veil.bot.run import ServiceAddress, main, run_bot

__all__ = [
    "ANY_EVENT",
    "Actions",
    "ApiClient",
    "Bot",
    "BotAlreadyRunning",
    "BotError",
    "BotLocalError",
    "BotProtocolError",
    "Command",
    "CommandTaken",
    "Cursor",
    "CursorTooOld",
    "CursorUnreadable",
    "Event",
    "MalformedEvent",
    "Message",
    "NoServiceGiven",
    "ServiceAddress",
    "main",
    "run_bot",
]
