"""``veil web`` as a real subprocess: the gateway in front of a profile's service."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from helpers.veil_cli import VEIL, VeilUser

START_TIMEOUT = 60.0


class WebProcess:
    """One ``veil web`` for a user whose ``veil serve`` is running."""

    def __init__(self, user: VeilUser) -> None:
        self.user = user
        self.process: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}

    async def start(self) -> dict[str, Any]:
        """Start it and return its ready line: ``url`` (one-time) and ``origin``."""
        self.process = await asyncio.create_subprocess_exec(
            VEIL,
            "web",
            "--home",
            str(self.user.home),
            "--json",
            env=self.user.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), START_TIMEOUT)
        assert line, "veil web printed nothing"
        self.ready = json.loads(line)
        return self.ready

    async def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), START_TIMEOUT)
