"""Fuzz the relay session: hostile blocks end one connection at worst, never the relay."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.relay_harness import Relay
from veil.errors import ProtocolError
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.server.settings import RelaySettings
from veil.wire.blocks import BLOCK_SIZE, encode_block

command_tags = st.sampled_from([*range(0x01, 0x0B), 0x00, 0x7F, 0x82, 0xFF])
transmissions = st.one_of(
    st.binary(min_size=1, max_size=120),
    # Well-framed headers with random commands reach the command decoders and handlers.
    st.builds(
        lambda auth, corr, entity, tag, rest: (
            bytes([len(auth)]) + auth + corr + bytes([len(entity)]) + entity + bytes([tag]) + rest
        ),
        st.sampled_from([b"", b"\x01" * 32]),
        st.binary(min_size=24, max_size=24),
        st.sampled_from([b"", b"\x02" * 24]),
        command_tags,
        st.binary(max_size=80),
    ),
)
blocks = st.one_of(
    st.lists(transmissions, min_size=1, max_size=8).map(encode_block),
    st.binary(max_size=64).map(lambda prefix: prefix.ljust(BLOCK_SIZE, b"\x00")),
)


async def feed(hostile_blocks: list[bytes]) -> None:
    relay = await Relay(settings=RelaySettings(queue_quota=2)).start()
    victim, bystander = await relay.client(), await relay.client()
    queue = await bystander.secured_queue()
    for block in hostile_blocks:
        try:
            await victim.session.handle_block(block)
        except ProtocolError:
            victim.session.close()
            break
    await relay.service.settle()
    for reply in victim.take_replies():
        assert not reply.is_push
    assert await bystander.call(bystander.send(queue, b"still here")) == rsp.Ok()
    message = await bystander.ok(bystander.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)


@settings(max_examples=150)
@given(st.lists(blocks, min_size=1, max_size=4))
def test_hostile_blocks_never_hurt_other_clients(hostile_blocks: list[bytes]) -> None:
    asyncio.run(feed(hostile_blocks))
