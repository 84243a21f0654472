"""An in-process relay on a real TLS socket, for integration tests."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from veil.crypto import DeterministicRandom, SystemRandom
from veil.relay.protocol.address import RelayAddress
from veil.relay.server.file_settings import FileStoreSettings
from veil.relay.server.log_store import LogStore
from veil.relay.server.service import RelayService
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import QueueStore
from veil.relay.server.store.memory import MemoryStore
from veil.relay.server.tls_server import RelayServer
from veil.relay.transport.identity import CERTIFICATE_FILE, IDENTITY_KEY_FILE, RelayIdentity
from veil.relay.transport.tls import server_context
from veil.relayd.assembly import relay_service

LOOPBACK = ("127.0.0.0/8",)
START_TIME = 1_800_000_000.0


@dataclass
class FakeClock:
    """A clock tests move by hand."""

    now: float = START_TIME

    def __call__(self) -> float:
        return self.now


@dataclass
class RunningTestRelay:
    """A relay serving on 127.0.0.1 with the pieces a test may poke at."""

    server: RelayServer
    service: RelayService
    identity: RelayIdentity
    data_dir: Path
    clock: FakeClock
    store: QueueStore
    port: int
    settings: RelaySettings = field(default_factory=RelaySettings)

    @property
    def address(self) -> RelayAddress:
        return RelayAddress(self.identity.fingerprint, ("127.0.0.1",), self.port)

    async def stop(self) -> None:
        await self.server.close()
        await self.service.close()


def make_identity(data_dir: Path, seed: bytes = b"relay identity") -> RelayIdentity:
    """Create (or reuse) the identity files in ``data_dir``."""
    if (data_dir / IDENTITY_KEY_FILE).exists():
        return RelayIdentity.load(data_dir)
    identity = RelayIdentity.generate(
        DeterministicRandom(seed), datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    )
    identity.save(data_dir)
    return identity


async def start_test_relay(
    data_dir: Path,
    *,
    settings: RelaySettings | None = None,
    store: QueueStore | None = None,
    clock: FakeClock | None = None,
    port: int = 0,
    log_store: LogStore | None = None,
    files: FileStoreSettings | None = None,
) -> RunningTestRelay:
    """Start a relay on ``127.0.0.1:port`` with its identity in ``data_dir`` (group logs
    in ``log_store``, in memory if ``None``); with ``files``, it serves files from
    ``data_dir/files``."""
    identity = make_identity(data_dir)
    # Test relays all run on loopback, so their proxies may connect there.
    settings = settings or RelaySettings(proxy_allow=LOOPBACK)
    store = store if store is not None else MemoryStore()
    clock = clock or FakeClock()
    file_store = None if files is None else (files.folder(data_dir), files)
    service = relay_service(
        store,
        settings,
        identity.key_pair,
        clock=clock,
        rng=SystemRandom(),
        log_store=log_store,
        files=file_store,
    )
    await service.start()
    context = server_context(data_dir / CERTIFICATE_FILE, data_dir / IDENTITY_KEY_FILE)
    server = RelayServer(service, context)
    await server.listen("127.0.0.1", port)
    bound_port = server.listening[0][1]
    return RunningTestRelay(server, service, identity, data_dir, clock, store, bound_port, settings)
