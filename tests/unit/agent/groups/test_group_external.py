"""Public groups: joining by external commit, losing the race for an epoch, rejoining
after the retention period; and a private group refusing external commits."""

from __future__ import annotations

import asyncio

import pytest

from helpers.group_log import MemoryGroupLog
from helpers.groups import Client, make_group, new_client, sync_all
from veil.agent.groups.errors import GroupPolicyViolation, NotAllowed
from veil.agent.groups.events import EntryRejected, JoinLost
from veil.agent.groups.member import Status
from veil.agent.groups.wire import encode_entry
from veil.crypto import SystemRandom
from veil.mls.external_join import group_info_for_joiners, join_by_external_commit
from veil.mls.leaf_node import Lifetime
from veil.mls.welcome import GroupInfo


async def _public_group(n: int) -> tuple[MemoryGroupLog, list[Client], bytes]:
    log, clients, group_id = await make_group(n)
    await clients[0].engine.set_public(group_id, True)
    await sync_all(clients, group_id)
    assert clients[-1].engine.member(group_id).policy.public
    return log, clients, group_id


async def test_joining_a_public_group_by_external_commit() -> None:
    log, clients, group_id = await _public_group(3)
    owner = clients[0]
    outsider = new_client("outsider", log)
    grant = await log.grant(owner.engine.member(group_id).admin or b"")
    await outsider.engine.join_external(owner.engine.offer(group_id), grant.access, grant.ref)
    everyone = [*clients, outsider]
    await sync_all(everyone, group_id)
    assert outsider.engine.member(group_id).joining is None
    await outsider.engine.post(group_id, b"hello, I let myself in")
    await sync_all(everyone, group_id)
    assert all(c.history()[-1][1] == b"hello, I let myself in" for c in everyone)
    assert len({c.engine.member(group_id).mls.epoch_authenticator for c in everyone}) == 1


async def test_two_joiners_race_for_one_epoch_and_the_loser_is_told() -> None:
    log, clients, group_id = await _public_group(2)
    owner = clients[0]
    offer = owner.engine.offer(group_id)
    joiners = [new_client(f"j{i}", log) for i in range(2)]
    grants = [await log.grant(owner.engine.member(group_id).admin or b"") for _ in joiners]
    await asyncio.gather(
        *(
            j.engine.join_external(offer, g.access, g.ref)
            for j, g in zip(joiners, grants, strict=True)
        )
    )
    for joiner in joiners:
        await joiner.sync(group_id)
    await sync_all(clients, group_id)
    winner, loser = joiners
    assert winner.engine.member(group_id).status is Status.ACTIVE
    assert any(isinstance(e, JoinLost) for e in loser.events)
    assert loser.engine.member(group_id).status is Status.PAST_RETENTION
    members = len(owner.engine.member(group_id).mls.tree.members())
    assert members == 3


async def test_a_member_past_retention_rejoins_a_public_group() -> None:
    log, clients, group_id = await _public_group(3)
    for i in range(3):
        await clients[0].engine.post(group_id, f"m{i}".encode())
    await sync_all(clients[:2], group_id)
    access = clients[0].engine.member(group_id).access
    log.expire(access, log.entries(access)[-1].seq)
    await clients[2].sync(group_id)
    assert clients[2].engine.member(group_id).status is Status.PAST_RETENTION
    await clients[2].engine.rejoin(group_id, clients[1].engine.offer(group_id))
    await sync_all(clients, group_id)
    await clients[2].engine.post(group_id, b"back")
    await sync_all(clients, group_id)
    assert all(c.history()[-1][1] == b"back" for c in clients)


async def test_a_private_group_refuses_external_commits() -> None:
    log, clients, group_id = await make_group(2)
    with pytest.raises(NotAllowed):
        clients[0].engine.offer(group_id)
    info = group_info_for_joiners(clients[0].engine.member(group_id).mls).body
    assert isinstance(info, GroupInfo)
    commit, _ = join_by_external_commit(info, SystemRandom(), Lifetime(0, 2**40))
    seq = log.inject(clients[0].engine.member(group_id).access, encode_entry(commit))
    await sync_all(clients, group_id)
    for client in clients:
        (rejected,) = [e for e in client.events if isinstance(e, EntryRejected) and e.seq == seq]
        assert isinstance(rejected.error, GroupPolicyViolation)
