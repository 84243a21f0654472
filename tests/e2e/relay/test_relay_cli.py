"""``veil-relay`` init / address / start as an operator runs them."""

from __future__ import annotations

import json
import stat
import urllib.request
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess, free_port, veil_relay
from veil.relay.client.relay_client import RelayClient
from veil.relay.server.config import CONFIG_FILE

pytestmark = pytest.mark.slow


def test_init_then_address(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    created = veil_relay(
        "init", "--data", str(data), "--host", "Relay.Example", "--host", "::1", "--port", "443"
    )
    assert created["exit_code"] == 0
    assert created["address"] == f"veil://{created['fingerprint']}@relay.example,[::1]:443"
    assert veil_relay("address", "--data", str(data))["address"] == created["address"]
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_init_refuses_an_existing_relay(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    assert veil_relay("init", "--data", str(data))["exit_code"] == 0
    again = veil_relay("init", "--data", str(data))
    assert again["exit_code"] == 1
    assert "already holds a relay" in again["error"]


def test_errors_are_reported_cleanly(tmp_path: Path) -> None:
    missing = veil_relay("address", "--data", str(tmp_path / "nothing"))
    assert missing["exit_code"] == 1
    assert "veil-relay init" in missing["error"]
    bad_host = veil_relay("init", "--data", str(tmp_path / "r"), "--host", "bad host!")
    assert bad_host["exit_code"] == 1
    assert "bad host name" in bad_host["error"]


async def test_start_serves_and_stops_gracefully(tmp_path: Path) -> None:
    relay = RelayProcess.init(tmp_path / "relay")
    metrics_port = free_port()
    with (relay.data_dir / CONFIG_FILE).open("a") as config:
        config.write(f"\n[metrics]\nport = {metrics_port}\n")
    await relay.start()
    try:
        assert relay.ready["metrics_port"] == metrics_port
        async with await RelayClient.connect(relay.address) as client:
            await client.create_queue()
            await client.ping()
        metrics = _scrape(metrics_port)
        assert "veil_relay_queues 1" in metrics
        assert "veil_relay_queues_created_total 1" in metrics
        assert "veil_relay_handshakes_completed_total 1" in metrics
    finally:
        assert await relay.stop() == 0
    events = [json.loads(line)["event"] for line in relay.logs().splitlines()]
    assert events[-2:] == ["relay.stopping", "relay.stopped"]


def _scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def test_start_reports_a_busy_port(tmp_path: Path) -> None:
    first = RelayProcess.init(tmp_path / "first")
    await first.start()
    try:
        port = first.address.port
        second = tmp_path / "second"
        assert veil_relay("init", "--data", str(second), "--port", str(port))["exit_code"] == 0
        result = veil_relay("start", "--data", str(second))
        assert result["exit_code"] == 1
        assert result["error"].startswith("cannot start:")
    finally:
        assert await first.stop() == 0
