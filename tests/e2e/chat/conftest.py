"""Fixtures for end-to-end chat tests: a real ``veil-relay`` and ``veil`` CLI users."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, connect


@pytest.fixture
def users(tmp_path: Path) -> dict[str, VeilUser]:
    """Named CLI users with separate homes (created lazily by ``init``)."""
    names = ("Alice", "Bob", "Carol", "Dave", "Mallory")
    return {name: VeilUser(tmp_path / name.lower(), name) for name in names}


@pytest.fixture
async def pair(relay: RelayProcess, users: dict[str, VeilUser]) -> tuple[VeilUser, VeilUser]:
    """Alice and Bob, initialised on ``relay`` and connected through a one-time link."""
    alice, bob = users["Alice"], users["Bob"]
    await alice.init(relay)
    await bob.init(relay)
    await connect(alice, bob)
    return alice, bob
