"""``veil serve`` as a real subprocess, for the end-to-end service tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from helpers.veil_cli import VEIL, VeilUser

START_TIMEOUT = 60.0


class ServiceProcess:
    """One ``veil serve`` for a user's profile; its stderr goes to a log file."""

    def __init__(self, user: VeilUser, *extra: str) -> None:
        self.user = user
        self.extra = extra
        self.process: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}
        self.log_file = user.home.parent / f"{user.home.name}-serve.log"

    @property
    def home(self) -> Path:
        return self.user.home

    async def _spawn(self) -> asyncio.subprocess.Process:
        with self.log_file.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                VEIL,
                "serve",
                "--home",
                str(self.home),
                "--json",
                *self.extra,
                env=self.user.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )

    async def start(self) -> dict[str, Any]:
        """Start the service and wait for its ready line."""
        self.process = await self._spawn()
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), START_TIMEOUT)
        assert line, f"veil serve printed nothing; see {self.log_file}"
        self.ready = json.loads(line)
        assert "error" not in self.ready, self.ready
        return self.ready

    async def start_expecting_failure(self, kind: str) -> None:
        """Start the service and check it refuses to run with the error ``kind``."""
        self.process = await self._spawn()
        stdout, _ = await asyncio.wait_for(self.process.communicate(), START_TIMEOUT)
        assert self.process.returncode == 1
        assert json.loads(stdout)["kind"] == kind

    async def stop(self) -> int:
        """SIGTERM, and wait for a clean exit; return the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), START_TIMEOUT)

    async def kill(self) -> None:
        """SIGKILL: the service gets no chance to finish anything."""
        assert self.process is not None
        if self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()
