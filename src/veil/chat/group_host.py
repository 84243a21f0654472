"""A profile's group machinery, held for as long as its :class:`Messenger` is open.

:class:`GroupHost` owns the group chat, the joins and the connection to the group
logs (on the profile's first receiving relay). ``veil serve`` holds one for its
whole life and catches up with every group in its receive loop; a CLI command with
no service holds one for the length of the command. The host hangs on the
messenger (:func:`groups_of`), which closes it with itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.relay_log import RelayGroupLog
from veil.chat.app import Messenger
from veil.chat.group_errors import NoGroupRelay
from veil.chat.group_joins import GroupJoins
from veil.chat.groups import GroupChat, GroupNotice
from veil.chat.store import Transaction
from veil.relay.client.relay_client import RelayClient

__all__ = ["LOG_DELIVERY_WINDOW", "GroupHost", "groups_of"]

#: Log entries a relay may push before we acknowledge them.
LOG_DELIVERY_WINDOW = 255
Connect = Callable[[str], Awaitable[RelayClient]]


async def _connect(address: str) -> RelayClient:
    return await RelayClient.connect(address, delivery_window=LOG_DELIVERY_WINDOW)


class GroupHost:
    """The group chat, joins and log connection of one open profile."""

    def __init__(
        self,
        messenger: Messenger,
        engine: GroupEngine[Transaction],
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.messenger = messenger
        self.chat = GroupChat(messenger.store, engine, messenger.rng, messenger.now)
        self.joins = GroupJoins(messenger, self.chat, messenger.rng, messenger.now)
        self._close = close
        self._round = asyncio.Lock()
        self.receives_elsewhere = False
        """Set by ``veil serve``: its receive loop takes pairwise messages, so a sync
        here must not receive too (two receivers would take each other's deliveries)."""

    @classmethod
    def over_relay(cls, messenger: Messenger, connect: Connect = _connect) -> GroupHost:
        """A host whose group logs live on the profile's first receiving relay;
        :class:`NoGroupRelay` if no relay receives."""
        receiving = [str(relay.address) for relay in messenger.policy.relays if relay.receive]
        if not receiving:
            raise NoGroupRelay("no relay is enabled for receiving: `veil relays enable`")
        log = RelayGroupLog(connect, receiving[0], messenger.rng)
        engine = GroupEngine(messenger.store, log, rng=messenger.rng, clock=messenger.now)
        return cls(messenger, engine, log.close)

    async def catch_up(self) -> list[GroupNotice]:
        """One round: move joins along, read every group's log, post what is due.
        Rounds never overlap (a join is admitted once)."""
        async with self._round:
            joined = await self.joins.process()
            notices = [GroupNotice("group-joined", alias, "") for alias in joined]
            # Groups are read side by side: a read of a quiet log waits on the relay.
            synced = await asyncio.gather(*(self.chat.sync(a) for a, _ in self.chat.aliases()))
            notices += [notice for group in synced for notice in group]
            await self.messenger.agent.outbox.flush(force=True)
            await self.joins.process()
            return notices

    async def sync(self, idle: float) -> list[GroupNotice]:
        """Receive pairwise messages for ``idle`` quiet seconds (unless a service
        receives them), then :meth:`catch_up`."""
        if not self.receives_elsewhere:
            await self.messenger.receive(idle=idle, on_incoming=lambda _: None)
        return await self.catch_up()

    async def close(self) -> None:
        """Close the connection to the group logs."""
        if self._close is not None:
            await self._close()


def groups_of(messenger: Messenger) -> GroupHost:
    """The messenger's group host, made on first use (closed with the messenger)."""
    if messenger.groups is None:
        messenger.groups = GroupHost.over_relay(messenger)
    return messenger.groups
