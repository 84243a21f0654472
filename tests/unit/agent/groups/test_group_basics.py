"""A group over the in-memory log: create, join, post, roles, removal, leaving."""

from __future__ import annotations

import pytest

from helpers.groups import make_group, sync_all
from veil.agent.groups.errors import NotAllowed, NotAMember
from veil.agent.groups.events import EpochChanged, WeLeft
from veil.agent.groups.policy import Role


async def test_members_join_and_everyone_sees_every_message_in_one_order() -> None:
    _, clients, group_id = await make_group(4)
    for client in clients:
        await client.engine.post(group_id, f"hello from {client.name}".encode())
    await sync_all(clients, group_id)
    histories = [client.history() for client in clients]
    assert len(histories[0]) == 4
    assert all(history == histories[0] for history in histories)
    authenticators = {c.engine.member(group_id).mls.epoch_authenticator for c in clients}
    assert len(authenticators) == 1
    policy = clients[2].engine.member(group_id).policy
    assert policy.name == "Club"
    assert sorted(row.display_name for row in policy.roster) == [f"user{i}" for i in range(4)]


async def test_a_member_cannot_remove_or_change_roles_and_an_observer_cannot_post() -> None:
    _, clients, group_id = await make_group(3)
    owner, member, other = clients
    with pytest.raises(NotAllowed):
        await member.engine.remove(group_id, other.engine.member(group_id).handle)
    with pytest.raises(NotAllowed):
        await member.engine.set_role(group_id, other.engine.member(group_id).handle, Role.ADMIN)
    await owner.engine.set_role(group_id, other.engine.member(group_id).handle, Role.OBSERVER)
    await sync_all(clients, group_id)
    assert other.engine.member(group_id).role is Role.OBSERVER
    with pytest.raises(NotAllowed):
        await other.engine.post(group_id, b"may I?")


async def test_removal_ends_reading_and_the_removed_client_says_so() -> None:
    log, clients, group_id = await make_group(3)
    owner, member, removed = clients
    access = removed.engine.member(group_id).access
    await owner.engine.remove(group_id, removed.engine.member(group_id).handle)
    await sync_all(clients, group_id)
    assert any(isinstance(e, WeLeft) and e.removed for e in removed.events)
    with pytest.raises(NotAMember):
        await removed.engine.post(group_id, b"still here?")
    await owner.engine.post(group_id, b"after removal")
    await sync_all(clients[:2], group_id)
    assert member.history()[-1][1] == b"after removal"
    assert b"after removal" not in [text for _, text in removed.history()]
    with pytest.raises(Exception, match="deleted"):
        await log.read(access, 0, 10)


async def test_leaving_and_ownership_transfer() -> None:
    _, clients, group_id = await make_group(3)
    owner, heir, leaver = clients
    with pytest.raises(NotAllowed):
        await owner.engine.leave(group_id)
    await leaver.engine.leave(group_id)
    await sync_all(clients, group_id)
    assert any(isinstance(e, WeLeft) and not e.removed for e in leaver.events)
    heir_handle = heir.engine.member(group_id).handle
    await owner.engine.set_role(group_id, heir_handle, Role.OWNER)
    await sync_all(clients[:2], group_id)
    assert heir.engine.member(group_id).role is Role.OWNER
    assert owner.engine.member(group_id).role is Role.ADMIN
    await owner.engine.leave(group_id)
    await sync_all(clients[:2], group_id)
    assert len(heir.engine.member(group_id).mls.tree.members()) == 1
    await heir.engine.post(group_id, b"still alive")
    await heir.sync(group_id)
    assert heir.history()[-1][1] == b"still alive"
    changes = [e for e in heir.events if isinstance(e, EpochChanged)]
    assert changes[-1].removed == (owner.engine.member(group_id).handle,)


async def test_a_promoted_admin_receives_the_log_credential_and_can_remove() -> None:
    log, clients, group_id = await make_group(3)
    owner, admin, removed = clients
    assert admin.engine.member(group_id).admin is None
    await owner.engine.set_role(group_id, admin.engine.member(group_id).handle, Role.ADMIN)
    await sync_all(clients, group_id)
    assert admin.engine.member(group_id).admin == owner.engine.member(group_id).admin
    roster = owner.engine.member(group_id).policy.roster
    assert all(row.sealed_admin == b"" for row in roster if row.role is Role.MEMBER)
    access = removed.engine.member(group_id).access
    await admin.engine.remove(group_id, removed.engine.member(group_id).handle)
    await sync_all(clients, group_id)
    assert any(isinstance(e, WeLeft) and e.removed for e in removed.events)
    with pytest.raises(Exception, match="deleted"):
        await log.read(access, 0, 10)
