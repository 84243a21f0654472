"""The delivery window: several unacknowledged messages in flight per subscription."""

from __future__ import annotations

import pytest

from helpers.relay_harness import HarnessClient, Queue, Relay
from veil.relay.client.session import Reply, open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import BadCommand, NoMessage
from veil.relay.server.settings import DAY_SECONDS, RelaySettings


async def _fill(sender: HarnessClient, queue: Queue, count: int) -> None:
    for index in range(count):
        await sender.ok(sender.send(queue, b"m%d" % index))


def _delivered(client: HarnessClient, queue: Queue) -> list[tuple[bytes, bytes]]:
    """``(message id, body)`` of every MSG pushed so far, in order; clears the pushes."""
    pushes, client.pushes = client.pushes, []
    return [_opened(reply, queue) for reply in pushes]


def _opened(reply: Reply, queue: Queue) -> tuple[bytes, bytes]:
    assert reply.is_push and isinstance(reply.response, rsp.Message)
    return reply.response.message_id, open_delivery(queue.delivery_key, reply.response).body


async def _window_subscriber(
    relay: Relay, window: int, messages: int
) -> tuple[HarnessClient, Queue]:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await _fill(bob, queue, messages)
    await alice.ok(alice.recipient(cmd.Subscribe(window), queue))
    return alice, queue


async def test_a_subscription_gets_its_window_then_one_more_per_ack() -> None:
    relay = await Relay().start()
    alice, queue = await _window_subscriber(relay, 3, 5)
    in_flight = _delivered(alice, queue)
    assert [body for _, body in in_flight] == [b"m0", b"m1", b"m2"]
    # Acknowledgements name the message, so they need not come in order.
    await alice.ok(alice.recipient(cmd.Acknowledge(in_flight[1][0]), queue))
    assert [body for _, body in _delivered(alice, queue)] == [b"m3"]
    await alice.ok(alice.recipient(cmd.Acknowledge(in_flight[0][0]), queue))
    assert [body for _, body in _delivered(alice, queue)] == [b"m4"]
    assert relay.service.metrics.messages_pending == 3


async def test_only_messages_in_flight_can_be_acknowledged() -> None:
    relay = await Relay().start()
    alice, queue = await _window_subscriber(relay, 2, 3)
    _delivered(alice, queue)
    waiting = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(waiting, rsp.Message)
    ack_unknown = alice.recipient(cmd.Acknowledge(b"\x00" * cmd.MESSAGE_ID_SIZE), queue)
    assert await alice.call(ack_unknown) == rsp.ErrorResponse(NoMessage.code)
    assert relay.service.metrics.messages_pending == 3


async def test_resubscribing_sends_the_unacknowledged_again() -> None:
    relay = await Relay().start()
    alice, queue = await _window_subscriber(relay, 4, 3)
    first = _delivered(alice, queue)
    await alice.ok(alice.recipient(cmd.Acknowledge(first[0][0]), queue))
    await alice.ok(alice.recipient(cmd.Subscribe(4), queue))
    assert _delivered(alice, queue) == first[1:]


async def test_the_relay_caps_the_window_asked_for() -> None:
    relay = await Relay(settings=RelaySettings(max_delivery_window=2)).start()
    alice, queue = await _window_subscriber(relay, 200, 5)
    assert len(_delivered(alice, queue)) == 2


async def test_a_subscription_without_a_window_has_a_window_of_one() -> None:
    relay = await Relay().start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await _fill(bob, queue, 2)
    await alice.ok(alice.recipient(cmd.Subscribe(), queue))
    assert [body for _, body in _delivered(alice, queue)] == [b"m0"]


async def test_expiry_of_messages_in_flight_frees_the_window() -> None:
    relay = await Relay(settings=RelaySettings(retention_seconds=DAY_SECONDS)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await _fill(bob, queue, 2)
    relay.clock.now += 2 * DAY_SECONDS
    await _fill(bob, queue, 3)  # m0, m1, m2: stored after the old ones
    await alice.ok(alice.recipient(cmd.Subscribe(3), queue))
    assert [body for _, body in _delivered(alice, queue)] == [b"m0", b"m1", b"m0"]
    await relay.service.expire()
    alice.pushes.extend(alice.take_replies())
    assert [body for _, body in _delivered(alice, queue)] == [b"m1", b"m2"]


def test_subscribe_codec_carries_the_window() -> None:
    assert cmd.encode_command(cmd.Subscribe()) == b"\x04"
    assert cmd.encode_command(cmd.Subscribe(7)) == b"\x04\x07"
    assert cmd.decode_command(b"\x04\x07") == cmd.Subscribe(7)
    assert cmd.decode_command(b"\x04") == cmd.Subscribe()
    for malformed in (b"\x04\x00", b"\x04\x01\x01"):
        with pytest.raises(BadCommand):
            cmd.decode_command(malformed)
    for window in (0, cmd.MAX_DELIVERY_WINDOW + 1):
        with pytest.raises(ValueError):
            cmd.Subscribe(window)
