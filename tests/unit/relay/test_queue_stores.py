"""What every durable queue store promises: changes survive a reopen, deletions and
expiry stick, many queues load back, a relay restarts on it with nothing at rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.queue_stores import STORES, message, record, reopen
from helpers.relay_harness import Relay
from veil.relay.client.session import open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.server.store.base import (
    DeleteMessage,
    DeleteMessagesBefore,
    PutMessage,
    PutQueue,
    RemoveQueue,
    SetSenderKey,
    SetSuspended,
)

pytestmark = pytest.mark.parametrize("kind", sorted(STORES))


async def test_changes_survive_reopen(tmp_path: Path, kind: str) -> None:
    store = STORES[kind](tmp_path)
    assert await store.open() == []
    first, second = record(1), record(2)
    await store.apply([PutQueue(first), PutQueue(second)])
    await store.apply([PutMessage(first.recipient_id, message(i)) for i in range(3)])
    await store.apply(
        [
            SetSenderKey(first.recipient_id, b"\x03" * 32),
            DeleteMessage(first.recipient_id, message(0).message_id),
            SetSuspended(second.recipient_id),
        ]
    )
    await store.close()
    loaded = {queue.record.recipient_id: queue for queue in await reopen(STORES[kind](tmp_path))}
    secured = loaded[first.recipient_id]
    assert secured.record.sender_auth_key == b"\x03" * 32
    assert secured.messages == [message(1), message(2)]
    assert loaded[second.recipient_id].record.suspended


async def test_delete_queue_and_expiry(tmp_path: Path, kind: str) -> None:
    store = STORES[kind](tmp_path)
    await store.open()
    first, second = record(1), record(2)
    await store.apply([PutQueue(first), PutQueue(second)])
    await store.apply(
        [
            PutMessage(first.recipient_id, message(1, stored=3600)),
            PutMessage(second.recipient_id, message(2, stored=3600)),
            PutMessage(second.recipient_id, message(3, stored=10_800)),
        ]
    )
    await store.apply([RemoveQueue(first.recipient_id), DeleteMessagesBefore(7200)])
    await store.close()
    [survivor] = await reopen(STORES[kind](tmp_path))
    assert survivor.record == second
    assert survivor.messages == [message(3, stored=10_800)]


async def test_many_queues_load_back(tmp_path: Path, kind: str) -> None:
    store = STORES[kind](tmp_path)
    await store.open()
    await store.apply([PutQueue(record(i)) for i in range(5_000)])
    await store.close()
    assert len(await reopen(STORES[kind](tmp_path))) == 5_000


async def test_relay_restart_restores_everything(tmp_path: Path, kind: str) -> None:
    first = await Relay(STORES[kind](tmp_path)).start()
    alice, bob = await first.client(), await first.client()
    queue = await alice.secured_queue()
    secret = b"plaintext that must never be at rest " * 4
    for index in range(3):
        await bob.ok(bob.send(queue, secret + b"%d" % index))
    message_one = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message_one, rsp.Message)
    await alice.ok(alice.recipient(cmd.Acknowledge(message_one.message_id), queue))
    at_rest = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert secret[:16] not in at_rest
    assert queue.keys.auth.public in at_rest  # the check would see bytes if they were there
    await first.service.close()

    second = await Relay(STORES[kind](tmp_path), seed=b"second").start()
    alice_again = await second.client()
    await alice_again.ok(alice_again.recipient(cmd.Subscribe(), queue))
    [delivery] = alice_again.pushes
    assert isinstance(delivery.response, rsp.Message)
    assert open_delivery(queue.delivery_key, delivery.response).body == secret + b"1"
    new_bob = await second.client()
    assert await new_bob.call(new_bob.send(queue, b"after restart")) == rsp.Ok()
    await second.service.close()
