"""The ``group.*`` methods of the API's catalog: parameter and result shapes, summary.

:mod:`veil.service.catalog` adds these to ``METHODS``; they live apart so the
catalog stays one screen per subject.
"""

from __future__ import annotations

from veil.service import api_group_types as g
from veil.service import api_types as t

__all__ = ["GROUP_METHODS"]

#: ``name: (params, result, summary)`` of every group method.
GROUP_METHODS: dict[str, tuple[type, type, str]] = {
    "group.create": (g.GroupCreateParams, g.GroupCreatedResult, "Create a group owned by you."),
    "group.invite": (
        g.GroupInviteParams,
        g.GroupLinkResult,
        "A link to ask to join the group (admins; you accept the contact request).",
    ),
    "group.join": (
        g.GroupJoinParams,
        g.GroupJoinResult,
        "Ask to join a group by its link; it appears once the admin accepted.",
    ),
    "group.sync": (
        g.GroupSyncParams,
        g.GroupSyncResult,
        "Move joins along and catch up with every group now (a service does it anyway).",
    ),
    "group.list": (t.Empty, g.GroupListResult, "The groups you are in."),
    "group.info": (
        g.GroupParams,
        g.GroupInfoResult,
        "A group's name, description, epoch, size, your role and status.",
    ),
    "group.members": (g.GroupParams, g.GroupMembersResult, "A group's members and roles."),
    "group.role": (
        g.GroupRoleParams,
        g.GroupRoleResult,
        "Give a member a role (owner transfers ownership).",
    ),
    "group.remove": (g.GroupMemberParams, g.GroupRemovedResult, "Remove a member."),
    "group.leave": (
        g.GroupParams,
        g.GroupLeftResult,
        "Leave a group (an owner transfers ownership first).",
    ),
    "group.send": (g.GroupSendParams, g.GroupSentResult, "Post one message per text."),
    "group.history": (
        g.GroupHistoryParams,
        g.GroupHistoryResult,
        "A group's messages in log order, the same for every member.",
    ),
    "group.edit": (
        g.GroupEditParams,
        g.GroupChangedResult,
        "Replace the text of one of your group messages.",
    ),
    "group.delete": (
        g.GroupDeleteParams,
        g.GroupChangedResult,
        "Delete a group message for everyone (yours, or anyone's as an admin).",
    ),
    "group.react": (g.GroupReactParams, g.GroupReactedResult, "Set or withdraw a reaction."),
}
