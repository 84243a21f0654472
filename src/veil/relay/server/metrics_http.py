"""Prometheus metrics over plain HTTP on a localhost port.

Only ``GET /metrics`` is served, in the Prometheus text exposition format
(version 0.0.4). The endpoint binds to 127.0.0.1 by default: scrape it through an
SSH tunnel or a local agent. Every value is an aggregate count; nothing here can
identify a queue or a client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.tls_server import TransportMetrics

__all__ = ["MetricFamily", "MetricsServer", "relay_families", "render_metrics"]

_MAX_REQUEST_HEAD = 8192
_REQUEST_TIMEOUT = 5.0
_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """One metric name with its help text and labelled samples.

    ``kind`` is ``counter`` or ``gauge``; each sample is ``(labels, value)``.
    """

    name: str
    kind: str
    help: str
    samples: Sequence[tuple[dict[str, str], float]] = field(default_factory=list)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    escaped = (
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )
    return "{" + ",".join(escaped) + "}"


def render_metrics(families: Sequence[MetricFamily]) -> str:
    """Render metric families in the Prometheus text format."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines.extend(
            f"{family.name}{_labels(labels)} {value:g}" for labels, value in family.samples
        )
    return "\n".join(lines) + "\n"


class MetricsServer:
    """Serves ``collect()`` rendered as Prometheus text at ``GET /metrics``."""

    def __init__(self, collect: Callable[[], Sequence[MetricFamily]]) -> None:
        self._collect = collect
        self._server: asyncio.Server | None = None

    async def start(self, port: int, host: str = "127.0.0.1") -> int:
        """Listen on ``host:port`` (port 0 picks a free one); return the bound port."""
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_TIMEOUT)
            status, body = self._respond(head)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {_CONTENT_TYPE}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # a broken scrape is the scraper's problem; nothing to answer
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _respond(self, head: bytes) -> tuple[str, bytes]:
        if len(head) > _MAX_REQUEST_HEAD:
            return "431 Request Header Fields Too Large", b""
        request_line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(request_line) != 3 or request_line[0] != b"GET":
            return "405 Method Not Allowed", b""
        if request_line[1] != b"/metrics":
            return "404 Not Found", b"try /metrics\n"
        return "200 OK", render_metrics(self._collect()).encode()


def relay_families(relay: RelayMetrics, transport: TransportMetrics) -> list[MetricFamily]:
    """The relay's and the transport's counters as Prometheus metric families."""
    families = [
        _gauge("queues", "Queues that exist.", relay.queues),
        _gauge("messages_pending", "Undelivered messages held.", relay.messages_pending),
        _gauge("sessions_active", "Relay sessions open now.", relay.sessions_active),
        _gauge("connections_open", "TLS connections open now.", transport.connections_open),
    ]
    counters = {
        "connections_accepted": (transport.connections_accepted, "TCP connections accepted."),
        "handshakes_completed": (transport.handshakes_completed, "TLS handshakes completed."),
        "connections_refused": (
            transport.connections_refused,
            "Connections closed on accept: max_connections were open.",
        ),
        "connections_idle_closed": (
            transport.connections_idle_closed,
            "Connections closed after idle_timeout_seconds without traffic.",
        ),
        "blocks_received": (transport.blocks_received, "Blocks received from clients."),
        "blocks_sent": (transport.blocks_sent, "Blocks sent to clients."),
        "queues_created": (relay.queues_created, "Queues created."),
        "queues_deleted": (relay.queues_deleted, "Queues deleted."),
        "messages_stored": (relay.messages_stored, "Messages accepted and made durable."),
        "messages_delivered": (relay.messages_delivered, "Message deliveries (MSG sent)."),
        "messages_acknowledged": (relay.messages_acknowledged, "Messages acknowledged."),
        "messages_expired": (relay.messages_expired, "Messages deleted by retention."),
        "store_commits": (relay.store_commits, "Store transactions committed."),
        "forwards_received": (relay.forwards_received, "Forwards opened as a destination."),
        "forwards_proxied": (relay.forwards_proxied, "Forwards passed on as a proxy."),
        "proxy_sessions_opened": (
            relay.proxy_sessions_opened,
            "Sessions opened to destination relays as a proxy.",
        ),
    }
    families.extend(
        MetricFamily(f"{_PREFIX}{name}_total", "counter", text, [({}, value)])
        for name, (value, text) in counters.items()
    )
    families.append(_by_kind("errors", "Command errors answered, by kind.", relay.errors))
    families.append(
        _by_kind(
            "connections_dropped",
            "Connections closed for a fault, by kind.",
            transport.connections_dropped,
        )
    )
    return families


_PREFIX = "veil_relay_"


def _gauge(name: str, text: str, value: float) -> MetricFamily:
    return MetricFamily(f"{_PREFIX}{name}", "gauge", text, [({}, value)])


def _by_kind(name: str, text: str, counts: Counter[str]) -> MetricFamily:
    samples = [({"kind": kind}, float(count)) for kind, count in sorted(counts.items())]
    return MetricFamily(f"{_PREFIX}{name}_total", "counter", text, samples)
