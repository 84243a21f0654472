"""The ``veil`` CLI as real subprocesses: one profile per home directory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from helpers.relay_process import RelayProcess

VEIL = str(Path(sys.executable).parent / "veil")
PASSPHRASE = "correct horse battery staple"
COMMAND_TIMEOUT = 120.0


class VeilUser:
    """One ``veil`` profile in its own home directory, driven only through the CLI."""

    def __init__(self, home: Path, name: str) -> None:
        self.home = home
        self.name = name
        self.env = {**os.environ, "VEIL_PASSPHRASE": PASSPHRASE}

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        return [VEIL, *args, "--home", str(self.home), "--json"]

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        """Start a command without waiting for it (to kill it part-way)."""
        return await asyncio.create_subprocess_exec(
            *self._argv(args),
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def run(self, *args: str, ok: bool = True) -> dict[str, Any]:
        """Run a command to completion and return its JSON output."""
        process = await self.start(*args)
        stdout, stderr = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        assert stdout, f"veil {args[0]} printed nothing; stderr: {stderr.decode()}"
        result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
        if ok:
            assert process.returncode == 0, f"veil {args[0]} failed: {result} {stderr.decode()}"
        return result

    async def run_text(self, *args: str) -> str:
        """Run a command without ``--json``; return what a person would read."""
        process = await asyncio.create_subprocess_exec(
            VEIL, *args, "--home", str(self.home), env=self.env, stdout=asyncio.subprocess.PIPE
        )
        stdout, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        return stdout.decode()

    async def init(self, relay: RelayProcess) -> None:
        await self.run("init", "--name", self.name, "--relay", str(relay.address), "--fast-kdf")

    async def receive(self, wait: float = 1.0) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = (await self.run("receive", "--wait", str(wait)))["events"]
        return events

    async def history(self, contact: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = (await self.run("history", contact))["messages"]
        return messages


async def connect(inviter: VeilUser, joiner: VeilUser) -> None:
    """Connect two users through a one-time link, both ending CONNECTED."""
    link = (await inviter.run("invite"))["link"]
    await joiner.run("connect", link)
    await inviter.receive(0.5)
    await joiner.receive(0.5)


async def receive_until(user: VeilUser, count: int) -> list[dict[str, Any]]:
    """Receive until ``count`` events arrived: on a loaded machine one ``receive``
    may end (idle) before the relay delivered, so wait for the events, not a time."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(COMMAND_TIMEOUT):
        while len(events) < count:
            events += await user.receive()
    return events


def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL a CLI process: no chance to finish anything."""
    if process.returncode is None:
        os.kill(process.pid, signal.SIGKILL)
