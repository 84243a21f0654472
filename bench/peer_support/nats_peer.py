"""NATS JetStream as a peer: a file-backed stream, acknowledged publishes, explicit acks.

Lanes mirror Veil's: producer ``p`` publishes on ``bench.<lane>.<p>`` through its
lane's connection; each lane has its own durable push consumer (explicit ack) on
its own connection. ``js.publish`` returns on the stream's PubAck. JetStream
acknowledges before its file store syncs to disk (it syncs on a timer), so it
does less work per message than Veil's relay, which fsyncs before every OK.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StorageType
from nats.js.errors import NotFoundError

from peer_support.brokers import Broker, free_port
from peer_support.certs import tls13_client_context
from peer_support.install import program

STREAM = "BENCH"


def nats_broker(folder: Path, cert: Path, key: Path) -> Broker:
    """nats-server with JetStream on a file store and a TLS-only listener."""
    port = free_port()
    config = folder / "nats.conf"
    config.write_text(
        f'listen: "127.0.0.1:{port}"\n'
        f'jetstream {{ store_dir: "{folder / "js"}" }}\n'
        f'tls {{ cert_file: "{cert}", key_file: "{key}" }}\n'
        "max_payload: 1048576\n"
    )
    return Broker([program("nats-server"), "-c", str(config)], port)


class NatsSession:
    """``lanes`` producer connections and ``lanes`` consumer connections."""

    def __init__(self, port: int, cert: Path, lanes: int, producers: int) -> None:
        self._url, self._cert = f"tls://127.0.0.1:{port}", cert
        self.lanes, self.producers = lanes, producers
        self._senders: list[Client] = []
        self._receivers: list[Client] = []

    async def _connect(self) -> Client:
        return await nats.connect(self._url, tls=tls13_client_context(self._cert))

    async def open(self) -> None:
        self._senders = [await self._connect() for _ in range(self.lanes)]
        self._receivers = [await self._connect() for _ in range(self.lanes)]
        manager = self._senders[0].jetstream()
        with contextlib.suppress(NotFoundError):  # a stream left by the previous figure
            await manager.delete_stream(STREAM)
        await manager.add_stream(name=STREAM, subjects=["bench.>"], storage=StorageType.FILE)
        self._streams = [client.jetstream() for client in self._senders]

    async def publish(self, producer: int, payload: bytes) -> None:
        lane = producer % self.lanes
        await self._streams[lane].publish(f"bench.{lane}.{producer}", payload, stream=STREAM)

    def start_consuming(self, on_payload: Callable[[bytes], None]) -> None:
        self._consumers = [
            asyncio.create_task(self._consume(lane, on_payload)) for lane in range(self.lanes)
        ]

    async def _consume(self, lane: int, on_payload: Callable[[bytes], None]) -> None:
        async def handle(message: Msg) -> None:
            on_payload(message.data)
            await message.ack()

        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=100_000)
        await (
            self._receivers[lane]
            .jetstream()
            .subscribe(
                f"bench.{lane}.*", durable=f"lane{lane}", cb=handle, manual_ack=True, config=config
            )
        )

    async def close(self) -> None:
        for client in self._senders + self._receivers:
            await client.close()
