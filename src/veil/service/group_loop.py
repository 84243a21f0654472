"""The service's part in groups: it holds the profile's group host for its whole
life and catches up with every group in a loop beside the receive loop, so group
messages, joins and membership changes arrive (and are logged as events, waking the
subscribers) without anyone calling ``group.sync``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from veil.chat.app import Messenger
from veil.chat.group_errors import NoGroupRelay
from veil.chat.group_host import GroupHost, groups_of

__all__ = ["GROUP_ROUND", "follow_groups", "hold_groups"]

_log = logging.getLogger(__name__)
#: Seconds between two catch-up rounds (a round itself waits on the relay a little).
GROUP_ROUND = 0.5


def hold_groups(messenger: Messenger) -> GroupHost | None:
    """The service's group host, told that the service receives pairwise messages;
    ``None`` when no relay receives (groups need one; the group methods say so)."""
    try:
        host = groups_of(messenger)
    except NoGroupRelay:
        return None
    host.receives_elsewhere = True
    return host


async def follow_groups(host: GroupHost, wake: Callable[[], None]) -> None:
    """Catch up with every group, round after round, until cancelled; ``wake`` the
    subscribers when something happened. A failed round is logged and tried again."""
    while True:
        try:
            notices = await host.catch_up()
        except Exception:
            _log.exception("catching up with the groups failed; the next round tries again")
            notices = []
        if notices:
            wake()
        await asyncio.sleep(GROUP_ROUND)
