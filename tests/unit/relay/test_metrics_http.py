"""Prometheus text rendering and the tiny HTTP endpoint."""

from __future__ import annotations

import asyncio

from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.metrics_http import (
    MetricFamily,
    MetricsServer,
    relay_families,
    render_metrics,
)
from veil.relay.server.tls_server import TransportMetrics


def test_render_follows_the_text_format() -> None:
    family = MetricFamily("x_total", "counter", "Things.", [({"kind": 'a"b\\c'}, 3.0), ({}, 1.5)])
    assert render_metrics([family]).splitlines() == [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        'x_total{kind="a\\"b\\\\c"} 3',
        "x_total 1.5",
    ]


def test_relay_families_cover_counters_gauges_and_error_kinds() -> None:
    relay, transport = RelayMetrics(queues=2, messages_stored=7), TransportMetrics()
    relay.errors["AuthFailed"] = 4
    transport.connections_dropped["DecodeError"] = 1
    text = render_metrics(relay_families(relay, transport))
    assert "veil_relay_queues 2\n" in text
    assert "veil_relay_messages_stored_total 7\n" in text
    assert 'veil_relay_errors_total{kind="AuthFailed"} 4\n' in text
    assert 'veil_relay_connections_dropped_total{kind="DecodeError"} 1\n' in text


async def http_get(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    response = await reader.read()
    writer.close()
    return response


async def test_server_answers_metrics_and_nothing_else() -> None:
    server = MetricsServer(lambda: [MetricFamily("up", "gauge", "Up.", [({}, 1.0)])])
    port = await server.start(0)
    try:
        ok = await http_get(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK\r\n") and ok.endswith(b"up 1\n")
        assert (await http_get(port, b"GET / HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
        assert (await http_get(port, b"POST /metrics HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 405")
    finally:
        await server.close()
