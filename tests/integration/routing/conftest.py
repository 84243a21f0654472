"""Fixtures: two in-process relays, one acting as the proxy for the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, make_identity, start_test_relay


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[RunningTestRelay, RunningTestRelay]]:
    for name in ("proxy", "destination"):
        (tmp_path / name).mkdir()
        make_identity(tmp_path / name, seed=name.encode())
    proxy = await start_test_relay(tmp_path / "proxy")
    destination = await start_test_relay(tmp_path / "destination")
    yield proxy, destination
    await proxy.stop()
    await destination.stop()
