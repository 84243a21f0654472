"""Every error of the bot SDK (codes 960-979), in one hierarchy.

:class:`BotError` is the base. Under it:

* :class:`BotLocalError` (also a :class:`~veil.errors.LocalError`): the bot's own
  code or machine — a command registered twice, a cursor file that cannot be read,
  a second bot on the same cursor.
* :class:`BotProtocolError` (also a :class:`~veil.errors.ProtocolError`): the service
  sent the bot an event it cannot use.

Errors of the API itself (a call the service refused, a lost connection) are the
service's own (:mod:`veil.service.errors`). The code table is in
``docs/protocol/bot.md``; a test checks that they agree.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import LocalError, ProtocolError, VeilError

__all__ = [
    "BotAlreadyRunning",
    "BotError",
    "BotLocalError",
    "BotProtocolError",
    "CommandTaken",
    "CursorTooOld",
    "CursorUnreadable",
    "MalformedEvent",
    "NoServiceGiven",
]


class BotError(VeilError):
    """Base class of every bot SDK error."""

    code: ClassVar[int] = 960


class BotLocalError(BotError, LocalError):
    """The bot's code or this machine failed; the service did nothing wrong."""

    code: ClassVar[int] = 961


class CommandTaken(BotLocalError):
    """Two handlers were registered for one command name."""

    code: ClassVar[int] = 962


class CursorUnreadable(BotLocalError):
    """The file that keeps the last handled event is damaged or not a bot cursor."""

    code: ClassVar[int] = 963


class BotAlreadyRunning(BotLocalError):
    """Another bot process holds the same cursor file."""

    code: ClassVar[int] = 964


class NoServiceGiven(BotLocalError):
    """Neither a profile folder nor a WebSocket URL and token were given."""

    code: ClassVar[int] = 965


class CursorTooOld(BotLocalError):
    """The service no longer keeps the events after the bot's cursor: the bot was away
    longer than the event log reaches back."""

    code: ClassVar[int] = 966


class BotProtocolError(BotError, ProtocolError):
    """The service sent the bot something it cannot use."""

    code: ClassVar[int] = 970


class MalformedEvent(BotProtocolError):
    """An event lacks a field or holds a value of the wrong type."""

    code: ClassVar[int] = 971
