"""The queue core alone, without the service: steps are data, output is pulled.

A command's :class:`Step` says which store changes it needs and what to commit
afterwards; nothing runs until the caller commits it, and answers wait in the
core until :meth:`RelayProtocol.data_to_send` takes them.
"""

from __future__ import annotations

from helpers.relay_harness import IDENTITY
from veil.crypto import DeterministicRandom
from veil.relay.client.session import ClientSession, QueueKeys
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.handshake import RELAY_VERSIONS, sign_server_hello
from veil.relay.protocol.transmission import decode_client_transmission
from veil.relay.server.core import RelayProtocol
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.session import SessionState
from veil.relay.server.settings import RelaySettings
from veil.relay.server.steps import Answer, QueueCreated, Step
from veil.relay.server.store.base import PutQueue
from veil.wire.blocks import decode_block

NOW = 1_700_000_000.0


def connect(core: RelayProtocol) -> tuple[SessionState, ClientSession]:
    session = core.open_session()
    hello = sign_server_hello(
        IDENTITY, RELAY_VERSIONS, session.session_id, session.session_key.public
    )
    client = ClientSession.accept_hello(hello.encode(), IDENTITY.public, DeterministicRandom(b"c"))
    return session, client


def handle(core: RelayProtocol, session: SessionState, request: tuple[bytes, bytes]) -> Step:
    return core.handle(session, decode_client_transmission(request[1]), NOW)


def test_a_step_says_what_to_commit_and_nothing_happens_before_the_commit() -> None:
    core = RelayProtocol(RelaySettings(), DeterministicRandom(b"relay"), RelayMetrics())
    session, client = connect(core)
    keys = QueueKeys.generate(DeterministicRandom(b"keys"))
    correlation_id, transmission = client.create_queue(keys)
    step = handle(core, session, (correlation_id, transmission))
    assert isinstance(step.outcome, QueueCreated)
    assert step.changes == (PutQueue(step.outcome.record),)
    assert step.outcome.answer.correlation_id == correlation_id
    assert core.data_to_send() == []  # not answered before the store made it durable
    assert core.metrics.queues == 0

    core.commit(step)
    [(answered, blocks)] = core.data_to_send()
    assert answered is session
    [reply] = [r for block in blocks for r in client.parse_block(block)]
    assert reply.correlation_id == correlation_id and isinstance(reply.response, rsp.QueueIds)
    assert core.metrics.queues == 1
    assert core.data_to_send() == []  # taken once


def test_an_undone_step_leaves_the_core_as_before() -> None:
    core = RelayProtocol(
        RelaySettings(max_queues_per_connection=1), DeterministicRandom(b"relay"), RelayMetrics()
    )
    session, client = connect(core)
    keys = QueueKeys.generate(DeterministicRandom(b"keys"))
    first = handle(core, session, client.create_queue(keys))
    core.undo(first)  # the store failed: the connection may create its one queue again
    second = handle(core, session, client.create_queue(keys))
    assert isinstance(second.outcome, QueueCreated)


def test_refusals_are_answers_with_nothing_to_store() -> None:
    core = RelayProtocol(RelaySettings(), DeterministicRandom(b"relay"), RelayMetrics())
    session, client = connect(core)
    keys = QueueKeys.generate(DeterministicRandom(b"keys"))
    step = handle(core, session, client.recipient_command(cmd.GetMessage(), bytes(24), keys))
    assert step.changes == ()
    assert isinstance(step.outcome, Answer)
    assert step.outcome.response == rsp.ErrorResponse(413)
    core.commit(step)
    [(_, blocks)] = core.data_to_send()
    assert len(decode_block(blocks[0])) == 1


def test_the_retention_sweep_is_the_cores_timer() -> None:
    settings = RelaySettings(expiry_interval_seconds=60.0)
    core = RelayProtocol(settings, DeterministicRandom(b"relay"), RelayMetrics())
    assert core.next_timer() <= NOW  # the first sweep is due at once
    sweep = core.handle_timer(NOW)
    assert sweep is not None and sweep.changes
    assert core.next_timer() == NOW + 60.0
    assert core.handle_timer(NOW + 59.0) is None
    assert core.handle_timer(NOW + 60.0) is not None


def test_the_client_session_queues_commands_into_shared_blocks() -> None:
    core = RelayProtocol(RelaySettings(), DeterministicRandom(b"relay"), RelayMetrics())
    session, client = connect(core)
    for _ in range(3):
        client.queue(client.ping()[1])
    [block] = client.data_to_send()
    assert len(decode_block(block)) == 3
    assert client.data_to_send() == []
    outcomes = [
        core.handle(session, decode_client_transmission(data), NOW).outcome
        for data in decode_block(block)
    ]
    assert outcomes == [
        Answer(session, decode_client_transmission(data).correlation_id, b"", rsp.Pong())
        for data in decode_block(block)
    ]
