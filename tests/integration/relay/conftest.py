"""Fixtures: an in-process relay on a real TLS socket and clients connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, start_test_relay
from veil.relay.client.relay_client import RelayClient


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RunningTestRelay]:
    running = await start_test_relay(tmp_path)
    yield running
    await running.stop()


@pytest.fixture
async def client(relay: RunningTestRelay) -> AsyncIterator[RelayClient]:
    connected = await RelayClient.connect(relay.address)
    yield connected
    await connected.close()
