"""Restarts, catching up, retention and size: a member restored from its store
commits before it sends, an offline member catches up from its cursor, one past the
retention period is told, and 100 members all see every message."""

from __future__ import annotations

import pytest

from helpers.groups import make_group, sync_all
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.errors import PastRetention
from veil.agent.groups.events import EpochChanged, RetentionLost
from veil.agent.groups.member import Status
from veil.crypto import SystemRandom


async def test_a_restarted_member_commits_in_the_clear_before_it_sends() -> None:
    log, clients, group_id = await make_group(3)
    restarted = clients[1]
    restarted.engine = GroupEngine(
        restarted.store, log, rng=SystemRandom(), clock=lambda: 1_800_000_000.0
    )
    assert restarted.engine.member(group_id).mls.restored
    before = clients[0].engine.member(group_id).mls.context.epoch
    await restarted.engine.post(group_id, b"back again")
    await sync_all(clients, group_id)
    assert all(client.history()[-1][1] == b"back again" for client in clients)
    assert clients[0].engine.member(group_id).mls.context.epoch == before + 1
    assert not restarted.engine.member(group_id).mls.restored


async def test_an_offline_member_catches_up_across_100_messages_and_3_commits() -> None:
    _, clients, group_id = await make_group(4)
    online, offline = clients[:3], clients[3]
    for round_ in range(3):
        for i in range(33 + (round_ == 0)):
            await online[i % 3].engine.post(group_id, f"r{round_} m{i}".encode())
        await online[round_].engine.update_keys(group_id)
        await sync_all(online, group_id)
    await offline.sync(group_id)
    assert offline.history() == online[0].history()
    assert len(offline.history()) == 100
    assert len([e for e in offline.events if isinstance(e, EpochChanged)]) == 3


async def test_a_member_past_retention_is_told_and_can_no_longer_post() -> None:
    log, clients, group_id = await make_group(3)
    for i in range(5):
        await clients[0].engine.post(group_id, f"m{i}".encode())
    await sync_all(clients[:2], group_id)
    access = clients[0].engine.member(group_id).access
    log.expire(access, log.entries(access)[-1].seq)
    events = await clients[2].sync(group_id)
    assert events == [RetentionLost(clients[2].engine.member(group_id).cursor, can_rejoin=False)]
    assert clients[2].engine.member(group_id).status is Status.PAST_RETENTION
    with pytest.raises(PastRetention):
        await clients[2].engine.post(group_id, b"hello?")


@pytest.mark.slow
async def test_one_hundred_members_receive_every_message_and_agree_on_the_epoch() -> None:
    _, clients, group_id = await make_group(100)
    for index in range(0, 100, 10):
        await clients[index].engine.post(group_id, f"from {index}".encode())
    await clients[57].engine.update_keys(group_id)
    await sync_all(clients, group_id)
    histories = [client.history() for client in clients]
    assert len(histories[0]) == 10
    assert all(history == histories[0] for history in histories)
    authenticators = {c.engine.member(group_id).mls.epoch_authenticator for c in clients}
    assert len(authenticators) == 1
