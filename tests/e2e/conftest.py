"""Fixtures every end-to-end test directory may use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayProcess]:
    """A relay on SQLite in a fresh data directory, stopped after the test."""
    process = RelayProcess.init(tmp_path / "relay")
    await process.start()
    yield process
    if process.process is not None and process.process.returncode is None:
        await process.stop()
