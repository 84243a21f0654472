"""Errors of group chat (codes 680-699, part of the chat layer's hierarchy)."""

from __future__ import annotations

from typing import ClassVar

from veil.chat.errors import ChatLocalError, ChatProtocolError

__all__ = [
    "GroupMessageNotFound",
    "MalformedGroupLink",
    "MemberNotFound",
    "NoGroupRelay",
    "NotYourMessage",
    "UnexpectedGroupEvent",
]


class MemberNotFound(ChatLocalError):
    """No member of the group matches the name or handle given (or several do):
    ``veil group members GROUP`` lists them with their handles."""

    code: ClassVar[int] = 680


class NotYourMessage(ChatLocalError):
    """Only a message's author edits it; only its author or an admin deletes it."""

    code: ClassVar[int] = 681


class MalformedGroupLink(ChatLocalError):
    """A group link does not parse: ask the admin for the link again."""

    code: ClassVar[int] = 682


class GroupMessageNotFound(ChatLocalError):
    """The group has no message with that number: ``veil history GROUP`` shows them."""

    code: ClassVar[int] = 683


class NoGroupRelay(ChatLocalError):
    """Group logs live on a receiving relay and none is enabled: ``veil relays enable``."""

    code: ClassVar[int] = 684


class UnexpectedGroupEvent(ChatProtocolError):
    """A join message arrived on a connection that waits for no such thing; dropped."""

    code: ClassVar[int] = 690
