"""An in-memory client <-> relay harness: RelayService sessions driven without sockets.

Each :class:`HarnessClient` holds one :class:`RelaySession` and the matching
:class:`ClientSession`; blocks go straight from one to the other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from veil.crypto import DeterministicRandom, Ed25519KeyPair, X25519KeyPair
from veil.relay.client.log_wire import log_transmission, new_correlation_id
from veil.relay.client.session import (
    ClientSession,
    QueueKeys,
    RawResponse,
    Reply,
    recipient_delivery_key,
)
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import log_responses as lr
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import error_for_code
from veil.relay.protocol.queue_crypto import derive_auth_key
from veil.relay.server.log_state import LogSettings
from veil.relay.server.service import RelayService, RelaySession
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import QueueStore
from veil.relay.server.store.memory import MemoryStore
from veil.relayd.assembly import relay_service
from veil.wire.blocks import encode_block

IDENTITY = Ed25519KeyPair(bytes(range(1, 33)))


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Queue:
    """What a test client knows about one queue."""

    keys: QueueKeys
    recipient_id: bytes
    sender_id: bytes
    delivery_key: bytes
    sender_auth: X25519KeyPair | None = None


@dataclass
class HarnessClient:
    """One connection to the relay under test."""

    service: RelayService
    rng: DeterministicRandom
    received: list[bytes] = field(default_factory=list)
    session: RelaySession = field(init=False)
    client: ClientSession = field(init=False)
    pushes: list[Reply] = field(default_factory=list)

    async def connect(self) -> HarnessClient:
        self.session = self.service.open_session(self.received.append)
        self.client = ClientSession.accept_hello(self.session.hello, IDENTITY.public, self.rng)
        await self.session.handle_block(self.client.client_hello)
        return self

    async def send_block(self, transmissions: list[bytes]) -> list[Reply]:
        """Send one block, wait until the relay settled, return every reply received."""
        await self.session.handle_block(encode_block(transmissions))
        await self.service.settle()
        return self.take_replies()

    def take_replies(self) -> list[Reply]:
        blocks, self.received[:] = list(self.received), []
        return [reply for block in blocks for reply in self.client.parse_block(block)]

    async def call(self, request: tuple[bytes, bytes]) -> rsp.Response:
        """Send one command; return its answer, keeping pushes in ``self.pushes``."""
        correlation_id, transmission = request
        answer: rsp.Response | RawResponse | None = None
        for reply in await self.send_block([transmission]):
            if reply.correlation_id == correlation_id:
                answer = reply.response
            else:
                self.pushes.append(reply)
        assert answer is not None, "no answer to the command"
        assert not isinstance(answer, RawResponse), "a routing answer to a queue command"
        return answer

    async def ok(self, request: tuple[bytes, bytes]) -> rsp.Response:
        """Send one command that must succeed; raise the relay's error otherwise."""
        answer = await self.call(request)
        if isinstance(answer, rsp.ErrorResponse):
            raise error_for_code(answer.code)(f"relay answered ERR {answer.code}")
        return answer

    async def new_queue(self, password: bytes = b"") -> Queue:
        keys = QueueKeys.generate(self.rng)
        ids = await self.ok(self.client.create_queue(keys, password))
        assert isinstance(ids, rsp.QueueIds)
        key = recipient_delivery_key(keys, ids.relay_dh_key)
        return Queue(keys, ids.recipient_id, ids.sender_id, key)

    async def secured_queue(self) -> Queue:
        queue = await self.new_queue()
        queue.sender_auth = X25519KeyPair.generate(self.rng)
        await self.ok(self.client.secure(queue.recipient_id, queue.keys, queue.sender_auth.public))
        return queue

    async def log_call(
        self, command: lc.LogCommand, auth: X25519KeyPair, entity_id: bytes = b""
    ) -> rsp.Response | lr.LogResponse:
        """Send one group-log command (whatever version was agreed); return its answer."""
        correlation_id = new_correlation_id(self.rng)
        mac_key = derive_auth_key(auth, self.client.relay_session_key)
        transmission = log_transmission(self.client, command, entity_id, mac_key, correlation_id)
        replies = await self.send_block([transmission])
        async with asyncio.timeout(10):
            while not replies:  # a log command that changes the store commits in its own loop
                await asyncio.sleep(0.01)
                replies = self.take_replies()
        [answer] = [reply.response for reply in replies if reply.correlation_id == correlation_id]
        if isinstance(answer, RawResponse):
            return lr.decode_log_response(answer.body)
        return answer

    def recipient(self, command: cmd.Command, queue: Queue) -> tuple[bytes, bytes]:
        return self.client.recipient_command(command, queue.recipient_id, queue.keys)

    def send(self, queue: Queue, body: bytes, flags: int = 0) -> tuple[bytes, bytes]:
        assert queue.sender_auth is not None
        return self.client.send(queue.sender_id, queue.sender_auth, body, flags)


class Relay:
    """A relay service plus a factory for connected clients."""

    def __init__(
        self,
        store: QueueStore | None = None,
        settings: RelaySettings | None = None,
        clock: FakeClock | None = None,
        seed: bytes = b"relay",
        log_settings: LogSettings | None = None,
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        self.clock = clock if clock is not None else FakeClock()
        self.settings = settings if settings is not None else RelaySettings()
        self.service = relay_service(
            self.store,
            self.settings,
            IDENTITY,
            clock=self.clock,
            rng=DeterministicRandom(seed),
            log_settings=log_settings,
        )
        self._clients = 0

    async def start(self) -> Relay:
        await self.service.start()
        return self

    async def client(self) -> HarnessClient:
        self._clients += 1
        rng = DeterministicRandom(b"client-%d" % self._clients)
        return await HarnessClient(self.service, rng).connect()
