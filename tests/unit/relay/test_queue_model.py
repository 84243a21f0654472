"""Property: any sequence of queue operations behaves like a bounded FIFO, across restarts."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.relay_harness import HarnessClient, Queue, Relay
from veil.relay.client.session import open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import NoMessage, QuotaExceeded
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.memory import MemoryStore

QUOTA = 4

operations = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.binary(min_size=1, max_size=40)),
        st.tuples(st.sampled_from(["get", "ack", "ack_bogus", "restart"]), st.just(b"")),
    ),
    max_size=25,
)


async def run(ops: list[tuple[str, bytes]]) -> None:
    store = MemoryStore()
    relay = await Relay(store, settings=RelaySettings(queue_quota=QUOTA)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    model: list[bytes] = []
    for index, (name, body) in enumerate(ops):
        if name == "restart":
            await relay.service.close()
            relay = await Relay(store, settings=relay.settings, seed=b"r%d" % index).start()
            alice, bob = await relay.client(), await relay.client()
        elif name == "send":
            expected = rsp.Ok() if len(model) < QUOTA else rsp.ErrorResponse(QuotaExceeded.code)
            assert await bob.call(bob.send(queue, body)) == expected
            if len(model) < QUOTA:
                model.append(body)
        else:
            await check_head(alice, queue, model, name)


async def check_head(alice: HarnessClient, queue: Queue, model: list[bytes], name: str) -> None:
    answer = await alice.call(alice.recipient(cmd.GetMessage(), queue))
    if not model:
        assert answer == rsp.ErrorResponse(NoMessage.code)
        return
    assert isinstance(answer, rsp.Message)
    assert open_delivery(queue.delivery_key, answer).body == model[0]
    if name == "get":
        return
    message_id = answer.message_id if name == "ack" else bytes(24)
    reply = await alice.call(alice.recipient(cmd.Acknowledge(message_id), queue))
    if name == "ack":
        assert reply == rsp.Ok()
        model.pop(0)
    else:
        assert reply == rsp.ErrorResponse(NoMessage.code)


@settings(max_examples=60)
@given(operations)
def test_queue_behaves_like_a_bounded_fifo(ops: list[tuple[str, bytes]]) -> None:
    asyncio.run(run(ops))
