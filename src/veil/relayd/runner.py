"""Run a relay from its data directory until told to stop.

This is ``veil-relay start`` without the command line: open the store, load every
queue, listen, serve, and on SIGTERM/SIGINT (or ``stop``) shut down in order:
stop accepting, close connections, let in-flight commits finish, close the store.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from veil.crypto import SystemRandom
from veil.relay.server.config import STORE_FILE, RelayConfig
from veil.relay.server.log_sqlite import LOG_STORE_FILE, SqliteLogStore
from veil.relay.server.logging_setup import configure_logging, fields
from veil.relay.server.metrics_http import MetricsServer, relay_families
from veil.relay.server.store.sqlite import SqliteStore
from veil.relay.server.tls_server import RelayServer
from veil.relay.transport.identity import CERTIFICATE_FILE, IDENTITY_KEY_FILE, RelayIdentity
from veil.relay.transport.tls import server_context
from veil.relayd.assembly import relay_service

__all__ = ["RunningRelay", "run_relay"]


@dataclass(frozen=True, slots=True)
class RunningRelay:
    """What a started relay tells its operator."""

    address: str
    listening: list[tuple[str, int]]
    metrics_port: int | None


async def run_relay(
    data_dir: Path,
    config: RelayConfig,
    identity: RelayIdentity,
    *,
    ready: Callable[[RunningRelay], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set, or until SIGTERM/SIGINT when ``stop`` is ``None``."""
    log = configure_logging(config.log_level)
    started = time.monotonic()
    service = relay_service(
        SqliteStore(data_dir / STORE_FILE),
        config.settings,
        identity.key_pair,
        clock=time.time,
        rng=SystemRandom(),
        log_store=SqliteLogStore(data_dir / LOG_STORE_FILE),
    )
    await service.start()
    log.info("relay.loaded", extra=fields(seconds=round(time.monotonic() - started, 3)))
    server = RelayServer(
        service, server_context(data_dir / CERTIFICATE_FILE, data_dir / IDENTITY_KEY_FILE)
    )
    metrics = MetricsServer(lambda: relay_families(service.metrics, server.metrics))
    try:
        await server.listen(config.listen_host, config.port)
        metrics_port = None
        if config.metrics_port is not None:
            metrics_port = await metrics.start(config.metrics_port)
        stop = stop or _stop_on_signals()
        address = str(config.address(identity.fingerprint))
        ready(RunningRelay(address, server.listening, metrics_port))
        log.info("relay.listening", extra=fields(port=config.port, metrics_port=metrics_port))
        await stop.wait()
        log.info("relay.stopping")
    finally:
        await metrics.close()
        await server.close()
        await service.close()
    log.info("relay.stopped")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    return stop
