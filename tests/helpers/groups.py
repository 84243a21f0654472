"""Group engines over one in-memory log, for tests: create, admit and join, and a
history of what each member saw."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from helpers.group_log import MemoryGroupLog, MemoryGroupStore, MemoryGroupTransaction
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.events import GroupEvent, MemberAdmitted, Posted
from veil.agent.groups.policy import Role
from veil.crypto import SystemRandom


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Client:
    """One user's engine, its store, and what it has seen."""

    name: str
    engine: GroupEngine[MemoryGroupTransaction]
    store: MemoryGroupStore
    events: list[GroupEvent] = field(default_factory=list)

    def history(self) -> list[tuple[int, bytes]]:
        """``(seq, text)`` of every message seen, in order."""
        return [(e.seq, e.data) for e in self.events if isinstance(e, Posted)]

    async def sync(self, group_id: bytes) -> list[GroupEvent]:
        """Catch up with the log; remember the events."""
        events = await self.engine.sync(group_id)
        self.events += events
        return events


def new_client(name: str, log: MemoryGroupLog, clock: Clock | None = None) -> Client:
    """A client with its own store, on the shared log."""
    store = MemoryGroupStore()
    engine = GroupEngine(store, log, rng=SystemRandom(), clock=clock or Clock())
    return Client(name, engine, store)


async def admit_all(
    admin: Client, group_id: bytes, joiners: list[Client], role: Role = Role.MEMBER
) -> None:
    """Admit every joiner in one commit and let each join from its Welcome."""
    pending: dict[bytes, tuple[Client, bytes]] = {}
    for joiner in joiners:
        request, secret = joiner.engine.request_join(joiner.name)
        ticket = joiner.name.encode()
        pending[ticket] = (joiner, secret)
        await admin.engine.admit(group_id, request, ticket, role, flush=False)
    await admin.engine.flush(group_id)
    for _ in range(3):  # the commit comes back, then the Welcome posted after it
        for event in await admin.sync(group_id):
            if isinstance(event, MemberAdmitted):
                joiner, secret = pending.pop(event.ticket)
                await joiner.engine.join(event.bundle, secret)
    assert not pending, "every joiner is admitted"


async def sync_all(
    clients: list[Client], group_id: bytes, rounds: int = 30, *, together: bool = False
) -> None:
    """Sync everyone until nobody has anything left to post; ``together`` syncs all
    clients of a round at once (over a relay, a read waits for entries that may come)."""
    for _ in range(rounds):
        before = sum(len(c.events) for c in clients)
        if together:
            await asyncio.gather(*(client.sync(group_id) for client in clients))
        else:
            for client in clients:
                await client.sync(group_id)
        busy = any(
            client.engine.member(group_id).pending is not None
            or not client.engine.member(group_id).intent.empty()
            or client.engine.member(group_id).posts
            for client in clients
        )
        if not busy and sum(len(c.events) for c in clients) == before:
            return
    raise AssertionError("the group did not settle")


async def make_group(n: int, name: str = "Club") -> tuple[MemoryGroupLog, list[Client], bytes]:
    """A group of ``n`` clients on one in-memory log, all joined and settled."""
    log = MemoryGroupLog(SystemRandom())
    clients = [new_client(f"user{i}", log) for i in range(n)]
    group_id = await clients[0].engine.create(name, "user0")
    await admit_all(clients[0], group_id, clients[1:])
    await sync_all(clients, group_id)
    return log, clients, group_id
