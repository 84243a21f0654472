"""The API's group shapes: the parameters and results of the ``group.*`` methods.

``veil group ... --json`` and the group side of ``veil send/history/edit/delete/react
--json`` print these same shapes. A group is named by its local alias; a message of a
group by its ``seq``, its place in the group's log (the same for every member).
Like :mod:`veil.service.api_types`, this module imports nothing from the chat layer.
"""

# No ``from __future__ import annotations``: TypedDict must see ``NotRequired`` itself.
from typing import Literal, NotRequired, TypedDict

__all__ = [
    "GroupChangedResult",
    "GroupCreateParams",
    "GroupCreatedResult",
    "GroupDeleteParams",
    "GroupEditParams",
    "GroupHistoryParams",
    "GroupHistoryResult",
    "GroupInfoResult",
    "GroupInviteParams",
    "GroupJoinParams",
    "GroupJoinResult",
    "GroupLeftResult",
    "GroupLinkResult",
    "GroupListResult",
    "GroupMemberParams",
    "GroupMemberShape",
    "GroupMembersResult",
    "GroupMessageShape",
    "GroupNoticeShape",
    "GroupParams",
    "GroupReactParams",
    "GroupReactedResult",
    "GroupRemovedResult",
    "GroupRoleName",
    "GroupRoleParams",
    "GroupRoleResult",
    "GroupSendParams",
    "GroupSentResult",
    "GroupSyncParams",
    "GroupSyncResult",
    "InviteRoleName",
]

GroupRoleName = Literal["owner", "admin", "member", "observer"]
InviteRoleName = Literal["admin", "member", "observer"]


class GroupParams(TypedDict):
    """A group, by its local alias."""

    group: str


class GroupCreateParams(TypedDict):
    """``name``: the group's name, which every member sees; ``alias``: ours for it
    (default: the name)."""

    name: str
    alias: NotRequired[str | None]


class GroupCreatedResult(TypedDict):
    """The new group's alias and id (hex)."""

    group: str
    id: str


class GroupInviteParams(TypedDict):
    """``role``: what the joiner becomes (default ``member``)."""

    group: str
    role: NotRequired[InviteRoleName]


class GroupLinkResult(TypedDict):
    group: str
    link: str


class GroupJoinParams(TypedDict):
    """Ask to join by a group link; ``alias``: our name for the group."""

    link: str
    alias: str


class GroupJoinResult(TypedDict):
    """``contact``: the admin's alias among our contacts (the join travels over that
    connection); the group appears once the admin accepted and the welcome arrived."""

    group: str
    contact: str
    status: Literal["requested"]


class GroupSyncParams(TypedDict):
    """``idle``: without a service, receive for this many quiet seconds first
    (default 1; a service receives all the time)."""

    idle: NotRequired[float]


class GroupNoticeShape(TypedDict):
    """Something that happened in a group, as its event in the log shows it: ``kind``,
    ``sender`` (the member it is about), ``contact`` (that member's contact alias, if
    one), ``message`` (the seq of the message it is about) and ``text``."""

    kind: str
    group: str
    text: str
    sender: str
    contact: str | None
    message: int | None


class GroupSyncResult(TypedDict):
    notices: list[GroupNoticeShape]


class GroupListResult(TypedDict):
    """The aliases of the groups we keep."""

    groups: list[str]


class GroupInfoResult(TypedDict):
    """``status``: ``active``, ``left``, ``removed`` or ``past_retention`` (offline
    longer than the log keeps entries)."""

    group: str
    name: str
    description: str
    epoch: int
    members: int
    role: GroupRoleName
    status: str
    public: bool


class GroupMemberShape(TypedDict):
    """One member: ``handle`` (hex) names it in this group only; ``contact`` is our
    contact's alias when the member is one (introduced over our own connection, so
    ``verified``: the same person)."""

    handle: str
    name: str
    role: GroupRoleName
    you: bool
    contact: str | None
    verified: bool


class GroupMembersResult(TypedDict):
    group: str
    members: list[GroupMemberShape]


class GroupMemberParams(TypedDict):
    """``member``: a display name, or a handle (a hex prefix of 4 or more digits)."""

    group: str
    member: str


class GroupRoleParams(GroupMemberParams):
    """``owner`` transfers ownership."""

    role: GroupRoleName


class GroupRoleResult(TypedDict):
    """Done once an admin's commit carries it."""

    group: str
    member: str
    role: GroupRoleName


class GroupRemovedResult(TypedDict):
    group: str
    removed: str


class GroupLeftResult(TypedDict):
    """Our leaving is proposed; an admin commits it."""

    group: str
    left: bool


class GroupSendParams(TypedDict):
    """One message per text; ``reply_to``: the seq of the message they answer."""

    group: str
    texts: list[str]
    reply_to: NotRequired[int | None]


class GroupSentResult(TypedDict):
    """The message ids (hex); each gets its seq once it is back from the log."""

    group: str
    sent: list[str]


class GroupHistoryParams(TypedDict):
    group: str
    limit: NotRequired[int | None]


class GroupMessageShape(TypedDict):
    """One group message: ``seq`` names it for edit, delete, react and reply; ``id``
    is its message id (hex), ``sender`` the author's handle (hex) and ``name`` their
    display name; ``reply_to`` the id of the message it answers; ``reactions``:
    ``[handle, emoji]`` pairs."""

    seq: int
    id: str
    sender: str
    name: str
    own: bool
    text: str
    reply_to: str | None
    edited: bool
    deleted: bool
    reactions: list[list[str]]


class GroupHistoryResult(TypedDict):
    group: str
    messages: list[GroupMessageShape]


class GroupEditParams(TypedDict):
    group: str
    seq: int
    text: str


class GroupDeleteParams(TypedDict):
    """Deletes for everyone: our own message, or anyone's if we are an admin."""

    group: str
    seq: int


class GroupChangedResult(TypedDict):
    group: str
    seq: int


class GroupReactParams(TypedDict):
    group: str
    seq: int
    emoji: str
    remove: NotRequired[bool]


class GroupReactedResult(TypedDict):
    group: str
    seq: int
    emoji: str
    added: bool
