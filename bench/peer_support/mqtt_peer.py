"""Mosquitto as a peer: QoS 1 publishes and persistent subscriber sessions over TLS 1.3.

Producer ``p`` publishes on ``bench/<lane>/<p>`` through its lane's connection and
waits for the PUBACK; each lane's subscriber has a persistent session
(``clean_session=False``) and acknowledges each message. Mosquitto keeps messages
in memory and writes its persistence file only on a timer or at shutdown, so an
acknowledged message can be lost on ``kill -9``.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from peer_support.brokers import Broker, free_port
from peer_support.certs import tls13_client_context
from peer_support.install import program

INFLIGHT = 1000
_sessions = itertools.count()


def mosquitto_broker(folder: Path, cert: Path, key: Path) -> Broker:
    """mosquitto with persistence on and a TLS 1.3 listener on loopback."""
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"certfile {cert}\nkeyfile {key}\ntls_version tlsv1.3\n"
        "allow_anonymous true\n"
        # Run as whoever runs the bench (as root it would switch to a user that
        # cannot read the scratch folder).
        f"user {getpass.getuser()}\n"
        f"persistence true\npersistence_location {folder}/\n"
        f"max_inflight_messages {INFLIGHT}\nmax_queued_messages 1000000\n"
    )
    return Broker([program("mosquitto"), "-c", str(config)], port)


class MqttSession:
    """``lanes`` publisher connections and ``lanes`` persistent subscriber connections."""

    def __init__(self, port: int, cert: Path, lanes: int, producers: int) -> None:
        self._port, self._cert = port, cert
        self.lanes, self.producers = lanes, producers
        self._stack = contextlib.AsyncExitStack()
        self._publishers: list[aiomqtt.Client] = []
        self._subscribers: list[aiomqtt.Client] = []
        self._tasks: list[asyncio.Task[None]] = []
        # Fresh client ids: a persistent session would hand over an earlier figure's backlog.
        self._prefix = f"bench{next(_sessions)}-"

    def _client(self, identifier: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            "127.0.0.1",
            self._port,
            identifier=identifier,
            clean_session=False,
            tls_context=tls13_client_context(self._cert),
            max_inflight_messages=INFLIGHT,
        )

    async def open(self) -> None:
        for lane in range(self.lanes):
            self._publishers.append(
                await self._stack.enter_async_context(self._client(f"{self._prefix}p{lane}"))
            )
            subscriber = await self._stack.enter_async_context(
                self._client(f"{self._prefix}s{lane}")
            )
            await subscriber.subscribe(f"bench/{lane}/#", qos=1)
            self._subscribers.append(subscriber)

    async def publish(self, producer: int, payload: bytes) -> None:
        lane = producer % self.lanes
        await self._publishers[lane].publish(f"bench/{lane}/{producer}", payload, qos=1)

    def start_consuming(self, on_payload: Callable[[bytes], None]) -> None:
        async def consume(subscriber: aiomqtt.Client) -> None:
            async for message in subscriber.messages:
                assert isinstance(message.payload, bytes)
                on_payload(message.payload)

        self._tasks = [asyncio.create_task(consume(client)) for client in self._subscribers]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stack.aclose()
