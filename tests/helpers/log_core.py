"""Drives the sans-I/O group-log core directly: authenticated commands in, steps and
transmissions out, the store changes kept in a memory log store."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.relay import START_TIME
from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.log_crypto import OpenedEntry, open_entry, reader_delivery_key
from veil.relay.protocol.queue_crypto import authenticate, derive_auth_key
from veil.relay.protocol.transmission import (
    CORRELATION_ID_SIZE,
    PUSH_CORRELATION_ID,
    decode_client_transmission,
    decode_transmission,
    encode_transmission,
)
from veil.relay.server.core import RelayProtocol
from veil.relay.server.log_commit import LogStep
from veil.relay.server.log_core import LogProtocol
from veil.relay.server.log_state import LogSettings
from veil.relay.server.log_store import MemoryLogStore
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.session import SessionState
from veil.relay.server.settings import RelaySettings
from veil.wire.blocks import decode_block


@dataclass(frozen=True)
class Sent:
    """One transmission the core queued for a session."""

    correlation_id: bytes
    entity_id: bytes
    body: bytes

    @property
    def response(self) -> lc.LogResponse | rsp.Response:
        if self.body[0] in lc.LOG_RESPONSE_TAGS:
            return lc.decode_log_response(self.body)
        return rsp.decode_response(self.body)


@dataclass
class Reader:
    reader_id: bytes
    auth: X25519KeyPair
    key: bytes


@dataclass
class Log:
    log_id: bytes
    admin: X25519KeyPair
    writers: dict[bytes, X25519KeyPair] = field(default_factory=dict)


class LogCore:
    """A relay's queue core and log core, one clock, a memory log store."""

    def __init__(
        self,
        settings: RelaySettings | None = None,
        log_settings: LogSettings | None = None,
        store: MemoryLogStore | None = None,
    ) -> None:
        self.settings = settings or RelaySettings()
        self.rng = DeterministicRandom(b"log core")
        self.core = RelayProtocol(self.settings, self.rng, RelayMetrics())
        self.logs = LogProtocol(
            self.settings,
            log_settings or LogSettings(),
            self.rng,
            self.core.metrics,
            self.core.answer_body,
        )
        self.store = store or MemoryLogStore()
        self.now = START_TIME
        self._outbox: dict[SessionState, list[Sent]] = {}

    async def load(self) -> None:
        self.logs.load(await self.store.open())

    def session(self) -> SessionState:
        return self.core.open_session()

    def transmission(
        self,
        session: SessionState,
        command: lc.LogCommand,
        entity_id: bytes = b"",
        auth: X25519KeyPair | None = None,
    ) -> bytes:
        correlation_id = self.rng.random_bytes(CORRELATION_ID_SIZE)
        body = lc.encode_log_command(command)
        plain = encode_transmission(b"", correlation_id, entity_id, body)
        if auth is None:
            return plain
        mac_key = derive_auth_key(auth, session.session_key.public)
        authorized = decode_transmission(plain).authorized
        return encode_transmission(
            authenticate(mac_key, session.session_id, authorized), correlation_id, entity_id, body
        )

    def handle(self, session: SessionState, transmission: bytes) -> LogStep:
        return self.logs.handle(session, decode_client_transmission(transmission), self.now)

    async def run(
        self,
        session: SessionState,
        command: lc.LogCommand,
        entity_id: bytes = b"",
        auth: X25519KeyPair | None = None,
    ) -> lc.LogResponse | rsp.Response:
        """Handle, commit durably, and return the command's answer."""
        transmission = self.transmission(session, command, entity_id, auth)
        step = self.handle(session, transmission)
        await self.commit(step)
        answers = [s for s in self.sent(session) if s.correlation_id != PUSH_CORRELATION_ID]
        assert len(answers) == 1, answers
        self._outbox[session] = [s for s in self._outbox[session] if s not in answers]
        return answers[0].response

    async def commit(self, step: LogStep) -> None:
        await self.store.apply(step.changes)
        self.logs.commit(step)

    def sent(self, session: SessionState) -> list[Sent]:
        """Everything queued for ``session`` so far and not yet taken."""
        for queued, blocks in self.core.data_to_send():
            for block in blocks:
                for data in decode_block(block):
                    t = decode_transmission(data)
                    self._outbox.setdefault(queued, []).append(
                        Sent(t.correlation_id, t.entity_id, t.body)
                    )
        return list(self._outbox.get(session, []))

    def pushes(self, session: SessionState) -> list[Sent]:
        """Take the pushes queued for ``session``."""
        pushed = [s for s in self.sent(session) if s.correlation_id == PUSH_CORRELATION_ID]
        self._outbox[session] = [s for s in self._outbox.get(session, []) if s not in pushed]
        return pushed

    # -- shortcuts -----------------------------------------------------------------

    async def new_log(self, session: SessionState) -> Log:
        admin = X25519KeyPair.generate(self.rng)
        created = await self.run(session, lc.CreateLog(admin.public), auth=admin)
        assert isinstance(created, lc.LogCreated), created
        return Log(created.log_id, admin)

    async def new_writer(self, session: SessionState, log: Log) -> tuple[bytes, X25519KeyPair]:
        auth = X25519KeyPair.generate(self.rng)
        added = await self.run(session, lc.AddWriter(auth.public), log.log_id, log.admin)
        assert isinstance(added, lc.WriterAdded), added
        return added.writer_id, auth

    async def new_reader(self, session: SessionState, log: Log) -> Reader:
        auth, dh = X25519KeyPair.generate(self.rng), X25519KeyPair.generate(self.rng)
        added = await self.run(session, lc.AddReader(auth.public, dh.public), log.log_id, log.admin)
        assert isinstance(added, lc.ReaderAdded), added
        return Reader(added.reader_id, auth, reader_delivery_key(dh, added.relay_dh_key))

    def entries(self, session: SessionState, reader: Reader) -> list[OpenedEntry]:
        """Take and open the entries pushed to ``session`` for ``reader``."""
        opened = []
        for push in self.pushes(session):
            delivered = push.response
            assert push.entity_id == reader.reader_id
            assert isinstance(delivered, lc.EntryDelivered), delivered
            opened.append(
                open_entry(
                    reader.key, reader.reader_id, delivered.seq, delivered.nonce, delivered.sealed
                )
            )
        return opened
