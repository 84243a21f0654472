"""The group engine over a real TLS relay's group logs: join, talk, big entries in
parts, a commit, removal (the removed member is told and reads nothing more)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from helpers.group_log import MemoryGroupStore
from helpers.groups import Client
from helpers.relay import RunningTestRelay
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.events import MemberAdmitted, WeLeft
from veil.agent.groups.relay_log import PART_DATA, RelayGroupLog
from veil.crypto import SystemRandom
from veil.relay.client.relay_client import RelayClient

RNG = SystemRandom()


async def _connect(address: str) -> RelayClient:
    return await RelayClient.connect(address, delivery_window=64)


@pytest.fixture
async def logs(relay: RunningTestRelay) -> AsyncIterator[list[RelayGroupLog]]:
    made = [RelayGroupLog(_connect, str(relay.address), RNG) for _ in range(3)]
    yield made
    for log in made:
        await log.close()


async def _sync_all(clients: list[Client], group_id: bytes) -> None:
    for _ in range(3):
        for client in clients:
            await client.sync(group_id)


async def test_a_group_over_a_real_relay(logs: list[RelayGroupLog]) -> None:
    clients = [
        Client(name, GroupEngine(store, log, rng=RNG, clock=lambda: 1.8e9), store)
        for name, log, store in zip(
            ("ann", "bob", "cy"), logs, [MemoryGroupStore() for _ in logs], strict=True
        )
    ]
    ann, bob, cy = clients
    group_id = await ann.engine.create("Relay club", "Ann")
    secrets = {}
    for joiner in (bob, cy):
        request, secrets[joiner.name.encode()] = joiner.engine.request_join(joiner.name)
        await ann.engine.admit(group_id, request, joiner.name.encode(), flush=False)
    await ann.engine.flush(group_id)
    admitted = 0
    for _ in range(3):
        for event in await ann.sync(group_id):
            if isinstance(event, MemberAdmitted):
                joiner = bob if event.ticket == b"bob" else cy
                await joiner.engine.join(event.bundle, secrets[event.ticket])
                admitted += 1
    assert admitted == 2
    big = bytes(range(256)) * (2 * PART_DATA // 256 + 7)  # three parts
    await bob.engine.post(group_id, b"hello over the relay")
    await cy.engine.post(group_id, big)
    await ann.engine.update_keys(group_id)
    await _sync_all(clients, group_id)
    histories = [client.history() for client in clients]
    assert [text for _, text in histories[0]] == [b"hello over the relay", big]
    assert histories[0] == histories[1] == histories[2]
    assert len({c.engine.member(group_id).mls.epoch_authenticator for c in clients}) == 1

    await ann.engine.remove(group_id, cy.engine.member(group_id).handle)
    await _sync_all(clients, group_id)
    assert any(isinstance(e, WeLeft) and e.removed for e in cy.events)
    await ann.engine.post(group_id, b"after cy left")
    await _sync_all(clients[:2], group_id)
    assert bob.history()[-1][1] == b"after cy left"
    assert b"after cy left" not in [text for _, text in cy.history()]
