"""Fixtures for the bot tests: a relay, and Alice and a bot's profile on it, each
with its ``veil serve``, and an example bot running on the bot's profile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.bot_process import BotWorld
from helpers.relay_process import RelayProcess

__all__ = ["log_world", "world"]


@pytest.fixture
async def world(relay: RelayProcess, tmp_path: Path) -> AsyncIterator[BotWorld]:
    """The echo bot's world."""
    started = BotWorld(tmp_path)
    await started.start(relay)
    yield started
    await started.stop()


@pytest.fixture
async def log_world(relay: RelayProcess, tmp_path: Path) -> AsyncIterator[BotWorld]:
    """The log bot's world; its logs go to ``tmp_path/logs``."""
    started = BotWorld(tmp_path, "log_bot", "--log-dir", str(tmp_path / "logs"))
    await started.start(relay)
    yield started
    await started.stop()
