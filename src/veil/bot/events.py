"""The events a bot's handlers receive, as frozen typed records.

The service streams :class:`~veil.service.api_types.EventShape` dicts;
:func:`parse_event` checks each one and makes an :class:`Event`. A text message
becomes a :class:`Message` (or a :class:`Command` when it starts with ``/``), which
carries the connection's :class:`~veil.bot.actions.Actions` so a handler can answer
with ``await message.reply(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard

from veil.bot.actions import Actions
from veil.bot.errors import MalformedEvent
from veil.service import api_group_types as g
from veil.service import api_types as t

__all__ = ["Command", "Event", "Message", "message_of", "parse_event", "split_command"]

#: The longest command name the bot recognises (a longer ``/word`` is plain text).
MAX_COMMAND_NAME = 64
_TEXT_FIELDS = ("kind", "text", "integrity")
_OPTIONAL_INT_FIELDS = ("id", "request")


@dataclass(frozen=True, slots=True)
class Event:
    """One event of the service's log.

    ``kind`` is ``message``, ``edit``, ``delete``, ``reaction``, ``profile``,
    ``connected``, ``request``, ``desync``, ``repair-request``, ``repaired``,
    ``error`` or ``receipt`` (``docs/api.md``); ``contact`` is the contact's alias
    (``None`` for a contact request); ``message_id`` the message's row id (for a
    receipt, the bot's own message; ``text`` is then its status); ``request_id`` the
    contact request's id.

    In a group, ``group`` is its alias and ``sender`` the display name of the member
    the event is about (``contact`` is ``None``);
    ``message_id`` is then the message's seq in the group, and the kinds include
    ``member-joined``, ``member-left``, ``member-removed``, ``role-changed``,
    ``group-joined``, ``group-left`` and ``group-removed``.
    """

    seq: int
    kind: str
    contact: str | None
    text: str
    message_id: int | None
    integrity: str
    request_id: int | None
    at: float
    group: str | None = None
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A text message from ``contact``, or posted in ``group`` (then ``contact`` is
    the sender's display name), with helpers to answer it where it came from."""

    event: Event
    contact: str
    text: str
    message_id: int
    actions: Actions = field(repr=False, compare=False)
    group: str | None = None

    async def reply(self, *texts: str) -> t.SentResult | g.GroupSentResult:
        """Send ``texts`` to the sender (or into the group), each quoting this message."""
        if self.group is not None:
            return await self.actions.group_send(self.group, *texts, reply_to=self.message_id)
        return await self.actions.send(self.contact, *texts, reply_to=self.message_id)

    async def answer(self, *texts: str) -> t.SentResult | g.GroupSentResult:
        """Send ``texts`` to the sender (or into the group) without quoting this message."""
        if self.group is not None:
            return await self.actions.group_send(self.group, *texts)
        return await self.actions.send(self.contact, *texts)

    async def react(self, emoji: str) -> t.ReactedResult | g.GroupReactedResult:
        """React to this message with ``emoji``."""
        if self.group is not None:
            return await self.actions.group_react(self.group, self.message_id, emoji)
        return await self.actions.react(self.contact, self.message_id, emoji)


@dataclass(frozen=True, slots=True)
class Command(Message):
    """A message ``/name args``: ``name`` without the slash (lower case), ``args`` the
    rest after the first run of white space, stripped."""

    name: str = ""
    args: str = ""


def split_command(text: str) -> tuple[str, str] | None:
    """``("echo", "hi there")`` for ``"/echo hi there"``; ``None`` if ``text`` is no command."""
    body = text[1:] if text.startswith("/") else ""
    if not body or body[0].isspace():
        return None
    name, *rest = body.split(maxsplit=1)
    if len(name) > MAX_COMMAND_NAME or not name.isprintable() or "/" in name:
        return None
    return name.lower(), rest[0].strip() if rest else ""


def parse_event(shape: t.EventShape | dict[str, Any]) -> Event:
    """Check one event the service sent and make it an :class:`Event`.

    :class:`MalformedEvent` if a field is missing or of the wrong type."""
    raw: dict[str, Any] = dict(shape)
    seq, at, contact = raw.get("seq"), raw.get("at"), raw.get("contact")
    group, sender = raw.get("group"), raw.get("sender")
    if not _is_int(seq) or seq < 1:
        raise MalformedEvent(f"an event without a positive integer seq: {seq!r}")
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise MalformedEvent(f"event #{seq} has no time")
    if contact is not None and not isinstance(contact, str):
        raise MalformedEvent(f"event #{seq} names its contact with a {type(contact).__name__}")
    if not all(value is None or isinstance(value, str) for value in (group, sender)):
        raise MalformedEvent(f"event #{seq} names its group or sender with no text")
    for name in _TEXT_FIELDS:
        if not isinstance(raw.get(name), str):
            raise MalformedEvent(f"event #{seq} has no text field {name!r}")
    for name in _OPTIONAL_INT_FIELDS:
        if raw.get(name) is not None and not _is_int(raw.get(name)):
            raise MalformedEvent(f"event #{seq} has a {name!r} that is not an integer")
    return Event(
        seq=seq,
        kind=raw["kind"],
        contact=contact,
        text=raw["text"],
        message_id=raw.get("id"),
        integrity=raw["integrity"],
        request_id=raw.get("request"),
        at=float(at),
        group=group,
        sender=sender,
    )


def message_of(event: Event, actions: Actions) -> Message | None:
    """The event as a :class:`Command` or :class:`Message`, if it is a text message."""
    who = event.contact if event.group is None else event.sender
    if event.kind != "message" or who is None or event.message_id is None:
        return None
    text, row, group = event.text, event.message_id, event.group
    parts = split_command(text)
    if parts is None:
        return Message(event, who, text, row, actions, group)
    name, args = parts
    return Command(event, who, text, row, actions, group, name, args)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
