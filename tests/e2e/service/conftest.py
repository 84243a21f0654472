"""Fixtures for the service tests: a relay, two connected CLI users, their services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, connect
from helpers.veil_service import ServiceProcess

__all__ = ["pair", "services"]


@pytest.fixture
async def pair(relay: RelayProcess, tmp_path: Path) -> tuple[VeilUser, VeilUser]:
    """Alice and Bob, initialised on ``relay`` and connected directly (no service yet)."""
    alice, bob = VeilUser(tmp_path / "a", "Alice"), VeilUser(tmp_path / "b", "Bob")
    await alice.init(relay)
    await bob.init(relay)
    await connect(alice, bob)
    return alice, bob


@pytest.fixture
async def services(
    pair: tuple[VeilUser, VeilUser],
) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    """A running ``veil serve`` for Alice and for Bob, killed after the test."""
    started = [ServiceProcess(user) for user in pair]
    for service in started:
        await service.start()
    yield started[0], started[1]
    for service in started:
        await service.kill()
