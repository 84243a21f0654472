"""Bad entries in a group's log: each is rejected with a clear error, in the same
place for every member, and the group carries on."""

from __future__ import annotations

import pytest

from helpers.groups import Client, make_group, sync_all
from veil.agent.groups.errors import (
    GroupPolicyViolation,
    GroupProtocolError,
    MalformedGroupData,
    StaleGroupEntry,
)
from veil.agent.groups.events import EntryRejected
from veil.agent.groups.policy import Role
from veil.agent.groups.wire import encode_entry
from veil.crypto import SystemRandom
from veil.mls.operations import create_commit, encrypt_application
from veil.mls.proposals import Remove

RNG = SystemRandom()


async def _rejected_by_all(
    clients: list[Client], group_id: bytes, seq: int, kind: type[GroupProtocolError]
) -> None:
    await sync_all(clients, group_id)
    for client in clients:
        rejected = [e for e in client.events if isinstance(e, EntryRejected) and e.seq == seq]
        assert len(rejected) == 1, client.name
        assert isinstance(rejected[0].error, kind), rejected[0].error
        assert 580 <= rejected[0].error.code < 600


async def _carries_on(clients: list[Client], group_id: bytes, text: bytes) -> None:
    await clients[0].engine.update_keys(group_id)
    await clients[-1].engine.post(group_id, text)
    await sync_all(clients, group_id)
    assert all(client.history()[-1][1] == text for client in clients)
    assert len({c.engine.member(group_id).mls.epoch_authenticator for c in clients}) == 1


def _access(client: Client, group_id: bytes) -> bytes:
    return client.engine.member(group_id).access


@pytest.mark.parametrize(
    "garbage", [b"", b"\x01", b"\x02" + bytes(40), b"\x01\x00\x01\x00\x02" + bytes(30)]
)
async def test_malformed_entries_are_skipped(garbage: bytes) -> None:
    log, clients, group_id = await make_group(3)
    seq = log.inject(_access(clients[0], group_id), garbage)
    await _rejected_by_all(clients, group_id, seq, MalformedGroupData)
    await _carries_on(clients, group_id, b"still fine")


async def test_a_member_commit_removing_someone_is_refused_by_every_member() -> None:
    log, clients, group_id = await make_group(3)
    rogue = clients[1].engine.member(group_id)
    victim = clients[2].engine.member(group_id).mls.leaf_index
    forged = create_commit(rogue.mls, RNG, by_value=(Remove(victim),), private=True)
    seq = log.inject(rogue.access, encode_entry(forged.message))
    await _rejected_by_all(clients[:1] + clients[2:], group_id, seq, GroupPolicyViolation)
    await _carries_on(clients[:1] + clients[2:], group_id, b"victim still here")


async def test_a_replayed_commit_and_a_replayed_message_are_stale() -> None:
    log, clients, group_id = await make_group(3)
    await clients[1].engine.post(group_id, b"once")
    await clients[0].engine.update_keys(group_id)
    await sync_all(clients, group_id)
    entries = log.entries(_access(clients[0], group_id))
    for old in entries[-2:]:
        seq = log.inject(_access(clients[0], group_id), old.data)
        await _rejected_by_all(clients, group_id, seq, StaleGroupEntry)
    assert [text for _, text in clients[2].history()].count(b"once") == 1
    await _carries_on(clients, group_id, b"after the replays")


async def test_a_message_from_a_removed_member_and_from_an_observer_are_refused() -> None:
    log, clients, group_id = await make_group(4)
    owner, observer, removed = clients[0], clients[2], clients[3]
    old_state = removed.engine.member(group_id).mls
    await owner.engine.remove(group_id, removed.engine.member(group_id).handle)
    await owner.engine.set_role(group_id, observer.engine.member(group_id).handle, Role.OBSERVER)
    await sync_all(clients[:3], group_id)
    message, _ = encrypt_application(old_state, b"let me in", RNG)
    seq = log.inject(_access(owner, group_id), encode_entry(message))
    await _rejected_by_all(clients[:3], group_id, seq, StaleGroupEntry)
    quiet = observer.engine.member(group_id)
    message, quiet.mls = encrypt_application(quiet.mls, b"observer speaks", RNG)
    seq = log.inject(quiet.access, encode_entry(message))
    await _rejected_by_all(clients[:2], group_id, seq, GroupPolicyViolation)
    await _carries_on(clients[:2], group_id, b"carry on")


async def test_a_fresh_commit_for_an_old_epoch_is_stale() -> None:
    log, clients, group_id = await make_group(3)
    behind = clients[2].engine.member(group_id).mls  # its state before the next commit
    await clients[0].engine.update_keys(group_id)
    await sync_all(clients, group_id)
    late = create_commit(behind, RNG, private=True)  # made for the epoch that just ended
    seq = log.inject(_access(clients[2], group_id), encode_entry(late.message))
    await _rejected_by_all(clients, group_id, seq, StaleGroupEntry)
    await _carries_on(clients, group_id, b"the new epoch holds")
