"""Ten members commit at the same moment: one commit wins each epoch, the losers
commit again in the next, everyone converges and no message is lost."""

from __future__ import annotations

import asyncio

from helpers.group_log import MemoryGroupLog
from helpers.groups import admit_all, new_client, sync_all
from veil.agent.groups.errors import StaleGroupEntry
from veil.agent.groups.events import EntryRejected, EpochChanged
from veil.crypto import SystemRandom


async def test_ten_simultaneous_commits_one_winner_per_epoch_and_nothing_lost() -> None:
    log = MemoryGroupLog(SystemRandom())
    clients = [new_client(f"user{i}", log) for i in range(10)]
    group_id = await clients[0].engine.create("Team", "user0")
    await admit_all(clients[0], group_id, clients[1:])
    await sync_all(clients, group_id)
    start_epoch = clients[0].engine.member(group_id).mls.context.epoch
    for client in clients:
        client.events.clear()

    async def commit_and_talk(index: int) -> None:
        await clients[index].engine.update_keys(group_id)
        await clients[index].engine.post(group_id, f"message {index}".encode())

    await asyncio.gather(*(commit_and_talk(i) for i in range(10)))
    await sync_all(clients, group_id)

    epochs = [c.engine.member(group_id).mls.context.epoch for c in clients]
    assert epochs == [start_epoch + 10] * 10
    authenticators = {c.engine.member(group_id).mls.epoch_authenticator for c in clients}
    assert len(authenticators) == 1
    for client in clients:
        changes = [e for e in client.events if isinstance(e, EpochChanged)]
        assert [e.epoch for e in changes] == list(range(start_epoch + 1, start_epoch + 11))
        assert len({e.committer for e in changes}) == 10  # each member won one epoch
        assert any(
            isinstance(e, EntryRejected) and isinstance(e.error, StaleGroupEntry)
            for e in client.events
        )
    histories = [client.history() for client in clients]
    assert all(history == histories[0] for history in histories)
    assert sorted(text for _, text in histories[0]) == sorted(
        f"message {i}".encode() for i in range(10)
    )
