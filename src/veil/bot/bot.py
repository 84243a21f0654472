"""The :class:`Bot`: handlers registered with decorators, run over the service API.

::

    bot = Bot("echo")

    @bot.command("echo", help="repeat what follows")
    async def echo(command: Command) -> None:
        await command.reply(command.args)

    bot.main()      # --home PROFILE, or --url ws://... --token-file FILE

Events are handled one at a time, in the order of the service's log. After each
one the bot saves its sequence number (:mod:`veil.bot.cursor`), so a restart
resumes after the last handled event. A handler that raises is logged and the bot
goes on with the next event; a lost connection is re-made and resumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from veil.bot.actions import Actions, ApiClient
from veil.bot.cursor import Cursor
from veil.bot.errors import CommandTaken, CursorTooOld, MalformedEvent
from veil.bot.events import Command, Event, Message, message_of, parse_event, split_command
from veil.service import api_types as t
from veil.service.errors import RemoteError, ServiceClosed

__all__ = ["ANY_EVENT", "Bot", "CommandHandler", "ContactHandler", "EventHandler"]

LOG = logging.getLogger("veil.bot")
#: Pass to :meth:`Bot.on_event` to receive every event.
ANY_EVENT = "*"

CommandHandler = Callable[[Command], Awaitable[None]]
MessageHandler = Callable[[Message], Awaitable[None]]
EventHandler = Callable[[Event], Awaitable[None]]
ContactHandler = Callable[[t.ContactShape], Awaitable[None]]
_C = TypeVar("_C", bound=CommandHandler)
_M = TypeVar("_M", bound=MessageHandler)
_E = TypeVar("_E", bound=EventHandler)
_K = TypeVar("_K", bound=ContactHandler)


@dataclass(frozen=True, slots=True)
class _Registered:
    handler: CommandHandler
    help: str


class Bot:
    """A bot: its commands and handlers, and the loop that feeds them events.

    ``auto_accept``: create (or keep) the profile's contact address and accept every
    contact request that comes to it.
    """

    def __init__(self, name: str = "bot", *, auto_accept: bool = True) -> None:
        self.name = name
        self.auto_accept = auto_accept
        self.address: str | None = None
        self._commands: dict[str, _Registered] = {}
        self._message_handlers: list[MessageHandler] = []
        self._event_handlers: dict[str, list[EventHandler]] = {}
        self._contact_handlers: list[ContactHandler] = []
        self._accepted: set[int] = set()
        self._actions: Actions | None = None

    # -- registering ------------------------------------------------------------------

    def command(self, name: str, *, help: str = "") -> Callable[[_C], _C]:
        """Register the decorated coroutine for ``/name`` (case does not matter)."""
        key = name.removeprefix("/").lower()
        if split_command("/" + key) != (key, ""):
            raise ValueError(f"{name!r} is not a command name (one word, no slash)")

        def register(handler: _C) -> _C:
            if key in self._commands:
                raise CommandTaken(f"/{key} already has a handler")
            self._commands[key] = _Registered(handler, help)
            return handler

        return register

    def on_message(self, handler: _M) -> _M:
        """Register a handler for every text message that is not a command."""
        self._message_handlers.append(handler)
        return handler

    def on_event(self, *kinds: str) -> Callable[[_E], _E]:
        """Register a handler for events of these kinds (:data:`ANY_EVENT` for all)."""

        def register(handler: _E) -> _E:
            for kind in kinds or (ANY_EVENT,):
                self._event_handlers.setdefault(kind, []).append(handler)
            return handler

        return register

    def on_contact(self, handler: _K) -> _K:
        """Register a handler called with each contact the bot accepted."""
        self._contact_handlers.append(handler)
        return handler

    def help_text(self) -> str:
        """What ``/help`` answers unless a ``help`` command is registered."""
        lines = [f"{self.name} understands:"]
        lines += [
            f"/{name} - {entry.help}" if entry.help else f"/{name}"
            for name, entry in self._commands.items()
        ]
        if "help" not in self._commands:
            lines.append("/help - this list")
        return "\n".join(lines)

    # -- running ------------------------------------------------------------------------

    @property
    def actions(self) -> Actions:
        """Send, react, accept... on the current connection (for handlers that act
        on their own, not in answer to a message)."""
        if self._actions is None:
            raise ServiceClosed("the bot is not connected to a service")
        return self._actions

    async def serve(self, client: ApiClient, cursor: Cursor) -> None:
        """Handle the events of one connection, resuming after ``cursor``; return
        never (the connection's loss raises :class:`ServiceClosed`)."""
        self._actions = actions = Actions(client)
        try:
            if cursor.last_seq is None:  # a new bot answers what comes from now on
                cursor.save(client.hello["last_event"] if client.hello else 0)
            if self.auto_accept:
                self.address = await actions.address()
                LOG.info("%s listens on its address: %s", self.name, self.address)
                for request in await actions.pending_requests():
                    await self._accept(request["id"])
            await self._follow(client, cursor)
        finally:
            self._actions = None

    async def _follow(self, client: ApiClient, cursor: Cursor) -> None:
        since = cursor.last_seq or 0
        try:
            async for shape in client.events(since):
                await _finish_before_stopping(self._handle(shape, cursor))
        except RemoteError as exc:  # handlers' refusals are caught in handle(): subscribe's
            if exc.kind != "EventsPruned":
                raise
            raise CursorTooOld(
                f"the service no longer keeps the events after #{since}, where {self.name} "
                f"stopped: delete {cursor.path} to start from the newest event"
            ) from exc

    async def _handle(self, shape: t.EventShape | dict[str, Any], cursor: Cursor) -> None:
        """Handle one event from the service, unless it was handled already, and
        save it in ``cursor``. A handler's failure is logged; a lost connection is
        raised with the event left unhandled."""
        try:
            event = parse_event(shape)
        except MalformedEvent as exc:
            LOG.warning("skipped an event the service sent: %s", exc)
            seq = dict(shape).get("seq")
            if isinstance(seq, int) and seq > (cursor.last_seq or 0):
                cursor.save(seq)
            return
        if cursor.last_seq is not None and event.seq <= cursor.last_seq:
            return
        await self._dispatch(event)
        cursor.save(event.seq)

    async def _dispatch(self, event: Event) -> None:
        kinds = self._event_handlers.get(event.kind, []), self._event_handlers.get(ANY_EVENT, [])
        handlers = [handler for handlers_of_kind in kinds for handler in handlers_of_kind]
        for handler in handlers:
            await self._guarded(handler(event), event)
        if event.kind == "request" and self.auto_accept and event.request_id is not None:
            await self._guarded(self._accept(event.request_id), event)
        message = message_of(event, self.actions)
        if isinstance(message, Command):
            await self._guarded(self._run_command(message), event)
        elif message is not None:
            for on_message in self._message_handlers:
                await self._guarded(on_message(message), event)

    async def _run_command(self, command: Command) -> None:
        entry = self._commands.get(command.name)
        if entry is not None:
            await entry.handler(command)
        elif command.name == "help":
            await command.reply(self.help_text())
        else:
            await command.reply(f"I do not know /{command.name}; send /help for what I do.")

    async def _accept(self, request_id: int) -> None:
        if request_id in self._accepted:
            return
        contact = await self.actions.accept(request_id)
        self._accepted.add(request_id)
        LOG.info("accepted %s as a contact", contact["alias"])
        for handler in self._contact_handlers:
            await handler(contact)

    @staticmethod
    async def _guarded(step: Awaitable[None], event: Event) -> None:
        try:
            await step
        except ServiceClosed:
            raise
        except RemoteError as exc:
            LOG.warning("event #%d: the service refused a call: %s (%s)", event.seq, exc, exc.kind)
        except Exception:
            LOG.exception("event #%d: a handler failed", event.seq)


async def _finish_before_stopping(step: Awaitable[None]) -> None:
    """Run ``step`` to its end even when the bot is stopped meanwhile, then stop: a stop
    in the middle of an event would leave it answered but not saved in the cursor, and
    the restarted bot would answer it twice."""
    task = asyncio.ensure_future(step)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
