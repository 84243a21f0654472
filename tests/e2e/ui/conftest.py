"""Fixtures for the interface tests: a relay, two profiles, their services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser
from helpers.veil_service import ServiceProcess


@pytest.fixture
async def strangers(relay: RelayProcess, tmp_path: Path) -> tuple[VeilUser, VeilUser]:
    """Alice and Bob, initialised on ``relay`` but not yet connected."""
    alice, bob = VeilUser(tmp_path / "a", "Alice"), VeilUser(tmp_path / "b", "Bob")
    await alice.init(relay)
    await bob.init(relay)
    return alice, bob


@pytest.fixture
async def services(
    strangers: tuple[VeilUser, VeilUser],
) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    """A running ``veil serve`` for Alice and for Bob, stopped after the test."""
    started = [ServiceProcess(user) for user in strangers]
    for service in started:
        await service.start()
    yield started[0], started[1]
    for service in started:
        await service.kill()
